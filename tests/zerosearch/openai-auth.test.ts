import test from 'ava';
import { OpenAIClient, WorldSimulator, makeDataset, startOpenAIServer } from '@cohort/zerosearch';

// The simulator server with an API key (as vLLM's --api-key): only /health is open.

const ds = makeDataset({ size: 'tiny', seed: 4 });
const sim = new WorldSimulator(ds.world, {}, ds.corpus);

test('with an API key every route but /health needs the bearer key; the Cohort client sends it', async (t) => {
  const server = await startOpenAIServer({ generator: sim, apiKey: 'sim-key-1' });
  t.teardown(() => server.close());
  t.is((await fetch(`${server.url}/health`)).status, 200);
  const missing = await fetch(`${server.url}/v1/models`);
  t.is(missing.status, 401);
  t.regex(((await missing.json()) as { error: { message: string } }).error.message, /missing API key/);
  t.is((await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  t.is((await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Bearer sim-key-1' } })).status, 200);
  const client = new OpenAIClient({ addresses: [server.url], apiKey: 'sim-key-1', maxRetries: 0 });
  t.is(typeof (await client.complete('hello', { maxTokens: 4, temperature: 0 })), 'string');
});

test('a simulator server bound beyond loopback without an API key does not start', async (t) => {
  await t.throwsAsync(startOpenAIServer({ generator: sim, host: '0.0.0.0', port: 0 }), { message: /binds 0.0.0.0, which other machines reach: give it an API key/ });
});
