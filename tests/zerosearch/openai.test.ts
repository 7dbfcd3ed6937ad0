import test from 'ava';
import { closedPort } from './helpers.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { OpenAIClient, SimulatorSearchEngine, SimulatorUnavailableError, WorldSimulator, makeDataset, simulatorPrompt, startOpenAIServer } from '@cohort/zerosearch';

const ds = makeDataset({ size: 'tiny', seed: 4 });
const sim = new WorldSimulator(ds.world, {}, ds.corpus);
const q = ds.test[0];
const prompt = simulatorPrompt({ query: q.steps[0].query, mode: 'useful', question: q.question, goldenAnswers: q.goldenAnswers });

test('the official openai client talks to the server: chat, completions, models, errors', async (t) => {
  const server = await startOpenAIServer({ generator: sim, modelName: 'cohort-sim' });
  t.teardown(() => server.close());
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const chat = await client.chat.completions.create({ model: 'cohort-sim', messages: [{ role: 'user', content: prompt }], max_tokens: 600, temperature: 0.8 });
  const text = chat.choices[0].message.content ?? '';
  t.is(text, sim.respond(prompt));
  t.regex(text, /^Doc 1: /);
  t.true(text.includes(q.steps[0].answer));
  t.is(chat.object, 'chat.completion');
  const comp = await client.completions.create({ model: 'cohort-sim', prompt: [prompt, prompt.replace('Useful Output:', 'Noisy Output:')], max_tokens: 600 });
  t.is(comp.choices.length, 2);
  t.is(comp.choices[0].text, text);
  t.false(comp.choices[1].text.includes(q.goldenAnswers[0]));
  const models = await client.models.list();
  t.deepEqual(models.data.map((m) => m.id), ['cohort-sim']);
  const bad = await t.throwsAsync(client.chat.completions.create({ model: 'x', messages: [] }));
  t.true(bad instanceof OpenAI.BadRequestError);
  t.regex(bad!.message, /messages must hold at least one message/);
  const stream = await t.throwsAsync(client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], temperature: 5 }));
  t.regex(stream!.message, /temperature/);
  const health = (await fetch(`${server.url}/health`).then((r) => r.json())) as { status: string };
  t.is(health.status, 'ok');
  const missing = await fetch(`${server.url}/v1/nope`);
  t.is(missing.status, 404);
  t.regex(((await missing.json()) as { error: { message: string } }).error.message, /no route/);
});

test('Cohort client: round-robin over addresses, retries past a dead one, serves the simulator engine', async (t) => {
  const a = await startOpenAIServer({ generator: sim });
  const b = await startOpenAIServer({ generator: sim });
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined));
  const client = new OpenAIClient({ addresses: [a.url, b.url], maxRetries: 0 });
  const engine = new SimulatorSearchEngine({ generator: client, curriculum: { mode: 'fixed', prompt: 'useful' } });
  const reqs = ds.test.slice(0, 4).map((x) => ({ query: x.steps[0].query, question: x.question, goldenAnswers: x.goldenAnswers }));
  const res = await engine.search(reqs);
  res.forEach((r, i) => {
    t.is(r.docs.length, 5);
    t.true(r.text.includes(ds.test[i].steps[0].answer));
  });
  t.is(a.stats.requests, 2);
  t.is(b.stats.requests, 2);
  // A dead first address: the retry goes to the live one and is counted.
  const dead = new OpenAIClient({ addresses: [`http://127.0.0.1:${await closedPort()}`, a.url], maxRetries: 2, backoffMs: 1 });
  const [out] = await dead.generate([prompt], { maxTokens: 600, temperature: 0.8 });
  t.regex(out, /^Doc 1:/);
  t.is(dead.metrics.retries, 1);
  t.is(dead.metrics.succeeded, 1);
});

test('Cohort client: timeouts and bounded retries end in a clear error', async (t) => {
  const hung: Server = createServer(() => {
    /* never answers */
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => (hung.closeAllConnections(), hung.close(() => r()))));
  const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
  const client = new OpenAIClient({ addresses: [url], timeoutMs: 150, maxRetries: 2, backoffMs: 1 });
  const err = await t.throwsAsync(client.generate(['x'], { maxTokens: 5, temperature: 0 }));
  t.true(err instanceof SimulatorUnavailableError);
  t.regex(err!.message, /after 3 attempt\(s\).*timed out after 150 ms/);
  t.like(client.metrics, { attempts: 3, timeouts: 3, retries: 2, failed: 1, succeeded: 0 });
  // A 4xx is not retried.
  const server = await startOpenAIServer({ generator: sim });
  t.teardown(() => server.close());
  const c2 = new OpenAIClient({ addresses: [server.url], endpoint: 'completions', maxRetries: 3 });
  await t.throwsAsync(c2.post('/completions', { prompt: 5 }), { message: /simulator rejected the request \(HTTP 400: .*prompt/ });
  t.is(c2.metrics.attempts, 1);
  t.throws(() => new OpenAIClient({ addresses: [] }), { message: /at least one server address/ });
});
