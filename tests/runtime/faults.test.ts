import test from 'ava';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { init, ActorDiedError, type ActorEvent, type Runtime } from '@cohort/runtime';
import { CounterActor, WorkerActor } from './fixtures/actors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(cond: () => boolean | Promise<boolean>, ms = 15000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

let rt: Runtime;
const events: ActorEvent[] = [];
const pids = new Set<number>();

test.before(async () => {
  rt = await init({ logLevel: 'silent', restartBackoffMs: 50 });
  rt.onActorEvent((e) => events.push(e));
});

test.after.always(async () => {
  await rt?.shutdown();
});

test.serial('a crash fails in-flight calls with ActorDiedError, restarts the actor (constructor re-run), then it dies for good', async (t) => {
  const c = await rt.spawn(CounterActor, [100], { name: 'crashy', maxRestarts: 1 });
  t.is(await c.add(5), 105);
  pids.add(await c.pid());
  const err = await t.throwsAsync(Promise.all([c.crash(3), c.slowAdd(1, 5000)]), { instanceOf: ActorDiedError });
  t.regex(err!.message, /actor "crashy" \(.*\) died: worker process \d+ ended \(exit code 3\).*maxTaskRetries is 0/);
  t.is(await c.get(), 100, 'the constructor ran again: state is not restored');
  pids.add(await c.pid());
  t.true(events.some((e) => e.type === 'restarting' && e.actorId === c.$id && /exit code 3/.test(e.cause ?? '')));
  await t.throwsAsync(c.crash(4).then(() => c.slowAdd(1, 5000)), { instanceOf: ActorDiedError });
  const err2 = await t.throwsAsync(c.get(), { instanceOf: ActorDiedError });
  t.regex(err2!.message, /no restarts left \(maxRestarts=1\)/);
  t.true(await eventually(() => events.some((e) => e.type === 'died' && e.actorId === c.$id)));
  t.is((await c.$info())!.state, 'dead');
});

test.serial('maxTaskRetries re-sends in-flight calls in order to the restarted actor', async (t) => {
  const w = await rt.spawn(WorkerActor, [], { maxRestarts: 2, maxTaskRetries: 3 });
  pids.add((await w.$info())!.pid!);
  await w.incarnation();
  const results = await Promise.all([w.plus(1, 1), w.crashOnFirstLife(), w.plus(2, 2), w.incarnation()]);
  t.deepEqual(results, [2, 1, 4, 1]);
});

test.serial('killing an owner ends its owned actors but not detached ones; kill() fails later calls', async (t) => {
  const parent = await rt.spawn(WorkerActor, []);
  const { owned, detached } = await parent.spawnChildren();
  const o = await rt.getActor<import('./fixtures/actors.js').Counter>('owned-child');
  const d = await rt.getActor<import('./fixtures/actors.js').Counter>('detached-child');
  t.is(o.$id, owned);
  t.is(d.$id, detached);
  pids.add(await o.pid());
  pids.add(await d.pid());
  await parent.$kill();
  const err = await t.throwsAsync(parent.plus(1, 1), { instanceOf: ActorDiedError });
  t.regex(err!.message, /killed by kill\(\)/);
  const err2 = await t.throwsAsync(o.get(), { instanceOf: ActorDiedError });
  t.regex(err2!.message, /its owner .* died/);
  t.is(await d.get(), 2, 'the detached actor lives on');
});

test.serial('an owner inside an actor observes its actors\' failures', async (t) => {
  const owner = await rt.spawn(WorkerActor, []);
  const seen = await owner.childCrashEvents();
  t.true(seen.some((l) => /^died: worker process \d+ ended \(exit code 7\)/.test(l)), seen.join(' | '));
});

test.serial('no worker process outlives shutdown', async (t) => {
  const hs = await Promise.all([rt.spawn(CounterActor, []), rt.spawn(CounterActor, [], { lifetime: 'detached' })]);
  for (const h of hs) pids.add(await h.pid());
  t.true(pids.size >= 6);
  await rt.shutdown();
  t.true(await eventually(() => [...pids].every((p) => !alive(p))), `alive after shutdown: ${[...pids].filter(alive).join(',')}`);
});

test('no worker process outlives a killed driver', async (t) => {
  const script = fileURLToPath(new URL('./fixtures/driver.ts', import.meta.url));
  const driver = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: driver.stdout! }).once('line', resolve);
      driver.once('exit', (c) => reject(new Error(`driver exited early (${c})`)));
    });
    const workerPids = JSON.parse(line) as number[];
    t.is(workerPids.length, 2);
    t.true(workerPids.every(alive));
    driver.kill('SIGKILL');
    t.true(await eventually(() => workerPids.every((p) => !alive(p))), 'workers exit when their driver dies');
  } finally {
    driver.kill('SIGKILL');
  }
});
