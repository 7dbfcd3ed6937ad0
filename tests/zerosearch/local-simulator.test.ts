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

test('sim tune --augment: swapped copies carry another answer and entity, of the same relation or freshly named, in the question, query, prompt, documents and answers alike', async (t) => {
  const { Rng } = await import('@cohort/engine/rng');
  const { answerSwaps, lookalikeWord, queryParts, simulatorConfigHash } = await import('@cohort/zerosearch');
  t.deepEqual(queryParts('Tuget Foods founder', 'What is the profession of the founder of Tuget Foods?'), { entity: 'Tuget Foods', relation: 'founder' });
  t.deepEqual(queryParts('Kigu Gipes birth year', 'In what year was Kigu Gipes born?'), { entity: 'Kigu Gipes', relation: 'birth year' });
  // A second hop's query names the bridge entity, not the question's: its capitalised words.
  t.deepEqual(queryParts('Keka Tiges profession', 'What is the profession of the founder of Tuget Foods?'), { entity: 'Keka Tiges', relation: 'profession' });
  t.deepEqual(queryParts('Rogdale country', 'In which country was Duse Rekel born?'), { entity: 'Rogdale', relation: 'country' });
  t.is(queryParts('Tuget Foods', 'Who founded Tuget Foods?'), null, 'no relation left');
  t.is(queryParts('founder of it', 'Who founded it?'), null);
  // Lookalike name-words keep a city's or country's suffix and a year's century; company suffixes and lowercase words stay.
  const rng = new Rng(3);
  for (let i = 0; i < 20; i++) {
    t.regex(lookalikeWord('Rogdale', rng)!, /^[A-Z][a-z]+dale$/);
    t.regex(lookalikeWord('Fudstan', rng)!, /^[A-Z][a-z]+stan$/);
    t.regex(lookalikeWord('1916', rng)!, /^19\d\d$/);
    t.regex(lookalikeWord('Fivun', rng)!, /^[A-Z][a-z]{3}n$/);
  }
  for (const w of ['Labs', 'of', 'Republic', 'City', 'painter']) t.is(lookalikeWord(w, rng), null, w);

  t.is(queryParts('Keka Tiges profession', 'What is the profession of the founder of Tuget Foods?', true), null, 'strict: the entity must be in the question');

  const ds = makeDataset({ size: 'tiny', seed: 1, simPairs: 60 });
  const train = ds.simPairs.filter((p) => p.split === 'train');
  t.deepEqual(answerSwaps(train, 0, new Rng(5)), []);
  for (const freshNames of [false, true]) {
  const copies = answerSwaps(train, 3, new Rng(5), { freshNames });
  t.true(copies.length > train.length, `${copies.length} copies of ${train.length} pairs`);
  t.true(copies.length <= 3 * train.length);
  t.deepEqual(answerSwaps(train, 3, new Rng(5), { freshNames }), copies, 'deterministic for a seed');
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
    const relation = (p: { query: string; question: string }) => queryParts(p.query, p.question, !freshNames)?.relation ?? '';
  const trainWords = new Set(train.flatMap((p) => [...p.goldenAnswers, queryParts(p.query, p.question)?.entity ?? ''].join(' ').split(/[^\p{L}\p{N}]+/u)).map((w) => w.toLowerCase()));
  let entitySwaps = 0;
  let usefulWithAnswer = 0;
  let fresh = 0;
  for (const c of copies) {
    const src = train[c.source];
    for (const k of ['question', 'query', 'prompt', 'output'] as const) t.is(c.pair[k], apply(src[k], c.swaps), k);
    t.is(c.pair.mode, src.mode);
    const entity = queryParts(src.query, src.question, !freshNames)?.entity;
    if (c.fresh) {
      // Each name-word of the entity and the answers renamed to a word no tuning pair holds.
      fresh++;
      t.deepEqual(c.pair.goldenAnswers, src.goldenAnswers.map((a) => apply(a, c.swaps)));
      t.notDeepEqual(c.pair.goldenAnswers, src.goldenAnswers);
      for (const [from, to] of c.swaps) {
        const fromAnswer = src.goldenAnswers.some((a) => a.split(' ').includes(from) || a === from);
        t.true(fromAnswer || (entity ?? '').split(' ').includes(from), `${from} is a word of the answer or the entity`);
        const poolSwap = from === src.goldenAnswers[0] && train.some((p) => p.goldenAnswers[0] === to);
        t.true(poolSwap || !trainWords.has(to.toLowerCase()), `${from} -> ${to}: a word of no tuning pair's answer or entity`);
      }
      if (entity && c.swaps.some(([from]) => entity.split(' ').includes(from))) entitySwaps++;
    } else {
      const [[a, b], swappedEntity] = c.swaps;
      t.is(a, src.goldenAnswers[0]);
      t.deepEqual(c.pair.goldenAnswers, [b]);
      t.not(a, b);
      // The new answer is one another pair of the same relation has (of the same shape when the relation has fewer than 3).
      const sameRelation = new Set(train.filter((p) => relation(p) === relation(src)).map((p) => p.goldenAnswers[0]));
      if (sameRelation.size >= 3) t.true(sameRelation.has(b), `${b} answers a "${relation(src)}" query`);
      else t.true(train.some((p) => p.goldenAnswers[0] === b) && /^\d+$/.test(a) === /^\d+$/.test(b), `${a} -> ${b}`);
      if (swappedEntity) {
        entitySwaps++;
        t.is(swappedEntity[0], entity ?? '');
        t.true(train.some((p) => queryParts(p.query, p.question, !freshNames)?.entity === swappedEntity[1] && relation(p) === relation(src)));
        t.true(c.pair.query.startsWith(swappedEntity[1]));
      }
    }
    if (c.pair.mode === 'useful' && c.pair.goldenAnswers.some((g) => c.pair.output.includes(g))) usefulWithAnswer++;
  }
  if (freshNames) t.true(fresh > copies.length / 2 && fresh < copies.length, `${fresh} of ${copies.length} copies freshly named (all but the first of each pair)`);
  else t.is(fresh, 0, 'without freshNames every copy takes another pair\'s names');
  t.true(entitySwaps > copies.length * (freshNames ? 0.8 : 0.5), `${entitySwaps} of ${copies.length} copies swap the entity too`);
  t.true(usefulWithAnswer > copies.length / 4);
  }
  // The option joins the config hash only when set, so earlier simulators keep theirs.
  const o = { steps: 10 };
  t.is(simulatorConfigHash({ ...o, augment: 0 }, train), simulatorConfigHash(o, train));
  t.not(simulatorConfigHash({ ...o, augment: 2 }, train), simulatorConfigHash(o, train));
  t.is(simulatorConfigHash({ ...o, augment: 2, freshNames: false }, train), simulatorConfigHash({ ...o, augment: 2 }, train));
  t.not(simulatorConfigHash({ ...o, augment: 2, freshNames: true }, train), simulatorConfigHash({ ...o, augment: 2 }, train));
});
