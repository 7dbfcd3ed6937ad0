import path from 'node:path';
import type { TrainConfig } from '../../config/schema.js';
import type { DataLoader } from '../../state/data-loader.js';
import { writeCheckpoint, type OpenedCheckpoint } from '../../state/checkpoint.js';
import type { Rng } from '@cohort/engine/rng';
import type { Job } from '../job-actors.js';

/** Whether the step just finished (`step`, 0-based) writes a checkpoint: every `checkpoint.every` steps and after the last. */
export function checkpointDue(config: TrainConfig, step: number): boolean {
  const every = config.checkpoint.every;
  return (every > 0 && (step + 1) % every === 0) || step + 1 === config.run.totalSteps;
}

/**
 * Stage "checkpoint": learner 0's policy and the optimizer state (all learners' shards, gathered by learner 0, with ZeRO-1; and critic 0's,
 * PPO), the trainer's RNG and the data loader's position, after `step`
 * (0-based) steps' worth of updates, atomically under the run's checkpoint dir.
 */
export async function saveCheckpoint(job: Job, config: TrainConfig, o: { runDir: string; step: number; rng: Rng; loader: DataLoader; configSha256?: string }): Promise<string> {
  // ZeRO-1: learner 0 gathers the other learners' optimizer shards while they send them.
  const zero = config.optimizer.zeroStage === 1;
  const files = (await job.learners.each('checkpoint', (le, r) => (r === 0 ? le.checkpointFiles() : zero ? le.shareOptimizerShard().then(() => undefined) : undefined)))[0]!;
  const criticFiles = job.critics ? await job.critics.one('checkpoint', 0, (cr) => cr.checkpointFiles()) : null;
  return writeCheckpoint(
    path.resolve(o.runDir, config.checkpoint.dir),
    {
      step: o.step + 1,
      policyVersion: files.version,
      curriculumStep: o.step + 1,
      configSha256: o.configSha256,
      algorithm: config.algorithm.name,
      rng: { trainer: o.rng.state() },
      dataLoader: o.loader.state(),
      files: { policy: files.policy, optimizer: files.optimizer, ...(criticFiles ? { critic: criticFiles.critic, criticOptimizer: criticFiles.criticOptimizer } : {}) },
    },
    { keep: config.checkpoint.keep },
  );
}

/**
 * Loads a checkpoint's policy and optimizer state into every learner (and
 * the critic's into every critic); returns the policy version. The driver
 * restores RNG and data-loader position from the manifest itself.
 */
export async function restoreActors(job: Job, ck: OpenedCheckpoint, where: string): Promise<number> {
  const policy = ck.readFile('policy');
  const optimizer = ck.readFile('optimizer');
  const versions = await job.learners.each('restore', (le) => le.restore(policy, optimizer));
  if (job.critics) {
    if (!ck.manifest.files.critic || !ck.manifest.files.criticOptimizer) throw new Error(`${where} has no critic files (written by a run without a critic); resume it with its own algorithm or start a new run name`);
    const critic = ck.readFile('critic');
    const criticOptimizer = ck.readFile('criticOptimizer');
    await job.critics.each('restore', (cr) => cr.restore(critic, criticOptimizer));
  }
  return versions[0];
}
