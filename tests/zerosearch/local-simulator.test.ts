import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { LocalModelGenerator, SimulatorSearchEngine, makeDataset, readTuneReport, startOpenAIServer, tuneSimulator } from '@cohort/zerosearch';

test('sim tune: a tiny local simulator trains, saves, reloads and serves over the OpenAI API', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zs-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ds = makeDataset({ size: 'tiny', seed: 1, simPairs: 40 });
  const losses: number[] = [];
  const report = await tuneSimulator(
    ds.simPairs,
    { outDir: dir, steps: 6, batchSize: 4, lr: 1e-2, warmupSteps: 0, hiddenSize: 32, layers: 1, heads: 2, vocabSize: 320, evalPairs: 2, evalMaxTokens: 12, threads: 1 },
    { onStep: (_, l) => losses.push(l) },
  );
  t.is(losses.length, 6);
  t.true(report.lastLoss < report.firstLoss, `${report.firstLoss} -> ${report.lastLoss}`);
  t.truthy(report.fidelity);
  t.is(report.fidelity!.pairs, 2);
  t.deepEqual((await readdir(dir)).filter((f) => ['config.json', 'model.safetensors', 'tokenizer.json', 'tune.json'].includes(f)).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tune.json']);
  t.is(readTuneReport(dir)!.steps, 6);

  const gen = LocalModelGenerator.load(dir, { threads: 1 });
  const prompt = ds.simPairs[0].prompt;
  const [a] = await gen.generate([prompt], { maxTokens: 10, temperature: 0 });
  const [b] = await gen.generate([prompt], { maxTokens: 10, temperature: 0 });
  t.is(a, b);

  const server = await startOpenAIServer({ generator: gen, modelName: 'tiny-sim' });
  t.teardown(() => server.close());
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const chat = await client.chat.completions.create({ model: 'tiny-sim', messages: [{ role: 'user', content: prompt }], max_tokens: 10, temperature: 0 });
  t.is(chat.choices[0].message.content, a);
  // The search engine over the local model keeps the question attached and reports the mode.
  const engine = new SimulatorSearchEngine({ generator: gen, maxTokens: 8, curriculum: { mode: 'fixed', prompt: 'noisy' } });
  const [r] = await engine.search([{ query: ds.simPairs[0].query, question: ds.simPairs[0].question, goldenAnswers: ds.simPairs[0].goldenAnswers }]);
  t.is(r.mode, 'noisy');
  t.is(engine.metrics.failures, 0);
  t.throws(() => LocalModelGenerator.load(join(dir, 'nope')), { message: /lacks config\.json/ });
});
