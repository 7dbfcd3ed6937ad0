import type { Logger } from 'pino';
import type { AdamW } from './adamw.js';
import { clipGradNorm, globalGradNorm, type GradMap } from './grad-utils.js';

/** How one update is applied. */
export interface ApplyGradientsOptions {
  /** Global grad-norm clip; null: no clipping (the norm is still computed and returned). */
  maxGradNorm: number | null;
  /** Learning rate of this update (from the schedule). */
  lr: number;
  /**
   * The global norm of the whole gradient when the caller computed it, e.g.
   * over every shard of a ZeRO-sharded gradient of which `grads` holds one
   * part (AdamW updates only the parameters `grads` names). Default: the norm of `grads`.
   */
  gradNorm?: number;
  logger?: Logger;
}

/** What one {@link applyGradients} did. */
export interface AppliedUpdate {
  /** Global norm before clipping. */
  gradNorm: number;
  lr: number;
  /** False when the norm was not finite and the update was skipped. */
  applied: boolean;
  /** Optimizer steps taken after this call. */
  step: number;
}

/**
 * The one optimizer step of the engine, for every trainer and every
 * data-parallel learner or critic once its gradients are reduced: global
 * grad-norm clipping, the scheduled learning rate, the non-finite guard (an
 * inf/NaN norm skips the update and leaves parameters and moments untouched)
 * and AdamW. `grads` is scaled in place by the clip.
 */
export function applyGradients(optimizer: AdamW, grads: GradMap, o: ApplyGradientsOptions): AppliedUpdate {
  const norm = o.gradNorm ?? globalGradNorm(grads);
  if (!Number.isFinite(norm)) {
    o.logger?.warn({ step: optimizer.step, gradNorm: norm }, 'non-finite gradient norm; update skipped');
    return { gradNorm: norm, lr: o.lr, applied: false, step: optimizer.step };
  }
  if (o.maxGradNorm !== null) clipGradNorm(grads, o.maxGradNorm, norm);
  optimizer.update(grads, o.lr);
  return { gradNorm: norm, lr: o.lr, applied: true, step: optimizer.step };
}
