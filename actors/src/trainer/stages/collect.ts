import type { Logger } from 'pino';
import type { TrainConfig } from '../../config/schema.js';
import { rolloutWithRecovery } from '../../rollout/rollout-recovery.js';
import type { RolloutPrompt } from '../../rollout/policy-rollout.js';
import type { ActorHandle } from '@cohort/runtime';
import type { RolloutActor, RolloutBatch } from '../../rollout/rollout-actor.js';
import { decodeTrajectories } from '../../trajectory/codec.js';
import { shardRows } from '../../trajectory/collate.js';
import type { Trajectory } from '../../trajectory/trajectory.js';
import { localName, type Job } from '../job-actors.js';

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
 * lost or counted twice. The prompts of a rollout gone for good (an elastic
 * rollout whose node left) are redone by a rollout of the fixed layout.
 */
export async function collect(job: Job, config: TrainConfig, prompts: RolloutPrompt[], o: { step: number; noiseP: number; version: number; log: Logger }): Promise<Collected> {
  const c = config;
  const rollouts = [...job.actors.rollouts];
  const redone: Collected['redone'] = [];
  const t0 = performance.now();
  const n = rollouts.length;
  const run = (ro: ActorHandle<RolloutActor>, part: RolloutPrompt[], r: number) =>
    rolloutWithRecovery(
      ro,
      part,
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
          redone.push({ rollout: localName(ro.$name, ro.$id), reason, seconds: (performance.now() - t0) / 1000 });
          o.log.warn({ rollout: ro.$name, step: o.step, reason }, 'rollout redone');
        },
      },
    );
  const batches = await Promise.all(
    rollouts.map(async (ro, r) => {
      const part = shardRows(prompts.length, r, n).map((i) => prompts[i]);
      if (part.length === 0) return null;
      try {
        return await run(ro, part, r);
      } catch (err) {
        // A rollout that is gone for good (an elastic one whose node left): a rollout of the fixed layout,
        // which the runtime restarts, redoes its prompts whole.
        if ((err as Error)?.name !== 'ActorDiedError' || (await ro.$info().catch(() => undefined))?.state !== 'dead' || r < job.fixedRollouts) throw err;
        const k = r % job.fixedRollouts;
        redone.push({ rollout: localName(ro.$name, ro.$id), reason: `${(err as Error).message}; its prompts redone by ${localName(rollouts[k].$name, rollouts[k].$id)}`, seconds: (performance.now() - t0) / 1000 });
        return run(rollouts[k], part, r);
      }
    }),
  );
  const real = batches.filter((b): b is RolloutBatch => b !== null);
  return { trajectories: real.flatMap((b) => decodeTrajectories(b.trajectories)), batches: real, redone };
}
