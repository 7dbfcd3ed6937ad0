import test from 'ava';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, type Runtime } from '@cohort/runtime';
import { makeDataset, type SearchRequest } from '@cohort/zerosearch';
import { ManagedServer, SIMULATOR_MAX_CONCURRENCY, SimulatorActor, SimulatorActorClass, SimulatorPool, fillPlaceholders, pickPort } from '../../actors/src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COHORT = path.join(ROOT, 'cli/bin/cohort.mjs');
/** Our own OpenAI-compatible server as the managed command (sglang's role on a GPU machine). */
const SERVE = [process.execPath, COHORT, 'sim', 'serve', '--backend', 'world', '--size', 'tiny', '--seed', '11', '--port', '{port}', '--name', '{model}@gpu{gpus}'];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function gone(pid: number, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

test('placeholders are filled; an unknown one is named; a busy preferred port gives a free one', async (t) => {
  t.deepEqual(fillPlaceholders(['x', '--tp', '{tp}', 'models/{model}', '--port={port}'], { model: 'm', tp: 2, dp: 1, port: 7, gpus: '0,1' }), ['x', '--tp', '2', 'models/m', '--port=7']);
  t.throws(() => fillPlaceholders(['{nope}'], { port: 1 }), { message: /unknown placeholder \{nope\}/ });
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => busy.close());
  const taken = (busy.address() as { port: number }).port;
  const p = await pickPort(taken);
  t.not(p, taken);
  t.true(p > 0);
});

test('a managed server that fails to start: the error has its exit code and last stderr lines; a hung one times out', async (t) => {
  const failing = new ManagedServer({ argv: [process.execPath, '-e', 'console.error("loading weights"); console.error("CUDA error: no device"); process.exit(3)'], port: await pickPort(0), healthPath: '/health', startupTimeoutS: 20, maxRestarts: 0 });
  const e = await t.throwsAsync(failing.start());
  t.regex(e!.message, /exited \(exit code 3\) before it was healthy/);
  t.regex(e!.message, /CUDA error: no device/);
  const hung = new ManagedServer({ argv: [process.execPath, '-e', 'console.error("still loading"); setInterval(() => {}, 1000)'], port: await pickPort(0), healthPath: '/health', startupTimeoutS: 1, maxRestarts: 0 });
  const h = await t.throwsAsync(hung.start());
  t.regex(h!.message, /not healthy .* within startupTimeoutS 1 s/);
  t.regex(h!.message, /still loading/);
  const pgid = (hung as unknown as { child: { pid: number } }).child.pid;
  t.true(await gone(pgid), 'a server that timed out is killed');
});

test('a managed server that dies after its restarts are spent fails the searches with the reason (no silent "No information")', async (t) => {
  const sim = new SimulatorActor({ index: 0, backend: { kind: 'managed', command: SERVE, model: 'sim', port: 0, startupTimeoutS: 60, maxRestarts: 0, cwd: ROOT }, batching: { maxBatch: 4, maxWaitMs: 5 } });
  t.teardown(() => sim.close());
  await sim.ready();
  const ok = await sim.search([{ query: 'capital of somewhere', mode: 'noisy' }]);
  t.is(ok[0].error, undefined);
  const pgid = sim.stats().server!.pgid!;
  process.kill(-pgid, 'SIGKILL');
  t.true(await gone(pgid));
  await new Promise((r) => setTimeout(r, 100));
  await t.throwsAsync(sim.search([{ query: 'capital of somewhere', mode: 'useful' }]), { message: /died \(signal SIGKILL\) after 0 restart\(s\) \(maxRestarts 0\)/ });
});

test('managed simulator servers: launched by two actors, batched and round-robined, restarted after a crash, no orphan after shutdown', async (t) => {
  const rt: Runtime = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 3 } });
  let shut = false;
  t.teardown(async () => {
    if (!shut) await rt.shutdown();
  });
  const ds = makeDataset({ size: 'tiny', seed: 11 });
  const ports = [await pickPort(0), await pickPort(0)];
  const actors = await Promise.all(
    [0, 1].map((i) =>
      rt.spawn(
        SimulatorActorClass,
        [{ index: i, backend: { kind: 'managed' as const, command: SERVE, model: `sim-${i}`, port: ports[i], startupTimeoutS: 60, maxRestarts: 1, cwd: ROOT }, seed: 3, batching: { maxBatch: 8, maxWaitMs: 20 } }],
        { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: SIMULATOR_MAX_CONCURRENCY },
      ),
    ),
  );
  const urls = await Promise.all(actors.map((a) => a.ready()));
  t.deepEqual(urls.map((u) => u.url), ports.map((p) => `http://127.0.0.1:${p}/v1`));
  // Each server answers at its port, named from {model} and {gpus}: the GPU the scheduler granted its actor.
  const ids = await Promise.all(ports.map(async (p) => ((await (await fetch(`http://127.0.0.1:${p}/v1/models`)).json()) as { data: { id: string }[] }).data[0].id));
  const gpus = ids.map((id, i) => id.match(new RegExp(`^sim-${i}@gpu(\\d+)$`))?.[1]);
  t.true(gpus.every((g) => g !== undefined), ids.join(' '));
  t.not(gpus[0], gpus[1]);

  // A server that cannot start: ready() rejects with its own words; it ran with the actor's CUDA_VISIBLE_DEVICES.
  const broken = await rt.spawn(
    SimulatorActorClass,
    [{ index: 2, backend: { kind: 'managed' as const, command: [process.execPath, '-e', 'console.error("visible=" + process.env.CUDA_VISIBLE_DEVICES + " gpus={gpus}"); process.exit(7)'], model: 'm', port: 0, startupTimeoutS: 30 }, batching: { maxBatch: 1, maxWaitMs: 0 } }],
    { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: SIMULATOR_MAX_CONCURRENCY },
  );
  const err = await t.throwsAsync(broken.ready());
  t.regex(err!.message, /exit code 7/);
  const seen = err!.message.match(/visible=(\d+) gpus=(\d+)/);
  t.truthy(seen, err!.message);
  t.is(seen![1], seen![2]);
  t.false(gpus.includes(seen![1]), 'the third actor got the third GPU');
  await t.throwsAsync(broken.search([{ query: 'q', mode: 'useful' }]), { message: /exit code 7/ });
  await broken.$kill();

  const items = ds.train.filter((q) => q.steps.length === 1).slice(0, 12);
  const requests: SearchRequest[] = items.map((q, i) => ({ query: q.steps[0].query, question: q.question, goldenAnswers: q.goldenAnswers, trajectoryId: `0:${i}#0`, mode: i % 2 === 0 ? 'useful' : 'noisy' }));
  const pool = new SimulatorPool(actors);
  const check = async () => {
    const results = (await Promise.all([0, 3, 6, 9].map((s) => pool.search(requests.slice(s, s + 3))))).flat();
    results.forEach((r, i) => {
      const gold = items[i].goldenAnswers[0].toLowerCase();
      t.is(r.error, undefined, `request ${i} failed: ${r.error}`);
      if (requests[i].mode === 'useful') t.true(r.text.toLowerCase().includes(gold), `useful result ${i} lacks "${gold}"`);
      else t.false(r.text.toLowerCase().includes(gold), `noisy result ${i} leaks "${gold}"`);
    });
  };
  await check();
  t.true(pool.sent.every((n) => n > 0), `both actors got requests: ${pool.sent}`);
  let stats = await Promise.all(actors.map((a) => a.stats()));
  t.true(stats.some((s) => s.maxBatch > 1), 'concurrent requests were batched');
  const pgids = stats.map((s) => s.server!.pgid!);
  t.true(pgids.every((p) => p > 0 && alive(p)));

  // The server of actor 0 crashes: the actor restarts it and the next searches are answered.
  process.kill(-pgids[0], 'SIGKILL');
  t.true(await gone(pgids[0]));
  await check();
  stats = await Promise.all(actors.map((a) => a.stats()));
  t.is(stats[0].server!.restarts, 1);
  const restarted = stats[0].server!.pgid!;
  t.not(restarted, pgids[0]);

  // close() stops actor 1's server; shutdown (SIGKILL of the workers) still takes actor 0's down.
  await actors[1].close();
  t.true(await gone(pgids[1]), 'closed server is gone');
  await rt.shutdown();
  shut = true;
  t.true(await gone(restarted), 'no orphan server after the actor process is killed');
  await t.throwsAsync(fetch(`http://127.0.0.1:${ports[0]}/health`));
});
