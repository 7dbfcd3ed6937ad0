// Local-mode process hygiene: no worker outlives the runtime or its driver.
// (Restarts, retries and ownership are conformance cases: tests/conformance/.)
import test from 'ava';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { init } from '@cohort/runtime';
import { until } from '../helpers/until.js';
import { CounterActor, WorkerActor, type Counter } from './fixtures/actors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('no worker process outlives shutdown: plain, detached, restarted and nested actors', async (t) => {
  const rt = await init({ logLevel: 'silent', restartBackoffMs: 50 });
  t.teardown(() => rt.shutdown());
  const pids = new Set<number>();
  const [plain, detached, crashy, parent] = await Promise.all([
    rt.spawn(CounterActor, []),
    rt.spawn(CounterActor, [], { lifetime: 'detached' }),
    rt.spawn(CounterActor, [], { maxRestarts: 1 }),
    rt.spawn(WorkerActor, []),
  ]);
  for (const h of [plain, detached, crashy]) pids.add(await h.pid());
  await crashy.crash(3);
  t.true(await until(async () => (await crashy.pid().catch(() => 0)) > 0 && !pids.has(await crashy.pid())), 'the crashed actor restarted in a new process');
  pids.add(await crashy.pid());
  await parent.spawnChildren();
  for (const name of ['owned-child', 'detached-child']) pids.add(await (await rt.getActor<Counter>(name)).pid());
  t.is(pids.size, 6);
  await rt.shutdown();
  t.true(await until(() => [...pids].every((p) => !alive(p))), `alive after shutdown: ${[...pids].filter(alive).join(',')}`);
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
    t.true(await until(() => workerPids.every((p) => !alive(p))), 'workers exit when their driver dies');
  } finally {
    driver.kill('SIGKILL');
  }
});
