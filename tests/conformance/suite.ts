// The runtime's actor semantics, written once and run unchanged against every
// provider (provider.ts): calls and ordering, concurrency, streaming, binary
// payloads, object refs, handles, errors, spawn validation, GPU ids,
// placement groups, logs, collectives, restarts, retries and ownership.
// One runtime per file; the cases run in order (the fault cases last: they
// crash and kill actors).
import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  ActorDiedError,
  ActorNotFoundError,
  InfeasibleError,
  InvalidOptionsError,
  MessageTooLargeError,
  RemoteError,
  SerializationError,
  STREAM_WINDOW,
  UnknownMethodError,
  createCollectiveGroup,
  type ActorEvent,
  type ActorHandle,
  type Runtime,
} from '@cohort/runtime';
import { BrokenActor, CounterActor, MissingActor, WorkerActor, type Counter, type Worker } from '../runtime/fixtures/actors.js';
import { CollectiveMemberActor, roundValue, type CollectiveMember } from '../runtime/fixtures/collective-actors.js';
import { maxDiff, mean, rand } from '../helpers/float-arrays.js';
import { until } from '../helpers/until.js';
import { MAX_MESSAGE_BYTES, type Provider, type ProviderRuntime } from './provider.js';

/** Registers every conformance case of this file against `provider`. */
export function conformanceSuite(provider: Provider): void {
  let pr: ProviderRuntime;
  let rt: Runtime;
  let counter: ActorHandle<Counter>;
  let worker: ActorHandle<Worker>;
  let conc: ActorHandle<Worker>;
  let members: ActorHandle<CollectiveMember>[];
  const logLines: string[] = [];
  const events: ActorEvent[] = [];
  const started = Date.now();

  test.before(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    pr = await provider.start({ logger: pino({ level: 'info' }, sink) });
    rt = pr.rt;
    rt.onActorEvent((e) => events.push(e));
    [counter, worker, conc] = await Promise.all([
      rt.spawn(CounterActor, [10], { name: 'counter' }),
      rt.spawn(WorkerActor, [], { name: 'worker' }),
      rt.spawn(WorkerActor, [], { maxConcurrency: 3 }),
    ]);
    await Promise.all([counter.$ready(), worker.$ready(), conc.$ready()]);
  });

  test.after.always(async () => {
    await pr?.stop();
    process.stderr.write(`conformance (${provider.name}): ${((Date.now() - started) / 1000).toFixed(1)} s, start-up and shutdown included\n`);
  });

  // ------------------------------------------------------------ calls

  test.serial("calls return values and keep actor state; one caller's calls run in order", async (t) => {
    t.is(await counter.add(5), 15);
    const refs = Array.from({ length: 500 }, () => counter.add(1));
    const values = await rt.get(refs);
    t.deepEqual(values, Array.from({ length: 500 }, (_, i) => 16 + i));
    t.is(await counter.get(), 515);
  });

  test.serial('fire-and-forget calls run before later calls from the same caller', async (t) => {
    const before = await counter.get();
    counter.$tell('add', 7);
    t.is(await counter.get(), before + 7);
  });

  test.serial('a sequential actor runs one call at a time; maxConcurrency lets async calls overlap', async (t) => {
    const seq = await Promise.all([worker.track(30), worker.track(30), worker.track(30)]);
    t.is(Math.max(...seq), 1);
    const par = await Promise.all(Array.from({ length: 6 }, () => conc.track(80)));
    t.is(Math.max(...par), 3);
  });

  test.serial('streaming methods: items in order, backpressure, cancellation', async (t) => {
    const got: number[] = [];
    for await (const x of worker.ticks(40)) got.push(x);
    t.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));

    const before = await worker.stats();
    const it = worker.ticks(1000)[Symbol.asyncIterator]();
    t.deepEqual(await it.next(), { value: 0, done: false });
    await new Promise((r) => setTimeout(r, 300));
    const mid = await worker.stats();
    // The generator may run at most the window ahead of the consumer.
    t.true(mid.produced - before.produced <= STREAM_WINDOW + 1, `produced ${mid.produced - before.produced}`);
    await it.return!();
    t.true(await until(async () => (await worker.stats()).finished === before.finished + 1, 5000), 'the generator was closed (its finally ran)');
    const after = await worker.stats();
    t.true(after.produced - before.produced < 1000);

    await t.throwsAsync(async () => await worker.ticks(3), { message: /streaming method.*for await/ });
    await t.throwsAsync(async () => {
      for await (const _ of counter.get() as unknown as AsyncIterable<number>) void _;
    }, { message: /not a streaming method/ });
  });

  test.serial('binary payloads keep their type, inline and over the bulk path', async (t) => {
    const small = new Float32Array([1, 2, 3.5]);
    t.deepEqual(await counter.sum(small), { len: 3, sum: 6.5, type: 'Float32Array' });
    const big = new Float32Array(1 << 20).fill(0.5); // 4 MiB: bulk path
    t.deepEqual(await counter.sum(big), { len: 1 << 20, sum: (1 << 20) * 0.5, type: 'Float32Array' });
    const buf = Buffer.alloc(3 << 20, 9);
    const echoed = (await counter.echo({ a: buf, nested: [new Uint8Array([1, 2]), 'x'] })) as { a: Buffer; nested: unknown[] };
    t.true(Buffer.isBuffer(echoed.a));
    t.true(echoed.a.equals(buf));
    t.deepEqual([...(echoed.nested[0] as Uint8Array)], [1, 2]);
    const back = await worker.big(1 << 19);
    t.true(back instanceof Float32Array);
    t.is(back.length, 1 << 19);
    t.is(back[12345], 2);
  });

  test.serial('object refs: put/get, top-level refs resolved before the call, nested refs fetched by the actor, wait', async (t) => {
    const r = rt.put([1, 2, 3, 4]);
    t.deepEqual(await rt.get(r), [1, 2, 3, 4]);
    t.is(await worker.deref({ ref: r }), 10);
    const n = rt.put(5);
    t.is(await worker.plus(n, 2), 7);
    const callRef = worker.plus(20, 1);
    t.is(await worker.plus(callRef, 1), 22, 'a call result passed as an argument');
    const slow = conc.track(1500);
    const fast = worker.plus(1, 1);
    const { ready, notReady } = await rt.wait([slow, fast], { numReturns: 1 });
    t.deepEqual(ready, [fast]);
    t.deepEqual(notReady, [slow]);
    await slow;
  });

  test.serial('handles are serializable: an actor calls another through a handle argument, and by name', async (t) => {
    const before = await counter.get();
    const h2 = await rt.spawn(CounterActor, [100]);
    t.is(await counter.callOther(h2, 5), 105);
    t.is(await h2.get(), 105);
    await h2.$kill();
    t.is(await worker.viaName('counter', 3), before + 3);
    const h = await rt.getActor<Counter>('counter');
    t.is(await h.get(), before + 3);
    await t.throwsAsync(rt.getActor('nobody'), { instanceOf: ActorNotFoundError });
  });

  // ------------------------------------------------------------ errors

  test.serial('errors name the problem: user exceptions, unknown methods, unserializable values, oversized messages', async (t) => {
    const e1 = await t.throwsAsync(counter.fail('boom'), { instanceOf: RemoteError });
    t.regex(e1!.message, /counter\.fail: TypeError: boom/);
    t.is((e1 as RemoteError).remoteName, 'TypeError');
    const e2 = await t.throwsAsync((counter as unknown as { nope(): Promise<void> }).nope(), { instanceOf: UnknownMethodError });
    t.regex(e2!.message, /Counter has no method "nope" \(methods: .*add/);
    const e3 = await t.throwsAsync(counter.echo({ f: () => 1 } as unknown as number), { instanceOf: SerializationError });
    t.regex(e3!.message, /value\.0\.f is a function/);
    await t.throwsAsync(counter.fn(), { instanceOf: SerializationError, message: /result of Counter\.fn/ });
    const e4 = await t.throwsAsync(counter.echo('x'.repeat(2 << 20)), { instanceOf: MessageTooLargeError });
    t.regex(e4!.message, new RegExp(`${MAX_MESSAGE_BYTES}-byte message limit.*maxMessageBytes`));
    t.is(await counter.add(0), await counter.get(), 'the actor still works');
  });

  test.serial('spawn validates options at once; a demand no node can hold is refused or pending as the provider says', async (t) => {
    const e1 = await t.throwsAsync(rt.spawn(CounterActor, [], { maxRestarts: 1.5 }), { instanceOf: InvalidOptionsError });
    t.regex(e1!.message, /maxRestarts/);
    const e2 = await t.throwsAsync(rt.spawn(CounterActor, [], { colour: 'red' } as never), { instanceOf: InvalidOptionsError });
    t.regex(e2!.message, /colour/);
    const e4 = await t.throwsAsync(rt.spawn(CounterActor, [], { spread: true, nodeAffinity: { nodeId: 'x' } }), { instanceOf: InvalidOptionsError });
    t.regex(e4!.message, /choose one of placementGroup, nodeAffinity, spread/);
    const e3 = await t.throwsAsync(rt.spawn(CounterActor, [], { name: 'counter' }), { instanceOf: InvalidOptionsError });
    t.regex(e3!.message, /already exists/);
    const same = await rt.spawn(CounterActor, [], { name: 'counter', getIfExists: true });
    t.is(same.$id, counter.$id);
    await t.throwsAsync(rt.spawn(CounterActor, [() => 1] as never), { instanceOf: SerializationError });

    const never: Array<[Parameters<Runtime['spawn']>[2], RegExp]> = [
      [{ resources: { GPU: 8 } }, /GPU/],
      [{ resources: { custom: { tpu: 1 } } }, /tpu/],
      [{ nodeAffinity: { nodeId: 'elsewhere' } }, /soft: true/],
    ];
    for (const [opts, why] of never) {
      if (provider.infeasible === 'throws') {
        await t.throwsAsync(rt.spawn(CounterActor, [], opts), { instanceOf: InfeasibleError, message: why });
        continue;
      }
      const h = await rt.spawn(CounterActor, [], opts);
      t.true(await until(async () => (await rt.pending()).some((p) => p.id === h.$id && /^infeasible: /.test(p.reason) && why.test(p.reason)), 5000), `pending as infeasible: ${JSON.stringify(opts)}`);
      await h.$kill();
    }
  });

  test.serial('unknown class or a throwing constructor: the actor dies with the cause', async (t) => {
    const [missing, broken] = await Promise.all([rt.spawn(MissingActor, []), rt.spawn(BrokenActor, [])]);
    const e1 = await t.throwsAsync(missing.$ready(), { instanceOf: ActorDiedError });
    t.regex(e1!.message, /no exported class "DoesNotExist" \(exported classes\/functions: .*Counter/);
    const e2 = await t.throwsAsync(broken.$ready(), { instanceOf: ActorDiedError });
    t.regex(e2!.message, /constructor failed: .*constructor exploded/);
    await t.throwsAsync(missing.get(), { instanceOf: ActorDiedError });
  });

  // ------------------------------------------------------------ resources and placement

  test.serial('GPU ids: two 0.5-GPU actors on one node share a device, a whole-GPU actor gets another; pending says why', async (t) => {
    const a = await rt.spawn(CounterActor, [], { resources: { GPU: 0.5 } });
    const ea = await a.env();
    const b = await rt.spawn(CounterActor, [], { resources: { GPU: 0.5 }, nodeAffinity: { nodeId: ea.node } });
    const c = await rt.spawn(CounterActor, [], { resources: { GPU: 1 } });
    const [eb, ec] = await Promise.all([b.env(), c.env()]);
    t.is(eb.node, ea.node);
    t.is(ea.cuda, eb.cuda, 'best fit: the second share goes on the partly used device');
    t.is(ea.device, ea.cuda);
    t.deepEqual(ea.gpuIds, [Number(ea.cuda)]);
    t.notDeepEqual([ec.node, ec.cuda], [ea.node, ea.cuda], 'a whole GPU is never a partly used device');
    const d = await rt.spawn(CounterActor, [42], { resources: { GPU: 1 } });
    t.true(await until(async () => (await rt.pending()).some((p) => p.id === d.$id && /GPU/.test(p.reason)), 5000));
    await c.$kill();
    t.is(await d.get(), 42, 'the pending actor started once the GPU was free');
    const ed = await d.env();
    t.deepEqual([ed.node, ed.cuda], [ec.node, ec.cuda]);
    await Promise.all([a.$kill(), b.$kill(), d.$kill()]);
  });

  test.serial('placement groups: ready() after gang reservation, actors run in their bundle, removal kills them', async (t) => {
    const pg = await rt.createPlacementGroup({ bundles: [{ GPU: 1 }, { GPU: 1 }], strategy: 'PACK' });
    const st = await pg.ready();
    t.is(st.state, 'created');
    const inB1 = await rt.spawn(CounterActor, [], { placementGroup: pg, bundleIndex: 1, resources: { GPU: 1 } });
    const env = await inB1.env();
    t.deepEqual(env.gpuIds, st.bundleGpuIds![1]);
    t.is(env.node, st.bundleNodes![1]);
    await pg.remove();
    const err = await t.throwsAsync(inB1.get(), { instanceOf: ActorDiedError });
    t.regex(err!.message, /placement group .* removed/);
    await t.throwsAsync(rt.createPlacementGroup({ bundles: [] }), { instanceOf: InvalidOptionsError });
  });

  test.serial('actor context and logs: worker log lines reach the driver logger under the actor name', async (t) => {
    const env = await counter.env();
    t.is(env.name, 'counter');
    await worker.log('hello from inside');
    t.true(await until(() => logLines.some((l) => l.includes('hello from inside')), 5000));
    const o = JSON.parse(logLines.find((l) => l.includes('hello from inside'))!) as { actor: string; tag: string; level: number };
    t.is(o.actor, 'worker');
    t.is(o.tag, 'from-actor');
    t.is(o.level, 30);
  });

  // ------------------------------------------------------------ collectives

  test.serial('collectives: members learn their rank, world size and peers', async (t) => {
    members = await Promise.all([0, 1, 2, 3].map(() => rt.spawn(CollectiveMemberActor, [], { resources: { CPU: 0.5 } })));
    await createCollectiveGroup(rt, { name: 'four', members });
    await createCollectiveGroup(rt, { name: 'three', members: members.slice(0, 3), timeoutMs: 20_000 });
    await createCollectiveGroup(rt, { name: 'two', members: [members[3], members[1]] });
    await createCollectiveGroup(rt, { name: 'one', members: [members[2]] });
    t.deepEqual(await Promise.all(members.map((m) => m.info('four'))), [0, 1, 2, 3].map((rank) => ({ rank, world: 4, peers: 4 })));
    t.deepEqual(await members[1].info('two'), { rank: 1, world: 2, peers: 2 });
    await t.throwsAsync(members[3].info('three'), { message: /not a member of collective group "three" \(its groups: .*"four".*\); form it in the driver/ });
  });

  test.serial('collectives: allreduce mean of named arrays across 4 worker processes (one over the bulk path) equals the elementwise mean, bit-identical on every rank', async (t) => {
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

  test.serial('collectives: allreduce sum with W=3 and W=2 on odd lengths, W=1 returns its input, in place', async (t) => {
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

  test.serial('collectives: back-to-back bulk allreduces reuse pooled receive buffers without mixing rounds', async (t) => {
    const n = 100_003; // chunks of ~100 KB: bulk path, received into pooled buffers given back after each step
    const rounds = 4;
    const outs = await Promise.all(members.map((m) => m.allreduceRounds('four', n, rounds)));
    for (let r = 0; r < rounds; r++) {
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) want[i] = roundValue(r, 0, i) + roundValue(r, 1, i) + roundValue(r, 2, i) + roundValue(r, 3, i);
      for (let rank = 0; rank < 4; rank++) t.deepEqual(outs[rank][r], want, `round ${r}, rank ${rank}`);
    }
  });

  test.serial('collectives: reduceScatter gives each member its shard of the sum, bit-identical to the allreduce; allgatherChunks puts every shard everywhere; gather collects at the root', async (t) => {
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

  test.serial('collectives: broadcast, allgather and barrier', async (t) => {
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

  test.serial('collectives: mismatched sizes fail with a clear CollectiveMismatchError', async (t) => {
    await createCollectiveGroup(rt, { name: 'mismatch', members: members.slice(0, 2), timeoutMs: 5000 });
    const res = await Promise.allSettled([members[0].allreduceMap('mismatch', new Map([['w', rand(4, 1)]]), 'sum'), members[1].allreduceMap('mismatch', new Map([['w', rand(5, 1)]]), 'sum')]);
    const errs = res.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as RemoteError);
    t.true(errs.length >= 1);
    t.true(errs.some((e) => e.remoteName === 'CollectiveMismatchError' && /other names, sizes or options .*rank \d has w:[45]/.test(e.message)), errs.map((e) => e.message).join('\n'));
  });

  test.serial('collectives: a killed member makes the others fail with a typed error within the timeout, not hang', async (t) => {
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
    await Promise.all(members.map((m) => m.$kill()));
  });

  // ------------------------------------------------------------ faults

  test.serial('a crash fails in-flight calls with ActorDiedError, restarts the actor (constructor re-run), then it dies for good', async (t) => {
    const c = await rt.spawn(CounterActor, [100], { name: 'crashy', maxRestarts: 1 });
    t.is(await c.add(5), 105);
    const err = await t.throwsAsync(Promise.all([c.crash(3), c.slowAdd(1, 5000)]), { instanceOf: ActorDiedError });
    t.regex(err!.message, /actor "crashy" \(.*\) died: worker process \d+ on node \S+ ended \(exit code 3\).*maxTaskRetries is 0/);
    t.is(await c.get(), 100, 'the constructor ran again: state is not restored');
    t.true(await until(() => events.some((e) => e.type === 'restarting' && e.actorId === c.$id && /exit code 3/.test(e.cause ?? ''))));
    await t.throwsAsync(c.crash(4).then(() => c.slowAdd(1, 5000)), { instanceOf: ActorDiedError });
    const err2 = await t.throwsAsync(c.get(), { instanceOf: ActorDiedError });
    t.regex(err2!.message, /no restarts left \(maxRestarts=1\)/);
    t.true(await until(() => events.some((e) => e.type === 'died' && e.actorId === c.$id)));
    t.is((await c.$info())!.state, 'dead');
  });

  test.serial('maxTaskRetries re-sends in-flight calls in order to the restarted actor', async (t) => {
    const w = await rt.spawn(WorkerActor, [], { maxRestarts: 2, maxTaskRetries: 3 });
    await w.incarnation();
    const results = await Promise.all([w.plus(1, 1), w.crashOnFirstLife(), w.plus(2, 2), w.incarnation()]);
    t.deepEqual(results, [2, 1, 4, 1]);
  });

  test.serial('killing an owner ends its owned actors but not detached ones; kill() fails later calls', async (t) => {
    const parent = await rt.spawn(WorkerActor, []);
    const { owned, detached } = await parent.spawnChildren();
    const o = await rt.getActor<Counter>('owned-child');
    const d = await rt.getActor<Counter>('detached-child');
    t.is(o.$id, owned);
    t.is(d.$id, detached);
    await parent.$kill();
    const err = await t.throwsAsync(parent.plus(1, 1), { instanceOf: ActorDiedError });
    t.regex(err!.message, /killed by kill\(\)/);
    const err2 = await t.throwsAsync(o.get(), { instanceOf: ActorDiedError });
    t.regex(err2!.message, /its owner .* died/);
    t.is(await d.get(), 2, 'the detached actor lives on');
    await d.$kill();
  });

  test.serial("an owner inside an actor observes its actors' failures", async (t) => {
    const owner = await rt.spawn(WorkerActor, []);
    const seen = await owner.childCrashEvents();
    t.true(seen.some((l) => /^died: worker process \d+ on node \S+ ended \(exit code 7\)/.test(l)), seen.join(' | '));
  });
}
