import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Trainer, findLatestCheckpoint, loadTrainConfig, readCheckpoint, stepMetricsSchema } from '../../actors/src/index.js';
import { decodeSafetensors } from '@cohort/engine';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

/** The tiny run as PPO: a critic share on each RL bundle, a checkpoint every step, no evaluation (not what this tests). */
function ppoConfig(dir: string): string {
  const file = writeTinyTrainConfig(dir, { name: 'tiny-ppo', seed: 5, totalSteps: 2, algorithm: 'ppo' });
  const text = readFileSync(file, 'utf8')
    .replace('rl: { bundles: 2, cpusPerBundle: 0.5 }', 'rl: { bundles: 2, cpusPerBundle: 0.5, shares: { learner: 0.4, rollout: 0.2, reference: 0.2, critic: 0.2 } }')
    .replace('algorithm: { name: ppo }', 'algorithm: { name: ppo, params: { criticLr: 1.0e-3, gamma: 1, lambda: 0.95 } }')
    .replace('checkpoint: { every: 2, keep: 0 }', 'checkpoint: { every: 1, keep: 0 }')
    .replace('eval:\n', 'eval:\n  before: false\n  after: false\n');
  writeFileSync(file, text);
  return file;
}

test('PPO through the Trainer on worker processes: critics give GAE values, update with the learners, are checkpointed and restored exactly', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-ppo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config, sha256 } = await loadTrainConfig(ppoConfig(dir));
  t.is(config.layout.rl.shares.critic, 0.2);
  const { runDir } = await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }) }).run();
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => stepMetricsSchema.parse(JSON.parse(l)));
  t.deepEqual(lines.map((l) => l.step), [0, 1]);
  t.deepEqual(lines.map((l) => l.policyVersion), [2, 4]);
  for (const l of lines) {
    // The critics ran: values went into GAE, and each of the step's two mini-batches updated them.
    const c = l.critic!;
    t.truthy(c, `step ${l.step} has critic metrics`);
    t.true(Number.isFinite(c.valueLoss) && c.valueLoss > 0, `value loss ${c.valueLoss}`);
    t.true(Number.isFinite(c.valueMean) && Number.isFinite(c.returnMean) && Number.isFinite(c.explainedVariance));
    t.true(c.valueMean !== 0, 'values come from the value head, not zeros');
    t.is(c.lr, 1e-3);
    t.true(l.timings.critic! > 0);
    t.true(Number.isFinite(l.loss!.pg));
  }
  t.log(`value loss ${lines.map((l) => l.critic!.valueLoss.toFixed(4)).join(' -> ')}; explained variance ${lines.map((l) => l.critic!.explainedVariance.toFixed(3)).join(' -> ')}`);

  // Checkpoints carry the critic (weights with the value head, and AdamW state: 2 updates per step).
  const ckDir = path.join(runDir, 'checkpoints');
  const ck = readCheckpoint(findLatestCheckpoint(ckDir)!, { configSha256: sha256 });
  t.is(ck.manifest.step, 2);
  const critic = decodeSafetensors(ck.readFile('critic'));
  t.true(critic.tensors.has('value_head.weight') && critic.tensors.has('value_head.bias'));
  t.is(decodeSafetensors(ck.readFile('criticOptimizer')).metadata.step, '4');
  const step1 = readCheckpoint(path.join(ckDir, 'step-000001'));
  t.is(decodeSafetensors(step1.readFile('criticOptimizer')).metadata.step, '2');
  t.notDeepEqual(step1.readFile('critic'), ck.readFile('critic'), 'step 2 updated the critic');

  // Resume from step 1: the re-run step 2 gives bit-identical critic (and policy) weights and optimizer states.
  const sha = (f: string) => createHash('sha256').update(readFileSync(path.join(ckDir, 'step-000002', f))).digest('hex');
  const files = ['critic.safetensors', 'criticOptimizer.safetensors', 'policy.safetensors', 'optimizer.safetensors'];
  const uninterrupted = files.map(sha);
  rmSync(path.join(ckDir, 'step-000002'), { recursive: true });
  writeFileSync(path.join(ckDir, 'latest'), 'step-000001\n');
  await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }), resume: true }).run();
  t.deepEqual(files.map(sha), uninterrupted);
});
