import test from 'ava';
import { connect, startScratchCluster } from '@cohort/cluster';
import { markedProcesses, newMarker, until } from '../chaos/harness.js';
import { ProbeActor } from './fixtures/actors.js';

// A placement group spread over two agents (separate processes, as `cohort up` starts them)
// loses one agent to SIGKILL. Only the bundle that was on the dead node is placed again:
// the actor in the other bundle keeps its worker (same pid, incarnation 0), the lost one
// restarts, the group is created again, and every worker process left hosts a live actor
// (none runs on without an owner).

test('losing an agent re-places only the placement-group bundle it hosted; no worker is orphaned', async (t) => {
  const marker = newMarker();
  const c = await startScratchCluster({
    name: `pgloss${process.pid}`,
    nodeTypes: { w: { count: 2, resources: { CPU: 2 }, workerPool: { prestart: 0 } } },
    membership: { heartbeatMs: 200, timeoutMs: 1500 },
    env: { COHORT_CHAOS_RUN: marker, COHORT_DASHBOARD_PORT: 'off' },
  });
  t.teardown(async () => {
    await c.stop();
    for (const p of markedProcesses(marker)) process.kill(p.pid, 'SIGKILL'); // only this test's processes
  });
  const rt = await connect(c.state.natsUrl, { token: c.token, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());

  const pg = await rt.createPlacementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'SPREAD', name: 'pair' });
  const before = await pg.ready();
  t.is(new Set(before.bundleNodes).size, 2, 'SPREAD puts one bundle on each agent');
  const a0 = await rt.spawn(ProbeActor, ['a0'], { name: 'a0', placementGroup: pg.id, bundleIndex: 0, resources: { CPU: 1 }, maxRestarts: 2 });
  const a1 = await rt.spawn(ProbeActor, ['a1'], { name: 'a1', placementGroup: pg.id, bundleIndex: 1, resources: { CPU: 1 }, maxRestarts: 2 });
  const w0 = await a0.where();
  const w1 = await a1.where();
  t.deepEqual([w0.node, w1.node], before.bundleNodes);

  const workers = () => markedProcesses(marker).filter((p) => p.cmd.startsWith('cohort-worker'));
  t.deepEqual(workers().map((p) => p.pid).sort(), [w0.pid, w1.pid].sort());

  const agent = c.state.processes.find((p) => p.role === 'agent' && p.id === w1.node);
  t.truthy(agent, `the agent process of ${w1.node}`);
  process.kill(agent!.pid, 'SIGKILL');

  // the lost actor comes back on the surviving node, in the re-placed bundle
  let info;
  for (const end = Date.now() + 60_000; !info && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const a = (await rt.listActors()).find((x) => x.name === 'a1');
    if (a?.state === 'alive' && a.incarnation > 0) info = a;
  }
  t.truthy(info, 'a1 restarted');
  const after = await pg.ready();
  t.deepEqual(after.bundleNodes, [w0.node, w0.node], 'bundle 1 was placed again on the surviving node; bundle 0 stayed');
  const w1b = await a1.where();
  t.is(w1b.node, w0.node);

  // the survivor was not touched: same worker, first incarnation, its state intact
  const w0b = await a0.where();
  t.deepEqual([w0b.pid, w0b.incarnation], [w0.pid, 0]);
  t.is(await a0.add(1), 1);
  t.is(await a0.add(1), 2, 'same process, same state');

  // every worker process left hosts a live actor; the dead agent's worker is gone too
  const live = new Set((await rt.listActors()).filter((a) => a.state === 'alive').map((a) => a.pid));
  t.truthy(await until(() => !workers().some((p) => p.pid === w1.pid), 10_000), `the worker ${w1.pid} of the killed agent ended`);
  await new Promise((r) => setTimeout(r, 500)); // a stray restart would show up by now
  const left = workers();
  t.deepEqual(left.map((p) => p.pid).sort(), [w0.pid, w1b.pid].sort(), `workers: ${JSON.stringify(left)}`);
  for (const p of left) t.true(live.has(p.pid), `worker ${p.pid} (${p.cmd}) hosts a live actor`);
});
