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

test('sim tune --augment: answer-swapped copies carry another answer of the same shape, in the prompt and the documents alike', async (t) => {
  const { Rng } = await import('@cohort/engine/rng');
  const { answerSwaps, simulatorConfigHash } = await import('@cohort/zerosearch');
  const ds = makeDataset({ size: 'tiny', seed: 1, simPairs: 60 });
  const train = ds.simPairs.filter((p) => p.split === 'train');
  const copies = answerSwaps(train, 2, new Rng(5));
  t.true(copies.length > train.length, `${copies.length} copies of ${train.length} pairs`);
  t.true(copies.length <= 2 * train.length);
  t.deepEqual(answerSwaps(train, 2, new Rng(5)), copies, 'deterministic for a seed');
  t.deepEqual(answerSwaps(train, 0, new Rng(5)), []);
  const word = (x: string, flags = 'u') => new RegExp(`(?<![\\p{L}\\p{N}])${x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, flags);
  const blank = (text: string, answer: string) => text.replace(word(answer, 'gu'), '\u0000');
  const answers = new Set(train.map((p) => p.goldenAnswers[0]));
  let usefulWithAnswer = 0;
  for (const c of copies) {
    const from = train.find((p) => p.query === c.query && p.mode === c.mode && p.output.length > 0 && c.prompt.length > 0 && p.goldenAnswers[0] !== c.goldenAnswers[0] && blank(blank(p.prompt, p.goldenAnswers[0]), c.goldenAnswers[0]) === blank(c.prompt, c.goldenAnswers[0]))!;
    t.truthy(from, `a copy of a tuning pair: ${c.query}`);
    const [a, b] = [from.goldenAnswers[0], c.goldenAnswers[0]];
    t.true(answers.has(b), 'the new answer is another pair\'s answer');
    t.is(/^\d+$/.test(a), /^\d+$/.test(b), `same shape: ${a} -> ${b}`);
    t.false(word(a).test(c.prompt), `${a} is gone from the prompt`);
    t.true(word(b).test(c.prompt));
    // The documents carry the new answer exactly where the old one stood.
    t.is(blank(c.output, b), blank(blank(from.output, a), b), c.query);
    if (c.mode === 'useful' && word(b).test(c.output)) usefulWithAnswer++;
  }
  t.true(usefulWithAnswer > 0);
  // The option joins the config hash only when set, so earlier simulators keep theirs.
  const o = { steps: 10 };
  t.is(simulatorConfigHash({ ...o, augment: 0 }, train), simulatorConfigHash(o, train));
  t.not(simulatorConfigHash({ ...o, augment: 2 }, train), simulatorConfigHash(o, train));
});
