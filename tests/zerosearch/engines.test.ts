import test from 'ava';
import { Rng } from '@cohort/engine';
import { closedPort } from './helpers.js';
import {
  Bm25Index,
  CorpusSearchEngine,
  NO_INFORMATION,
  Curriculum,
  OpenAIClient,
  SimulatorSearchEngine,
  WorldSimulator,
  curriculumNoiseP,
  fidelityCheck,
  makeDataset,
  parseSimulatorPrompt,
  processSimulatorOutput,
  simulatorPrompt,
  guessRelation,
  simulatorFormatOk,
  type Relation,
} from '@cohort/zerosearch';
import { FACT_SENTENCES, INVERSE_SENTENCES, fill } from '../../zerosearch/src/phrasing.js';

const ds = makeDataset({ size: 'tiny', seed: 3 });

test('BM25 inverted index: postings, idf ordering and length normalisation', (t) => {
  const idx = new Bm25Index(['red apple pie', 'green apple', 'red red car', 'blue sky over the sea and the hills far away'], { k1: 1.2, b: 0.75 });
  t.is(idx.docFreq('apple'), 2);
  t.is(idx.docFreq('red'), 2);
  t.is(idx.docFreq('the'), 0); // stopword
  const hits = idx.search('red car', 4);
  t.is(hits[0].doc, 2); // both terms, red twice
  t.deepEqual(hits.map((h) => h.doc).sort(), [0, 2]);
  // The shorter document wins on an equal single term match.
  t.is(idx.search('apple', 2)[0].doc, 1);
  t.deepEqual(idx.search('nothing matches', 5), []);
  t.throws(() => new Bm25Index([], { b: 2 }), { message: /0 <= b <= 1/ });
});

test('corpus engine: top-5 documents formatted Doc 1..Doc 5, and it finds the needed fact', async (t) => {
  const engine = new CorpusSearchEngine(ds.corpus);
  const [r] = await engine.search([{ query: ds.test[0].steps[0].query }]);
  t.is(r.docs.length, 5);
  t.deepEqual(r.text.split('\n').map((l) => l.slice(0, 6)), ['Doc 1:', 'Doc 2:', 'Doc 3:', 'Doc 4:', 'Doc 5:']);
  let found = 0;
  const hops = [...ds.train, ...ds.test].flatMap((q) => q.steps);
  for (const s of hops) if (engine.retrieve(s.query).some((d) => d.facts.includes(s.fact))) found++;
  t.true(found / hops.length > 0.9, `recall@5 ${found}/${hops.length}`);
  await t.throwsAsync(engine.search([{ query: '   ' }]), { message: /search request 0: query: search query is empty/ });
});

test('curriculum follows Eq. 1 exactly; random mode keeps p fixed; one draw per call', (t) => {
  const m = 200;
  for (const i of [0, 1, 50, 100, 199, 200]) {
    const expected = 0.1 + ((Math.pow(4, i / m) - 1) / 3) * (0.5 - 0.1);
    t.is(curriculumNoiseP(i, m, 0.1, 0.5), expected);
  }
  t.is(curriculumNoiseP(m, m, 0, 0.5), 0.5);
  t.is(curriculumNoiseP(0, m, 0.25, 0.5), 0.25);
  t.true(curriculumNoiseP(100, m, 0, 0.5) < 0.25); // convex: below the straight line
  t.is(curriculumNoiseP(10, 20, 0, 1, 2), Math.SQRT2 - 1);
  t.throws(() => curriculumNoiseP(1, 10, 0, 0.5, 1), { message: /base must be > 0 and not 1/ });
  t.throws(() => curriculumNoiseP(1, 0, 0, 0.5), { message: /total steps/ });
  const random = new Curriculum({ mode: 'random', p: 0.3 });
  t.is(random.p(0), 0.3);
  t.is(random.p(500), 0.3);
  const rng = new Rng(1);
  const draws = Array.from({ length: 4000 }, () => random.draw(7, rng));
  const noisy = draws.filter((d) => d === 'noisy').length / draws.length;
  t.true(noisy > 0.26 && noisy < 0.34, `${noisy}`);
  t.throws(() => new Curriculum({ mode: 'curriculum' }, 0), { message: /mode "curriculum" needs the run's total steps/ });
  t.throws(() => new Curriculum({ mode: 'curriculum', base: 1 }, 10), { message: /base: curriculum.base must not be 1/ });
  t.throws(() => new Curriculum({ mode: 'curriculum', start: 0 } as never, 10), { message: /bad curriculum: .*start/ });
  // The train config's block, as is: Eq. 1 over the run's steps.
  const eq1 = new Curriculum({ mode: 'curriculum', ps: 0.1, pe: 0.5, base: 3 }, 5);
  t.is(eq1.p(2), curriculumNoiseP(2, 5, 0.1, 0.5, 3));
  t.is(eq1.p(9), 0.5);
  t.is(new Curriculum({ mode: 'fixed', prompt: 'noisy' }).p(3), 1);
});

test('simulator prompt: SFT shape round-trips; prompt-based noisy omits the question', (t) => {
  const p = simulatorPrompt({ query: 'Mara Kello birthplace', mode: 'useful', question: 'Where was Mara Kello born?', goldenAnswers: ['Velport', 'Velport City'] });
  t.regex(p, /\nQuery: Mara Kello birthplace\nUseful Output:$/);
  t.deepEqual(parseSimulatorPrompt(p), { query: 'Mara Kello birthplace', mode: 'useful', question: 'Where was Mara Kello born?', answers: ['Velport', 'Velport City'] });
  const noisy = simulatorPrompt({ query: 'q', mode: 'noisy', question: 'Where?', goldenAnswers: ['X'], demos: ['d1', 'd2'] }, 'prompt');
  t.false(noisy.includes('Where?'));
  t.regex(noisy, /Example 2: d2/);
  t.regex(noisy, /Noisy Output:$/);
  const out = processSimulatorOutput('Doc 1: a\n\n\nDoc 2: b\nDoc 6: extra\nDoc 7: more');
  t.deepEqual(out, { text: 'Doc 1: a\nDoc 2: b', docs: ['a', 'b'] });
});

test('world simulator: useful documents carry the gold answer, noisy ones never (fidelity check)', async (t) => {
  const sim = new WorldSimulator(ds.world, {}, ds.corpus);
  const evalPairs = ds.simPairs.filter((p) => p.split === 'eval');
  t.true(evalPairs.length >= 10);
  const entityNames = (q: string) => sim.entitiesIn(q).slice(0, 1).flatMap((e) => [e.name, ...e.aliases]);
  const report = await fidelityCheck(new SimulatorSearchEngine({ generator: sim, temperature: 0 }), evalPairs, { entityNames });
  t.true(report.useful_answer_rate > 0.9, JSON.stringify(report));
  t.is(report.noisy_answer_rate, 0);
  t.is(report.mean_docs, 5);
  t.is(report.format_ok_rate, 1);
  t.true(report.entity_rate > 0.9, JSON.stringify(report));
  t.is(report.useful_pairs + report.noisy_pairs, evalPairs.length);
  // BM25 on the same queries: no modes, so every search counts as useful.
  const bm25 = await fidelityCheck(new CorpusSearchEngine(ds.corpus), evalPairs.filter((p) => p.mode === 'useful'), { entityNames });
  t.is(bm25.noisy_pairs, 0);
  t.true(bm25.useful_answer_rate > 0 && bm25.useful_answer_rate <= 1, JSON.stringify(bm25));
  // Deterministic per prompt.
  t.is(sim.respond(evalPairs[0].prompt), sim.respond(evalPairs[0].prompt));
});

test('simulator engine: one curriculum draw per search call, from the request step', async (t) => {
  const engine = new SimulatorSearchEngine({ generator: new WorldSimulator(ds.world, {}, ds.corpus), curriculum: { mode: 'curriculum', ps: 0, pe: 1 }, totalSteps: 10, seed: 3 });
  const reqs = (step: number) => Array.from({ length: 60 }, (_, i) => ({ query: ds.test[i % ds.test.length].steps[0].query, step }));
  const early = await engine.search(reqs(0));
  t.true(early.every((r) => r.mode === 'useful')); // p_0 = start = 0
  const late = await engine.search(reqs(10));
  t.true(late.every((r) => r.mode === 'noisy')); // p_m = end = 1
  const mid = await engine.search(reqs(5));
  const noisy = mid.filter((r) => r.mode === 'noisy').length;
  t.true(noisy > 5 && noisy < 40, `${noisy}`); // p_5 = 1/3: a mix within one batch
  t.is(engine.metrics.searches, 180);
  t.is(engine.metrics.noisy, 60 + noisy);
});

test('simulator engine: failures are counted, fall back to "No information available" or throw', async (t) => {
  // A real client pointed at a port nothing listens on.
  const client = new OpenAIClient({ addresses: [`http://127.0.0.1:${await closedPort()}`], maxRetries: 1, backoffMs: 1, timeoutMs: 2000 });
  const engine = new SimulatorSearchEngine({ generator: client, curriculum: { mode: 'fixed', prompt: 'noisy' } });
  const res = await engine.search([{ query: 'a' }, { query: 'b', mode: 'useful' }]);
  t.is(res[0].text, NO_INFORMATION);
  t.is(res[0].mode, 'noisy');
  t.is(res[1].mode, 'useful');
  t.regex(res[0].error!, /unreachable after 2 attempt.*ECONNREFUSED/);
  t.like(engine.metrics, { searches: 2, failures: 2, fallbacks: 2, noisy: 1, useful: 1 });
  t.is(client.metrics.failed, 2); // each search tried once (+1 retry), never re-sent as a whole batch
  t.is(client.metrics.attempts, 4);
  const strict = new SimulatorSearchEngine({ generator: client, onFailure: 'throw' });
  await t.throwsAsync(strict.search([{ query: 'c' }]), { message: /simulator search failed for query "c"/ });
  t.is(strict.metrics.failures, 1);
});

test('simulator output format: exactly Doc 1..Doc N in order, none empty; trailing text belongs to the last', (t) => {
  const five = 'Doc 1: a\nDoc 2: b\nDoc 3: c\nDoc 4: d\nDoc 5: e';
  t.true(simulatorFormatOk(five));
  t.true(simulatorFormatOk(`${five} and more\ntrailing words`));
  t.true(simulatorFormatOk(processSimulatorOutput(`${five}\nDoc 6: f`).text));
  t.false(simulatorFormatOk('Doc 1: a\nDoc 2: b\nDoc 3: c\nDoc 4: d'));
  t.false(simulatorFormatOk('Doc 1: a\nDoc 3: b\nDoc 3: c\nDoc 4: d\nDoc 5: e'));
  t.false(simulatorFormatOk('Doc 1: a\nDoc 2:\nDoc 3: c\nDoc 4: d\nDoc 5: e'));
  t.false(simulatorFormatOk(`intro\n${five}`));
  t.true(simulatorFormatOk('Doc 1: a\nDoc 2: b', 2));
});

test('world simulator: five short documents; noisy ones never state a fact of the asked relation', (t) => {
  const sim = new WorldSimulator(ds.world, {}, ds.corpus);
  // Every sentence that states a fact of a relation, in every phrasing.
  const statements = (rel: Relation) =>
    ds.world.facts
      .filter((f) => f.relation === rel)
      .flatMap((f) => [...FACT_SENTENCES[rel], ...(INVERSE_SENTENCES[rel] ?? [])].map((p) => fill(p, { s: ds.world.entity(f.subject).name, o: ds.world.objectName(f) })));
  let checked = 0;
  for (const p of ds.simPairs.slice(0, 60)) {
    const { text, docs } = processSimulatorOutput(sim.respond(p.prompt));
    t.true(simulatorFormatOk(text), text);
    for (const d of docs) t.true(d.split(/\s+/).length <= 24, d);
    const rel = guessRelation(p.query);
    if (p.mode === 'noisy' && rel) {
      checked++;
      t.false(docs.some((d) => d.includes(p.goldenAnswers[0])), text);
      const stated = statements(rel);
      t.false(docs.some((d) => stated.some((x) => d.includes(x))), `${p.query}: ${text}`);
    }
  }
  t.true(checked >= 10, `${checked}`);
});
