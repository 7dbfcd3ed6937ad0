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

test('sim tune --augment: swapped copies carry another answer and entity of the same relation, in the question, query, prompt and documents alike', async (t) => {
  const { Rng } = await import('@cohort/engine/rng');
  const { answerSwaps, queryParts, simulatorConfigHash } = await import('@cohort/zerosearch');
  t.deepEqual(queryParts('Tuget Foods founder', 'What is the profession of the founder of Tuget Foods?'), { entity: 'Tuget Foods', relation: 'founder' });
  t.deepEqual(queryParts('Kigu Gipes birth year', 'In what year was Kigu Gipes born?'), { entity: 'Kigu Gipes', relation: 'birth year' });
  t.is(queryParts('Keka Tiges profession', 'What is the profession of the founder of Tuget Foods?'), null);
  const ds = makeDataset({ size: 'tiny', seed: 1, simPairs: 60 });
  const train = ds.simPairs.filter((p) => p.split === 'train');
  const copies = answerSwaps(train, 2, new Rng(5));
  t.true(copies.length > train.length, `${copies.length} copies of ${train.length} pairs`);
  t.true(copies.length <= 2 * train.length);
  t.deepEqual(answerSwaps(train, 2, new Rng(5)), copies, 'deterministic for a seed');
  t.deepEqual(answerSwaps(train, 0, new Rng(5)), []);
  // Independent re-application: mark each whole-word occurrence of a swapped string in the source, then substitute.
  const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  const apply = (text: string, swaps: ReadonlyArray<readonly [string, string]>) => {
    let out = '';
    for (let i = 0; i < text.length; ) {
      const hit = [...swaps].sort((x, y) => y[0].length - x[0].length).find(([from]) => text.startsWith(from, i) && !isWordChar(text[i - 1]) && !isWordChar(text[i + from.length]));
      if (hit) {
        out += hit[1];
        i += hit[0].length;
      } else out += text[i++];
    }
    return out;
  };
  const relation = (p: { query: string; question: string }) => queryParts(p.query, p.question)?.relation;
  let entitySwaps = 0;
  let usefulWithAnswer = 0;
  for (const c of copies) {
    const src = train[c.source];
    const [[a, b], entity] = c.swaps;
    t.is(a, src.goldenAnswers[0]);
    t.deepEqual(c.pair.goldenAnswers, [b]);
    t.not(a, b);
    // The new answer is one another pair of the same relation has (of the same shape when the relation has fewer than 3).
    const sameRelation = new Set(train.filter((p) => relation(p) === relation(src)).map((p) => p.goldenAnswers[0]));
    if (sameRelation.size >= 3) t.true(sameRelation.has(b), `${b} answers a "${relation(src)}" query`);
    else t.true(train.some((p) => p.goldenAnswers[0] === b) && /^\d+$/.test(a) === /^\d+$/.test(b), `${a} -> ${b}`);
    for (const k of ['question', 'query', 'prompt', 'output'] as const) t.is(c.pair[k], apply(src[k], c.swaps), k);
    t.is(c.pair.mode, src.mode);
    if (entity) {
      entitySwaps++;
      t.is(entity[0], queryParts(src.query, src.question)!.entity);
      t.true(train.some((p) => queryParts(p.query, p.question)?.entity === entity[1] && relation(p) === relation(src)));
      t.true(c.pair.query.startsWith(entity[1]));
    }
    if (c.pair.mode === 'useful' && c.pair.output.includes(b)) usefulWithAnswer++;
  }
  t.true(entitySwaps > copies.length / 2, `${entitySwaps} of ${copies.length} copies swap the entity too`);
  t.true(usefulWithAnswer > 0);
  // The option joins the config hash only when set, so earlier simulators keep theirs.
  const o = { steps: 10 };
  t.is(simulatorConfigHash({ ...o, augment: 0 }, train), simulatorConfigHash(o, train));
  t.not(simulatorConfigHash({ ...o, augment: 2 }, train), simulatorConfigHash(o, train));
});
