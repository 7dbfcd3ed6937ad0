import test from 'ava';
import { init, type Runtime } from '@cohort/runtime';
import { makeDataset, type SearchRequest } from '@cohort/zerosearch';
import { DynamicBatcher, SIMULATOR_MAX_CONCURRENCY, SimulatorActorClass, SimulatorPool } from '../../actors/src/index.js';

test('dynamic batcher: concurrent requests share batches up to maxBatch, each gets its own result', async (t) => {
  const seen: number[][] = [];
  const b = new DynamicBatcher<number, string>(async (batch) => {
    seen.push([...batch]);
    await new Promise((r) => setImmediate(r));
    return batch.map((x) => `r${x}`);
  }, { maxBatch: 4, maxWaitMs: 50 });
  const out = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i)));
  t.deepEqual(out, Array.from({ length: 10 }, (_, i) => `r${i}`));
  // 4 go at once (full), 6 queue during that call; the next call takes 4, then 2.
  t.deepEqual(seen, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  t.deepEqual(b.stats.sizes, [4, 4, 2]);
  // A lone request still goes out (after the wait).
  t.is(await b.submit(42), 'r42');
});

test('dynamic batcher: a failing backend rejects the whole batch; a wrong result count is an error; close rejects', async (t) => {
  const failing = new DynamicBatcher<number, number>(async () => {
    throw new Error('backend down');
  }, { maxBatch: 2, maxWaitMs: 0 });
  await t.throwsAsync(failing.submitAll([1, 2]), { message: 'backend down' });
  t.is(failing.stats.failed, 2);
  const short = new DynamicBatcher<number, number>(async () => [1], { maxBatch: 2, maxWaitMs: 60_000 });
  await t.throwsAsync(Promise.all([short.submit(1), short.submit(2)]), { message: /returned 1 results for 2 requests/ });
  const closing = new DynamicBatcher<number, number>(async (x) => x, { maxBatch: 8, maxWaitMs: 60_000 });
  const pending = closing.submit(1);
  closing.close();
  await t.throwsAsync(pending, { message: /closed before the request was sent/ });
  await t.throwsAsync(closing.submit(2), { message: /is closed/ });
  t.throws(() => new DynamicBatcher(async (x) => x, { maxBatch: 0, maxWaitMs: 1 }), { message: /maxBatch must be an integer >= 1/ });
});

test('simulator actors in worker processes: batched, load-balanced, each answer uses its own question', async (t) => {
  const rt: Runtime = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  t.teardown(() => rt.shutdown());
  const ds = makeDataset({ size: 'tiny', seed: 11 });
  const spec = (index: number) => ({
    index,
    backend: { kind: 'template' as const, world: { size: 'tiny' as const, seed: 11 } },
    seed: 3,
    batching: { maxBatch: 8, maxWaitMs: 20 },
  });
  const actors = await Promise.all([0, 1].map((i) => rt.spawn(SimulatorActorClass, [spec(i)], { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: SIMULATOR_MAX_CONCURRENCY })));
  const pool = new SimulatorPool(actors);
  // Single-hop questions with distinct answers; alternate useful and noisy.
  const items = ds.train.filter((q) => q.steps.length === 1).slice(0, 12);
  t.true(items.length >= 8);
  const requests: SearchRequest[] = items.map((q, i) => ({
    query: q.steps[0].query,
    question: q.question,
    goldenAnswers: q.goldenAnswers,
    trajectoryId: `0:${i}#0`,
    mode: i % 2 === 0 ? 'useful' : 'noisy',
  }));
  // Concurrent callers, a few requests each, as several rollouts would send them.
  const chunks = [0, 3, 6, 9].map((s) => requests.slice(s, s + 3));
  const results = (await Promise.all(chunks.map((c) => pool.search(c)))).flat();
  t.is(results.length, requests.length);
  results.forEach((r, i) => {
    t.is(r.mode, requests[i].mode);
    t.is(r.docs.length, 5);
    const gold = items[i].goldenAnswers[0].toLowerCase();
    // Useful documents state this question's own answer; noisy ones never do.
    if (requests[i].mode === 'useful') t.true(r.text.toLowerCase().includes(gold), `useful result ${i} lacks "${gold}"`);
    else t.false(r.text.toLowerCase().includes(gold), `noisy result ${i} leaks "${gold}"`);
  });
  t.true(pool.sent.every((n) => n > 0), `both actors got requests: ${pool.sent}`);
  const stats = await Promise.all(actors.map((a) => a.stats()));
  t.is(stats.reduce((s, x) => s + x.requests, 0), requests.length);
  t.true(stats.some((s) => s.maxBatch > 1), 'concurrent requests were batched');
  // Many callers sending one request each: the actor merges concurrent calls into batches.
  await Promise.all(actors.map((a) => a.resetStats()));
  await Promise.all(requests.map((r) => actors[0].search([r])));
  t.true((await actors[0].stats()).maxBatch > 1, 'single-request calls from concurrent callers were batched');
  await t.throwsAsync(actors[0].search([{ query: 'x' }]), { message: /mode is missing/ });
});
