import type { Logger } from 'pino';
import type { TrainConfig } from '../../config/schema.js';
import { rolloutWithRecovery } from '../../rollout/rollout-recovery.js';
import type { RolloutPrompt } from '../../rollout/policy-rollout.js';
import type { RolloutBatch } from '../../rollout/rollout-actor.js';
import { decodeTrajectories } from '../../trajectory/codec.js';
import { shardRows } from '../../trajectory/collate.js';
import type { Trajectory } from '../../trajectory/trajectory.js';
import type { Job } from '../job-actors.js';

/** What the rollouts returned for one step. */
export interface Collected {
  trajectories: Trajectory[];
  batches: RolloutBatch[];
  /** Rollout calls redone because the rollout's worker died (with the reason). */
  redone: Array<{ rollout: string; reason: string; seconds: number }>;
}

/**
 * Stage "collect": the step's prompts split over the rollouts and run at
 * once with policy `version` and the curriculum's noise probability. A
 * rollout whose worker dies mid-call is brought back to `version` (from
 * learner 0's last publish) and redoes its prompts whole, so no trajectory is
 * lost or counted twice.
 */
export async function collect(job: Job, config: TrainConfig, prompts: RolloutPrompt[], o: { step: number; noiseP: number; version: number; log: Logger }): Promise<Collected> {
  const c = config;
  const { actors } = job;
  const redone: Collected['redone'] = [];
  const t0 = performance.now();
  const n = actors.rollouts.length;
  const parts = actors.rollouts.map((_, r) => shardRows(prompts.length, r, n).map((i) => prompts[i]));
  const batches = await Promise.all(
    actors.rollouts.map((ro, r) =>
      parts[r].length
        ? rolloutWithRecovery(
            ro,
            parts[r],
            {
              step: o.step,
              samplesPerPrompt: c.batch.samplesPerPrompt,
              maxTurns: c.rollout.maxTurns,
              maxNewTokensPerTurn: c.rollout.maxNewTokensPerTurn,
              observationTokenCap: c.rollout.observationTokenCap,
              contextWindow: c.rollout.contextWindow,
              temperature: c.rollout.temperature,
              topP: c.rollout.topP,
              noiseP: o.noiseP,
              seed: c.run.seed * 131 + r,
            },
            {
              version: o.version,
              // A restarted rollout gets the published version from learner 0 (not the driver's copy: there is none).
              weights: () => job.learners.one('weights for a restarted rollout', 0, (le) => le.publishedWeights(o.version)),
              onRetry: (reason) => {
                redone.push({ rollout: ro.$name ?? ro.$id, reason, seconds: (performance.now() - t0) / 1000 });
                o.log.warn({ rollout: r, step: o.step, reason }, 'rollout redone');
              },
            },
          )
        : Promise.resolve<RolloutBatch | null>(null),
    ),
  );
  const real = batches.filter((b): b is RolloutBatch => b !== null);
  return { trajectories: real.flatMap((b) => decodeTrajectories(b.trajectories)), batches: real, redone };
}
