import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { connect, startClusterHead, startClusterNode, startNatsServer } from '@cohort/cluster';
import { Trainer, jobLayout, loadTrainConfig, trainPlan } from '../../actors/src/index.js';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

const TOKEN = 'trainer-cluster-token';
process.env.COHORT_LOG_LEVEL ??= 'silent';

test('the Trainer on a cluster runtime: every actor runs on the agents through the layout placement groups (node labels honoured), the plan is what the run gets, the driver keeps only orchestration', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-cluster-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nats = await startNatsServer({ dir: path.join(dir, 'nats'), token: TOKEN });
  t.teardown(() => nats.stop(2000));
  const head = await startClusterHead({ cluster: 'tc', natsUrl: nats.url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 2000, logLevel: 'silent' });
  t.teardown(() => head.stop({ killActors: true }));
  // The trainer node first: without labels PACK would put the simulator bundle there.
  const nodes = [];
  for (const [id, role] of [['trainer-0', 'trainer'], ['sim-0', 'simulator']]) {
    const n = await startClusterNode({ address: nats.url, auth: { token: TOKEN }, nodeId: id, resources: { CPU: 2, GPU: 2 }, labels: { role }, heartbeatMs: 200, workerPool: { prestart: 0 } });
    nodes.push(n);
    t.teardown(() => n.stop());
  }
  const file = writeTinyTrainConfig(dir, {
    name: 'tiny-cluster',
    seed: 3,
    totalSteps: 2,
    algorithm: 'grpo',
    layout: '  gpus: { kind: logical, count: 3 }\n  simulator: { bundles: 1, cpusPerBundle: 0.5, labels: { role: simulator } }\n  rl: { bundles: 2, cpusPerBundle: 0.5, labels: { role: trainer } }',
  });
  const { config, sha256 } = await loadTrainConfig(file);
  const rt = await connect(nats.url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  let probe: ReturnType<typeof rt.listActors> | undefined;
  const { runDir } = await new Trainer({
    config,
    configSha256: sha256,
    logger: pino({ level: 'silent' }),
    runtime: rt,
    // The directory as it stands right after step 0 (the actors are alive then).
    onStep: (m) => void (m.step === 0 && (probe = rt.listActors())),
  }).run();
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => [l.step, l.trajectories, l.policyVersion]), [[0, 4, 2], [1, 4, 4]]);
  // Where each actor ran, from the cluster's directory: the simulator on the simulator node, the RL actors on the trainer node.
  const alive = (await probe!).filter((a) => a.state === 'alive');
  const plan = trainPlan(config);
  t.deepEqual(alive.map((a) => a.name).sort(), plan.actors.map((a) => a.name).sort(), 'the run spawned exactly the planned actors');
  for (const a of alive) t.is(a.nodeId, a.name!.startsWith('simulator') ? 'sim-0' : 'trainer-0', a.name);
  t.deepEqual(plan.groups.map((g) => [g.name, g.labels]), [['simulators', { role: 'simulator' }], ['rl', { role: 'trainer' }]]);
  t.is(jobLayout(config).actors.length, plan.actors.length);
  // At the end the Trainer removed its groups (and actors) from the caller's runtime, which stays usable.
  t.true((await rt.listActors()).every((a) => a.state === 'dead'));
});
