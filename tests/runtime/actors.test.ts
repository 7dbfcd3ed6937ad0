import test from 'ava';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import {
  init,
  ActorDiedError,
  ActorNotFoundError,
  InvalidOptionsError,
  RemoteError,
  UnknownMethodError,
  SerializationError,
  MessageTooLargeError,
  InfeasibleError,
  STREAM_WINDOW,
  type Runtime,
  type ActorHandle,
} from '@cohort/runtime';
import { CounterActor, WorkerActor, BrokenActor, MissingActor, type Counter, type Worker } from './fixtures/actors.js';

let rt: Runtime;
let counter: ActorHandle<Counter>;
let worker: ActorHandle<Worker>;
let conc: ActorHandle<Worker>;
const logLines: string[] = [];

test.before(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  rt = await init({ logger: pino({ level: 'info' }, sink), resources: { CPU: 8, GPU: 2 }, maxMessageBytes: 1 << 20 });
  [counter, worker, conc] = await Promise.all([
    rt.spawn(CounterActor, [10], { name: 'counter' }),
    rt.spawn(WorkerActor, [], { name: 'worker' }),
    rt.spawn(WorkerActor, [], { maxConcurrency: 3 }),
  ]);
  await Promise.all([counter.$ready(), worker.$ready(), conc.$ready()]);
});

test.after.always(async () => {
  await rt?.shutdown();
});

test.serial('calls return values and keep actor state; one caller\'s calls run in order', async (t) => {
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
  await new Promise((r) => setTimeout(r, 100));
  const after = await worker.stats();
  t.is(after.finished, before.finished + 1, 'the generator was closed (its finally ran)');
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
  t.regex(e4!.message, /1048576-byte message limit.*maxMessageBytes/);
  t.is(await counter.add(0), await counter.get(), 'the actor still works');
});

test.serial('spawn validates options and resources at once', async (t) => {
  const e1 = await t.throwsAsync(rt.spawn(CounterActor, [], { maxRestarts: 1.5 }), { instanceOf: InvalidOptionsError });
  t.regex(e1!.message, /maxRestarts/);
  const e2 = await t.throwsAsync(rt.spawn(CounterActor, [], { colour: 'red' } as never), { instanceOf: InvalidOptionsError });
  t.regex(e2!.message, /colour/);
  await t.throwsAsync(rt.spawn(CounterActor, [], { resources: { GPU: 8 } }), { instanceOf: InfeasibleError });
  await t.throwsAsync(rt.spawn(CounterActor, [], { resources: { custom: { tpu: 1 } } }), { instanceOf: InfeasibleError, message: /tpu/ });
  await t.throwsAsync(rt.spawn(CounterActor, [], { nodeAffinity: { nodeId: 'elsewhere' } }), { instanceOf: InfeasibleError, message: /soft: true/ });
  const e4 = await t.throwsAsync(rt.spawn(CounterActor, [], { spread: true, nodeAffinity: { nodeId: 'local' } }), { instanceOf: InvalidOptionsError });
  t.regex(e4!.message, /choose one of placementGroup, nodeAffinity, spread/);
  const e3 = await t.throwsAsync(rt.spawn(CounterActor, [], { name: 'counter' }), { instanceOf: InvalidOptionsError });
  t.regex(e3!.message, /already exists/);
  const same = await rt.spawn(CounterActor, [], { name: 'counter', getIfExists: true });
  t.is(same.$id, counter.$id);
  await t.throwsAsync(rt.spawn(CounterActor, [() => 1] as never), { instanceOf: SerializationError });
});

test.serial('unknown class or a throwing constructor: the actor dies with the cause', async (t) => {
  const [missing, broken] = await Promise.all([rt.spawn(MissingActor, []), rt.spawn(BrokenActor, [])]);
  const e1 = await t.throwsAsync(missing.$ready(), { instanceOf: ActorDiedError });
  t.regex(e1!.message, /no exported class "DoesNotExist" \(exported classes\/functions: .*Counter/);
  const e2 = await t.throwsAsync(broken.$ready(), { instanceOf: ActorDiedError });
  t.regex(e2!.message, /constructor failed: .*constructor exploded/);
  await t.throwsAsync(missing.get(), { instanceOf: ActorDiedError });
});

test.serial('GPU ids: two 0.5-GPU actors share a device, a whole-GPU actor gets the other; pending says why', async (t) => {
  const [a, b, c] = await Promise.all([
    rt.spawn(CounterActor, [], { resources: { GPU: 0.5 } }),
    rt.spawn(CounterActor, [], { resources: { GPU: 0.5 } }),
    rt.spawn(CounterActor, [], { resources: { GPU: 1 } }),
  ]);
  const [ea, eb, ec] = await Promise.all([a.env(), b.env(), c.env()]);
  t.is(ea.cuda, eb.cuda);
  t.is(ea.device, ea.cuda);
  t.deepEqual(ea.gpuIds, [Number(ea.cuda)]);
  t.not(ec.cuda, ea.cuda);
  t.deepEqual(new Set([ea.cuda, ec.cuda]), new Set(['0', '1']));
  const d = await rt.spawn(CounterActor, [42], { resources: { GPU: 1 } });
  const pending = await rt.pending();
  const entry = pending.find((p) => p.id === d.$id);
  t.truthy(entry);
  t.regex(entry!.reason, /GPU/);
  await c.$kill();
  t.is(await d.get(), 42, 'the pending actor started once the GPU was free');
  t.is((await d.env()).cuda, ec.cuda);
  await Promise.all([a.$kill(), b.$kill(), d.$kill()]);
});

test.serial('placement groups: ready() after gang reservation, actors in bundles, removal kills them', async (t) => {
  const pg = await rt.createPlacementGroup({ bundles: [{ GPU: 1 }, { GPU: 1 }], strategy: 'STRICT_PACK' });
  const st = await pg.ready();
  t.is(st.state, 'created');
  const inB1 = await rt.spawn(CounterActor, [], { placementGroup: pg, bundleIndex: 1, resources: { GPU: 1 } });
  const env = await inB1.env();
  t.deepEqual(env.gpuIds, st.bundleGpuIds![1]);
  await pg.remove();
  const err = await t.throwsAsync(inB1.get(), { instanceOf: ActorDiedError });
  t.regex(err!.message, /placement group .* removed/);
  await t.throwsAsync(rt.createPlacementGroup({ bundles: [] }), { instanceOf: InvalidOptionsError });
});

test.serial('actor context and logs: worker log lines reach the driver logger under the actor name', async (t) => {
  const env = await counter.env();
  t.is(env.name, 'counter');
  await worker.log('hello from inside');
  for (let i = 0; i < 50 && !logLines.some((l) => l.includes('hello from inside')); i++) await new Promise((r) => setTimeout(r, 50));
  const line = logLines.find((l) => l.includes('hello from inside'));
  t.truthy(line);
  const o = JSON.parse(line!) as { actor: string; tag: string; level: number };
  t.is(o.actor, 'worker');
  t.is(o.tag, 'from-actor');
  t.is(o.level, 30);
});
