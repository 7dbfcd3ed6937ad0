import type { ActorHandle } from '@cohort/runtime';
import type { PolicyRolloutOptions, RolloutPrompt } from './policy-rollout.js';
import type { RolloutActor, RolloutBatch } from './rollout-actor.js';

/** How to bring a restarted rollout back to the current policy. */
export interface RecoveryOptions {
  /** The policy version the batch must be generated with. */
  version: number;
  /** The weights of that version (only fetched when a restarted actor needs them). */
  weights: () => Promise<Map<string, Float32Array>>;
  /** Attempts after the first (default 2). */
  maxRetries?: number;
  /** Called before each retry, with the reason. */
  onRetry?: (reason: string) => void;
}

/**
 * Runs one rollout call so that a crashed rollout worker costs no
 * trajectory and counts none twice: the prompts of a call that died are redone
 * whole (a failed call returns nothing, so nothing is counted from it) once
 * the actor has restarted and reloaded the current weights. A restarted actor
 * comes back with its initial weights, so a batch made with another version
 * is also discarded and redone after a weight reload.
 */
export async function rolloutWithRecovery(
  handle: ActorHandle<RolloutActor>,
  prompts: RolloutPrompt[],
  opts: Omit<PolicyRolloutOptions, 'version'>,
  rec: RecoveryOptions,
): Promise<RolloutBatch> {
  const max = rec.maxRetries ?? 2;
  let lastError: unknown;
  for (let attempt = 0; attempt <= max; attempt++) {
    try {
      if (attempt > 0) {
        await handle.$ready();
        if ((await handle.version()) !== rec.version) await handle.setWeights(rec.version, await rec.weights());
      }
      const batch = await handle.rollout(prompts, opts);
      if (batch.version === rec.version) return batch;
      lastError = new Error(`rollout ${handle.$name ?? handle.$id} generated with version ${batch.version}, expected ${rec.version} (it restarted)`);
      rec.onRetry?.(String((lastError as Error).message));
    } catch (err) {
      if ((err as Error)?.name !== 'ActorDiedError') throw err;
      lastError = err;
      rec.onRetry?.((err as Error).message);
    }
  }
  throw lastError;
}
