import test from 'ava';
import { init, createCollectiveGroup, RemoteError, type ActorHandle, type Runtime } from '@cohort/runtime';
import { chunkBounds, ringAllreduce } from '../../runtime/src/collective/ring-allreduce.js';
import { CollectiveMemberActor, roundValue, type CollectiveMember } from './fixtures/collective-actors.js';

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function mean(xs: Float32Array[]): Float64Array {
  const out = new Float64Array(xs[0].length);
  for (const x of xs) for (let i = 0; i < x.length; i++) out[i] += x[i] / xs.length;
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('chunkBounds covers any length with W chunks differing by at most one', (t) => {
  for (const [n, w] of [[10, 3], [2, 3], [0, 4], [7, 1], [100001, 4]]) {
    const b = chunkBounds(n, w);
    t.is(b.length, w + 1);
    t.is(b[0], 0);
    t.is(b[w], n);
    const sizes = b.slice(1).map((x, i) => x - b[i]);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, `${n}/${w}: ${sizes}`);
  }
});

test('ringAllreduce over an in-process ring: sum and mean for W=1..4 and lengths not divisible by W, identical on every rank', async (t) => {
  for (const w of [1, 2, 3, 4]) {
    for (const n of [1, 2, 5, 13, 1000]) {
      const inputs = Array.from({ length: w }, (_, r) => rand(n, 17 * w + n + r));
      const want = mean(inputs);
      // Mailboxes between neighbours: what rank r sent at step s is read by rank r+1.
      const sent = new Map<string, { resolve: (a: Float32Array) => void; p: Promise<Float32Array> }>();
      const slot = (k: string) => {
        let e = sent.get(k);
        if (!e) {
          let resolve!: (a: Float32Array) => void;
          const p = new Promise<Float32Array>((r) => (resolve = r));
          e = { resolve, p };
          sent.set(k, e);
        }
        return e;
      };
      const outs = await Promise.all(
        inputs.map((x, r) =>
          ringAllreduce(x.slice(), r, w, 'mean', async (step, chunk) => {
            slot(`${r}/${step}`).resolve(chunk.slice());
            return slot(`${(r - 1 + w) % w}/${step}`).p;
          }),
        ),
      );
      t.true(maxDiff(outs[0], want) < 1e-6, `W=${w} n=${n}`);
      for (const o of outs) t.deepEqual(o, outs[0]);
    }
  }
});

let rt: Runtime;
let members: ActorHandle<CollectiveMember>[];

test.before(async () => {
  rt = await init({ logLevel: 'silent', resources: { CPU: 4 } });
  members = await Promise.all([0, 1, 2, 3].map(() => rt.spawn(CollectiveMemberActor, [], { resources: { CPU: 0.5 } })));
  await createCollectiveGroup(rt, { name: 'four', members });
  await createCollectiveGroup(rt, { name: 'three', members: members.slice(0, 3), timeoutMs: 20_000 });
  await createCollectiveGroup(rt, { name: 'two', members: [members[3], members[1]] });
  await createCollectiveGroup(rt, { name: 'one', members: [members[2]] });
});

test.after.always(async () => {
  await rt?.shutdown();
});

test.serial('members learn their rank, world size and peers', async (t) => {
  t.deepEqual(await Promise.all(members.map((m) => m.info('four'))), [0, 1, 2, 3].map((rank) => ({ rank, world: 4, peers: 4 })));
  t.deepEqual(await members[1].info('two'), { rank: 1, world: 2, peers: 2 });
  await t.throwsAsync(members[3].info('three'), { message: /not a member of collective group "three" \(its groups: .*"four".*\); form it in the driver/ });
});

test.serial('allreduce mean of named arrays across 4 worker processes (one over the bulk path) equals the elementwise mean, bit-identical on every rank', async (t) => {
  const n = 70_001; // ~280 KB: the ring chunks go over the bulk TCP path
  const inputs = [0, 1, 2, 3].map((r) => new Map([['big', rand(n, 100 + r)], ['bias', rand(3, 200 + r)]]));
  const outs = await Promise.all(members.map((m, r) => m.allreduceMap('four', inputs[r], 'mean')));
  for (const name of ['big', 'bias']) {
    const want = mean(inputs.map((x) => x.get(name)!));
    t.true(maxDiff(outs[0].out.get(name)!, want) < 1e-6, name);
    for (const o of outs) t.deepEqual(o.out.get(name), outs[0].out.get(name), `${name} identical`);
  }
  // Ring traffic: each rank sends 2(W-1)/W of the data.
  const bytes = (n + 3) * 4;
  for (const o of outs) t.true(Math.abs(o.bytes - (2 * 3 * bytes) / 4) <= 64, `sent ${o.bytes}`);
});

test.serial('allreduce sum with W=3 and W=2 on odd lengths, W=1 returns its input', async (t) => {
  for (const n of [11, 2]) {
    const inputs = [0, 1, 2].map((r) => rand(n, 300 + r + n));
    const outs = await Promise.all(members.slice(0, 3).map((m, r) => m.allreduce('three', inputs[r], 'sum')));
    const want = mean(inputs).map((x) => x * 3);
    t.true(maxDiff(outs[0], want) < 1e-5, `n=${n}`);
    t.deepEqual(outs[1], outs[0]);
    t.deepEqual(outs[2], outs[0]);
  }
  const a = rand(9, 1);
  const b = rand(9, 2);
  const two = await Promise.all([members[3].allreduce('two', a, 'mean'), members[1].allreduce('two', b, 'mean')]);
  t.true(maxDiff(two[0], mean([a, b])) < 1e-6);
  t.deepEqual(await members[2].allreduce('one', a, 'sum'), a);
  // In place: the member's own array holds the result.
  const c = rand(9, 3);
  const inPlace = await Promise.all([members[3].allreduceInPlace('two', a), members[1].allreduceInPlace('two', c)]);
  t.true(inPlace.every((x) => x.same));
  t.deepEqual(inPlace[0].out, inPlace[1].out);
  t.true(maxDiff(inPlace[0].out, mean([a, c])) < 1e-6);
});

test.serial('back-to-back bulk allreduces reuse pooled receive buffers without mixing rounds: every round sums its own inputs', async (t) => {
  const n = 100_003; // chunks of ~100 KB: bulk path, received into pooled buffers given back after each step
  const rounds = 4;
  const outs = await Promise.all(members.map((m) => m.allreduceRounds('four', n, rounds)));
  for (let r = 0; r < rounds; r++) {
    const want = new Float32Array(n);
    for (let i = 0; i < n; i++) want[i] = roundValue(r, 0, i) + roundValue(r, 1, i) + roundValue(r, 2, i) + roundValue(r, 3, i);
    for (let rank = 0; rank < 4; rank++) t.deepEqual(outs[rank][r], want, `round ${r}, rank ${rank}`);
  }
});

test.serial('reduceScatter gives each member its shard of the sum, bit-identical to the allreduce; allgatherChunks puts every shard everywhere; gather collects at the root', async (t) => {
  for (const [group, w, n] of [['four', 4, 70_001], ['three', 3, 13], ['two', 2, 5], ['one', 1, 7]] as const) {
    const ms = group === 'four' ? members : group === 'three' ? members.slice(0, 3) : group === 'two' ? [members[3], members[1]] : [members[2]];
    const inputs = Array.from({ length: w }, (_, r) => rand(n, 500 + r + n));
    const full = await Promise.all(ms.map((m, r) => m.allreduce(group, inputs[r], 'sum')));
    const rs = await Promise.all(ms.map((m, r) => m.reduceScatter(group, inputs[r], 'sum')));
    // The shards tile [0, n) (chunk rank+1 on rank r) and equal the allreduce's values bit for bit.
    const covered = rs.map((x) => x.range).sort((a, b) => a[0] - b[0]);
    t.is(covered[0][0], 0);
    t.is(covered[w - 1][1], n);
    for (let k = 1; k < w; k++) t.is(covered[k][0], covered[k - 1][1]);
    for (const x of rs) t.deepEqual(x.chunk, full[0].subarray(x.range[0], x.range[1]), `${group}: shard ${x.range}`);
    // Each member sends (W-1)/W of the data: half an allreduce.
    if (w > 1) for (const x of rs) t.true(Math.abs(x.sent - ((w - 1) * n * 4) / w) <= 64, `${group}: sent ${x.sent}`);
    const gathered = await Promise.all(ms.map((m) => m.allgatherChunks(group, n)));
    for (const g of gathered) t.deepEqual(g, gathered[0]);
    t.false(gathered[0].some(Number.isNaN), `${group}: every element filled`);
    for (const x of rs) {
      const owner = rs.indexOf(x);
      t.is(gathered[0][x.range[0]], Math.fround(owner + 1 + x.range[0] / n));
    }
  }
  const mean4 = await Promise.all(members.map((m, r) => m.reduceScatter('four', rand(10, 900 + r), 'mean')));
  const want = mean([0, 1, 2, 3].map((r) => rand(10, 900 + r)));
  for (const x of mean4) t.true(maxDiff(x.chunk, want.subarray(x.range[0], x.range[1])) < 1e-6);
  const g = await Promise.all(members.map((m, r) => m.gather('four', { r, w: rand(3, r) }, 1)));
  t.deepEqual(g[1], [0, 1, 2, 3].map((r) => ({ r, w: rand(3, r) })));
  t.is(g[0], undefined);
  t.is(g[3], undefined);
});

test.serial('broadcast, allgather and barrier', async (t) => {
  const big = rand(40_000, 9);
  const got = await Promise.all(members.map((m, r) => m.broadcast('four', r === 2 ? { step: 7, w: big } : null, 2)));
  for (const g of got) t.deepEqual(g, { step: 7, w: big });
  const all = await Promise.all(members.map((m, r) => m.allgather('four', { rank: r, name: `m${r}` })));
  for (const a of all) t.deepEqual(a, [0, 1, 2, 3].map((r) => ({ rank: r, name: `m${r}` })));
  // The barrier holds everyone until the slowest (600 ms late) member arrives.
  const t0 = Date.now();
  const left = await Promise.all(members.map((m, r) => m.barrier('four', r === 3 ? 600 : 0)));
  for (const l of left) t.true(l - t0 >= 550, `left after ${l - t0} ms`);
});

test.serial('mismatched sizes fail with a clear CollectiveMismatchError', async (t) => {
  await createCollectiveGroup(rt, { name: 'mismatch', members: members.slice(0, 2), timeoutMs: 5000 });
  const res = await Promise.allSettled([members[0].allreduceMap('mismatch', new Map([['w', rand(4, 1)]]), 'sum'), members[1].allreduceMap('mismatch', new Map([['w', rand(5, 1)]]), 'sum')]);
  const errs = res.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as RemoteError);
  t.true(errs.length >= 1);
  t.true(errs.some((e) => e.remoteName === 'CollectiveMismatchError' && /other names, sizes or options .*rank \d has w:[45]/.test(e.message)), errs.map((e) => e.message).join('\n'));
});

test.serial('a killed member makes the others fail with a typed error within the timeout, not hang', async (t) => {
  await createCollectiveGroup(rt, { name: 'dying', members: members.slice(0, 3), timeoutMs: 1500 });
  await members[2].$kill();
  const t0 = Date.now();
  const res = await Promise.allSettled(members.slice(0, 2).map((m, r) => m.allreduce('dying', rand(100, r), 'sum')));
  const ms = Date.now() - t0;
  t.true(ms < 6000, `took ${ms} ms`);
  for (const r of res) {
    t.is(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason as RemoteError;
    t.true(e.remoteName === 'CollectivePeerError' || e.remoteName === 'CollectiveTimeoutError', `${e.remoteName}: ${e.message}`);
    t.regex(e.message, /allreduce #0 of group "dying"/);
  }
});
