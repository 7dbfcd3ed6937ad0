// simulator.backend corpus: RL against the real engine (BM25 over the world's corpus) through the same actor.
import test from 'ava';
import { CorpusSearchEngine, makeCorpus, makeDataset, makeWorld, WORLD_SIZES } from '@cohort/zerosearch';
import { SimulatorActor } from '../../actors/src/index.js';

test('a corpus-backed SimulatorActor answers as BM25 over the same world does, whatever the mode', async (t) => {
  const ds = makeDataset({ size: 'tiny', seed: 4 });
  const actor = new SimulatorActor({ index: 0, backend: { kind: 'corpus', world: { size: 'tiny', seed: 4 }, topk: 3 }, batching: { maxBatch: 4, maxWaitMs: 1 } });
  await actor.ready();
  const qs = ds.train.slice(0, 6).map((q, i) => ({ query: q.steps[0].query, mode: i % 2 ? ('noisy' as const) : ('useful' as const), question: q.question, goldenAnswers: q.goldenAnswers }));
  const got = await actor.search(qs);
  const world = makeWorld({ ...WORLD_SIZES.tiny, seed: 4 });
  const direct = await new CorpusSearchEngine(makeCorpus(world, { docsPerEntity: 3, seed: 4 }), { topk: 3 }).search(qs.map((q) => ({ query: q.query })));
  t.deepEqual(got.map((r) => r.docs), direct.map((r) => r.docs));
  t.true(got.every((r) => r.docs.length === 3));
  const s = actor.stats();
  t.is(s.requests, 6);
  t.deepEqual([s.useful, s.noisy], [0, 0]);
  await actor.close();
});
