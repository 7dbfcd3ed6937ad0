import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNatsServer, startScratchCluster } from '@cohort/cluster';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';
import { killActor, killAgentOf, markedProcesses, newMarker, readSteps, startCohort, until, type FaultRecord } from './harness.js';

// Chaos on a training run on a two-agent cluster (`cohort up`: nats-server, head, two agents;
// `cohort train --address`): SIGKILLs of workers and one nats-server restart (kill -9, started
// again on its port and store) in one run. The run completes with every step once and its
// trajectory count; after `cohort down` no process of the run is left.

const STEPS = 10;
const TRAJECTORIES = 4;
const ROLE_RECOVERY = existsSync(new URL('../../actors/src/trainer/replicas.ts', import.meta.url));

test('a training run on two agents survives worker kills and a nats-server restart; nothing is left after cohort down', async (t) => {
  const marker = newMarker();
  // the chaos marker reaches every process the launcher starts (nats-server, head, agents, their workers)
  const env = { COHORT_CHAOS_RUN: marker, COHORT_DASHBOARD_PORT: 'off' };
  const c = await startScratchCluster({
    name: `chaos${process.pid}`,
    nodeTypes: {
      trainer: { count: 1, resources: { CPU: 2, GPU: 2 }, labels: { role: 'trainer' }, workerPool: { prestart: 0 } },
      // with role recovery a spare simulator agent takes over when the simulator's agent dies
      simulator: { count: ROLE_RECOVERY ? 2 : 1, resources: { CPU: 2, GPU: 2 }, labels: { role: 'simulator' }, workerPool: { prestart: 0 } },
    },
    env,
  });
  let up = true;
  t.teardown(async () => {
    if (up) await c.stop();
    for (const p of markedProcesses(marker)) process.kill(p.pid, 'SIGKILL'); // only this run's processes
  });
  const { state, token: TOKEN, dir } = c;
  const natsUrl = state.natsUrl;
  const natsPort = Number(natsUrl.slice(natsUrl.lastIndexOf(':') + 1));
  const natsDir = path.join(dir, 'state', 'nats');

  const file = writeTinyTrainConfig(dir, {
    name: 'chaos-cluster',
    seed: 11,
    totalSteps: STEPS,
    algorithm: 'ppo', // learners, rollouts, references and critics on each RL bundle
    layout: '  gpus: { kind: logical, count: 3 }\n  simulator: { bundles: 1, cpusPerBundle: 0.5, labels: { role: simulator } }\n  rl: { bundles: 2, cpusPerBundle: 0.5, labels: { role: trainer }, shares: { learner: 0.3, rollout: 0.3, reference: 0.2, critic: 0.2 } }',
  });
  const metrics = path.join(dir, 'runs', 'chaos-cluster', 'metrics.jsonl');
  const d = startCohort(['train', file, '--address', natsUrl, '--json'], marker, { COHORT_TOKEN: TOKEN, COHORT_LOG_LEVEL: 'warn' });
  let done = false;
  void d.exited.then(() => (done = true));

  const natsRestart = async (afterStep: number): Promise<FaultRecord> => {
    const nats = state.processes.find((p) => p.role === 'nats')!;
    const t0 = performance.now();
    process.kill(nats.pid, 'SIGKILL');
    await until(() => !markedProcesses(marker).some((p) => p.pid === nats.pid) || undefined, 5000);
    process.env.COHORT_CHAOS_RUN = marker; // the new server carries the marker too
    const again = await startNatsServer({ dir: natsDir, host: '127.0.0.1', port: natsPort, token: TOKEN, detached: true }).finally(() => delete process.env.COHORT_CHAOS_RUN);
    nats.pid = again.pid; // cohort down stops the new one
    writeFileSync(path.join(dir, 'state', 'state.json'), JSON.stringify(state, null, 2));
    return { kind: 'nats-server', target: 'nats-server', atStep: afterStep, pid: nats.pid, recoveredS: +((performance.now() - t0) / 1000).toFixed(2) };
  };
  const schedule: Array<[number, string]> = [
    [1, 'rollout-0'],
    [2, 'nats-server'],
    [4, 'rollout-1'],
  ];
  // with role recovery: a simulator, a reference, a learner and a critic worker, then the agent that hosts the simulator (a spare simulator agent takes it)
  if (ROLE_RECOVERY) schedule.push([3, 'simulator-0'], [5, 'reference-1'], [6, 'learner-0'], [7, 'critic-1'], [8, 'agent:simulator-0']);
  else t.log('role recovery (trainer M2) not in this tree: simulator, reference and learner kills are left out');
  schedule.sort((a, b) => a[0] - b[0]);
  const faults: FaultRecord[] = [];
  for (const [afterStep, target] of schedule) {
    const reached = await until(() => done || readSteps(metrics).some((s) => s.step >= afterStep), 180_000);
    if (!reached || done) break;
    const f = target === 'nats-server' ? await natsRestart(afterStep) : target.startsWith('agent:') ? await killAgentOf(marker, target.slice(6), afterStep) : await killActor(marker, target, afterStep);
    if (f) faults.push(f);
  }
  const code = await d.exited;
  t.is(code, 0, d.stderr().slice(-3000));
  t.log(`faults: ${JSON.stringify(faults)}`);
  t.is(faults.length, schedule.length, 'every scheduled fault landed mid-run');
  for (const f of faults) t.not(f.recoveredS, undefined, `${f.target} came back`);
  const steps = readSteps(metrics);
  t.deepEqual(steps.map((s) => s.step), [...Array(STEPS).keys()], 'every step appears exactly once, in order');
  for (const s of steps) t.is(s.trajectories, TRAJECTORIES, `step ${s.step}: the configured trajectory count`);
  for (const s of steps) {
    const sums = s.recovery?.learnerChecksums;
    if (sums) t.is(new Set(sums).size, 1, `step ${s.step}: learners bit-identical`);
  }
  if (ROLE_RECOVERY) t.true(steps.some((s) => s.recovery?.learnerChecksums?.length), 'learner checksums recorded after the recoveries');
  await c.stop();
  up = false;
  const left = await until(() => markedProcesses(marker).length === 0 || undefined, 15_000);
  t.truthy(left, `no process of the run outlives cohort down: ${JSON.stringify(markedProcesses(marker))}`);
});
