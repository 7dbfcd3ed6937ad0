import test from 'ava';
import { pino } from 'pino';
import { init, ActorDiedError, InvalidOptionsError } from '@cohort/runtime';
import { ProbeActor } from './fixtures/pool-actors.js';

const quiet = () => pino({ level: 'silent' });

test('pooled workers: actors go to workers booted before the spawn, which take the GPU ids and env before the actor module loads; NODE_OPTIONS gets a fresh process', async (t) => {
  const rt = await init({ logger: quiet(), resources: { CPU: 8, GPU: 2 }, workerPool: { prestart: 2 } });
  t.teardown(() => rt.shutdown());
  const t0 = Date.now();
  const [a, b] = await Promise.all([rt.spawn(ProbeActor, [], { resources: { GPU: 1 } }), rt.spawn(ProbeActor, [], { env: { PROBE: 'from-spawn' } })]);
  const [ia, ib] = await Promise.all([a.info(), b.info()]);
  t.true(ia.processStartedAt < t0 && ib.processStartedAt < t0, 'both workers were booted by the pool before spawn()');
  t.not(ia.pid, ib.pid);
  const gpu = (await a.$info())!.gpuIds;
  t.is(gpu.length, 1);
  t.is(ia.cudaAtConstruct, String(gpu[0]), 'CUDA_VISIBLE_DEVICES was set before the actor module was imported');
  t.is(ib.probeEnvAtConstruct, 'from-spawn');
  // a start-up variable cannot reach a booted process: that actor gets its own fresh one
  const t1 = Date.now();
  const c = await rt.spawn(ProbeActor, [], { env: { NODE_OPTIONS: '--max-old-space-size=96' } });
  const ic = await c.info();
  t.true(ic.processStartedAt >= t1 - 50, 'a fresh process');
  t.true(ic.heapLimitMiB < 200, `NODE_OPTIONS applied (heap limit ${ic.heapLimitMiB.toFixed(0)} MiB)`);
  // the pool refilled in the background: a later actor again finds a booted worker
  const t2 = Date.now();
  const d = await rt.spawn(ProbeActor, []);
  t.true((await d.info()).processStartedAt < t2);
});

test('pool off (prestart 0): each actor boots its own process after spawn()', async (t) => {
  const rt = await init({ logger: quiet(), resources: { CPU: 8 }, workerPool: { prestart: 0 } });
  t.teardown(() => rt.shutdown());
  const t0 = Date.now();
  const a = await rt.spawn(ProbeActor, []);
  t.true((await a.info()).processStartedAt >= t0 - 50);
});

test("shared processes: lightweight actors share workers (sharedActorsPerProcess), keep their own state and context; kill ends one, a crash ends its process's actors", async (t) => {
  const rt = await init({ logger: quiet(), resources: { CPU: 64 }, workerPool: { prestart: 0, sharedActorsPerProcess: 4 } });
  t.teardown(() => rt.shutdown());
  const hs = await Promise.all(Array.from({ length: 10 }, () => rt.spawn(ProbeActor, [], { process: 'shared' })));
  const infos = await Promise.all(hs.map((h) => h.info()));
  const pids = new Set(infos.map((i) => i.pid));
  t.is(pids.size, 3, '10 actors, at most 4 per process');
  t.deepEqual(await Promise.all(hs.map((h, i) => h.add(i + 1))), hs.map((_, i) => i + 1), 'each actor has its own state');
  t.deepEqual(
    await Promise.all(hs.map((h) => h.whoAmI())),
    hs.map((h) => h.$id),
    'actorContext() inside a call (after an await) is the called actor',
  );
  t.deepEqual(
    infos.map((i) => i.actorId),
    hs.map((h) => h.$id),
  );
  // an actor spawned from a shared actor is owned by that actor
  t.is(await hs[0].childOwner(), hs[0].$id);

  // a constructor that throws ends that actor only; its neighbours keep serving
  const broken = await rt.spawn(ProbeActor, [true], { process: 'shared' });
  await t.throwsAsync(broken.add(1), { instanceOf: ActorDiedError, message: /constructor failed: .*probe asked to fail/ });
  t.deepEqual(await Promise.all(hs.map((h) => h.add(0))), hs.map((_, i) => i + 1));

  // kill one: its neighbours in the same process keep serving
  const victim = hs[1];
  const neighbour = hs.find((h, i) => i !== 1 && infos[i].pid === infos[1].pid)!;
  await victim.$kill();
  await t.throwsAsync(victim.add(1), { instanceOf: ActorDiedError });
  t.is(await neighbour.add(0), hs.indexOf(neighbour) + 1);

  // a crash ends every actor of that process (no restarts left)
  const crashPid = infos[9].pid;
  const same = hs.filter((_, i) => infos[i].pid === crashPid);
  const other = hs.find((_, i) => infos[i].pid !== crashPid && i !== 1)!;
  await hs[9].crash();
  await new Promise((r) => setTimeout(r, 300));
  for (const h of same) await t.throwsAsync(h.add(1), { instanceOf: ActorDiedError });
  t.is(typeof (await other.add(1)), 'number', 'other shared processes are untouched');

  await t.throwsAsync(rt.spawn(ProbeActor, [], { process: 'shared', resources: { GPU: 1 } }), { instanceOf: InvalidOptionsError, message: /GPU actors run in their own process/ });
  await t.throwsAsync(rt.spawn(ProbeActor, [], { process: 'shared', env: { A: '1' } }), { instanceOf: InvalidOptionsError, message: /one environment/ });
});

test('ONNX Runtime threads follow the CPUs an actor holds (at least 1), unless the actor or the driver sets COHORT_ORT_THREADS', async (t) => {
  const rt = await init({ logger: quiet(), resources: { CPU: 8 }, workerPool: { prestart: 1 } });
  t.teardown(() => rt.shutdown());
  const [half, three, own] = await Promise.all([
    rt.spawn(ProbeActor, [], { resources: { CPU: 0.5 } }),
    rt.spawn(ProbeActor, [], { resources: { CPU: 3 } }),
    rt.spawn(ProbeActor, [], { resources: { CPU: 3 }, env: { COHORT_ORT_THREADS: '5' } }),
  ]);
  const fromDriver = process.env.COHORT_ORT_THREADS;
  t.is((await half.info()).ortThreadsAtConstruct, fromDriver ?? '1');
  t.is((await three.info()).ortThreadsAtConstruct, fromDriver ?? '3');
  t.is((await own.info()).ortThreadsAtConstruct, '5');
});
