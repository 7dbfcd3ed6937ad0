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

test('the Trainer on a cluster runtime: actors on the agents through the layout placement groups (node labels honoured), plan = spawn; an actor that cannot be placed again fails the run with one line, and resume continues', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-cluster-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nats = await startNatsServer({ dir: path.join(dir, 'nats'), token: TOKEN });
  t.teardown(() => nats.stop(2000));
  const head = await startClusterHead({ cluster: 'tc', natsUrl: nats.url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 2000, logLevel: 'silent' });
  t.teardown(() => head.stop({ killActors: true }));
  // The trainer node first: without labels PACK would put the simulator bundle there.
  const node = async (id: string, role: string) => {
    const n = await startClusterNode({ address: nats.url, auth: { token: TOKEN }, nodeId: id, resources: { CPU: 2, GPU: 2 }, labels: { role }, heartbeatMs: 200, workerPool: { prestart: 0 } });
    t.teardown(() => n.stop());
    return n;
  };
  await node('trainer-0', 'trainer');
  const sim0 = await node('sim-0', 'simulator');
  const layout = '  gpus: { kind: logical, count: 3 }\n  simulator: { bundles: 1, cpusPerBundle: 0.5, labels: { role: simulator } }\n  rl: { bundles: 2, cpusPerBundle: 0.5, labels: { role: trainer } }';
  const file = writeTinyTrainConfig(dir, { name: 'tiny-cluster', seed: 3, totalSteps: 2, algorithm: 'grpo', layout });
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
  t.deepEqual(alive.map((a) => a.name).sort(), plan.actors.map((a) => `tiny-cluster/${a.name}`).sort(), 'the run spawned exactly the planned actors (named <run>/<actor>)');
  for (const a of alive) t.is(a.nodeId, a.name!.startsWith('tiny-cluster/simulator') ? 'sim-0' : 'trainer-0', a.name);
  t.deepEqual(plan.groups.map((g) => [g.name, g.labels]), [['simulators', { role: 'simulator' }], ['rl', { role: 'trainer' }]]);
  t.is(jobLayout(config).actors.length, plan.actors.length);
  // At the end the Trainer removed its groups (and actors) from the caller's runtime, which stays usable.
  t.true((await rt.listActors()).every((a) => a.state === 'dead'));

  // The only node labelled role=simulator is lost after step 2: the simulator cannot be placed again. The run
  // stops with one line naming role, node and what is missing; with a new node, resume finishes it.
  const lost = await loadTrainConfig(writeTinyTrainConfig(dir, { name: 'tiny-lost', seed: 4, totalSteps: 4, algorithm: 'grpo', layout }));
  const failed = new Trainer({
    config: lost.config,
    configSha256: lost.sha256,
    logger: pino({ level: 'silent' }),
    runtime: rt,
    onStep: (m) => void (m.step === 2 && sim0.agent.nc.close().then(() => sim0.stop())),
  }).run();
  const err = await t.throwsAsync(failed, { name: 'PlacementLostError' });
  t.regex(err!.message, /^cannot place simulator simulator-0 again \(it ran on node sim-0; node sim-0 was lost .*\): infeasible: .*no node is labelled role=simulator.*; add capacity, then `cohort train --resume` continues from the last checkpoint$/);
  t.false(err!.message.includes('\n'), 'one line');
  await node('sim-1', 'simulator');
  const { runDir: lostDir } = await new Trainer({ config: lost.config, configSha256: lost.sha256, logger: pino({ level: 'silent' }), runtime: rt, resume: true }).run();
  const after = readFileSync(path.join(lostDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(after.map((l) => [l.step, l.trajectories, l.policyVersion]), [[0, 4, 2], [1, 4, 4], [2, 4, 6], [3, 4, 8]], 'resumed from the step-2 checkpoint, every step once');
  t.is(after[3].nodes['simulator-0'], 'sim-1');
});
