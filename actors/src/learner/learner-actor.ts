import { CausalLM, PolicyTrainer, clipGradNorm, decodeSafetensors, encodeSafetensors, lrSchedule, type PolicyBatch } from '@cohort/engine';
import { actorClass, actorContext, inActor } from '@cohort/runtime';
import type { Logger } from 'pino';
import type { AlgorithmParams, TrainConfig } from '../config/schema.js';
import { getAlgorithm, klInReward } from '../algorithms/registry.js';
import '../algorithms/builtins.js';

/** Constructor argument of a LearnerActor. */
export interface LearnerActorSpec {
  rank: number;
  worldSize: number;
  /** Initial policy (config.json + model.safetensors). */
  modelDir: string;
  algorithm: { name: string; params: AlgorithmParams };
  optimizer: TrainConfig['optimizer'];
  /** Optimizer steps of the whole run (for the warm-up schedule). */
  totalUpdates: number;
  microBatch: number;
}

/** Loss parts of one gradient pass. */
export interface GradientResult {
  grads: Map<string, Float32Array>;
  loss: number;
  pgLoss: number;
  klLoss: number;
  entropyLoss: number;
  clipFrac: number;
  rows: number;
}

/**
 * One data-parallel learner: recomputes old log-probs, computes the gradient
 * of the chosen algorithm's policy loss (PPO-clip with the KL *added*) on its
 * shard, and applies an all-reduced gradient with AdamW. Every learner
 * applies the same averaged gradient, so parameters stay identical; the
 * version counts applied updates.
 */
export class LearnerActor {
  readonly model: CausalLM;
  private readonly trainer: PolicyTrainer;
  private readonly lr: (step: number) => number;
  private updates = 0;
  private readonly log: Logger | undefined;

  constructor(private readonly spec: LearnerActorSpec) {
    const def = getAlgorithm(spec.algorithm.name);
    const p = spec.algorithm.params;
    this.model = CausalLM.load(spec.modelDir);
    const o = spec.optimizer;
    this.trainer = new PolicyTrainer(this.model, {
      optimizer: { lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay },
      maxGradNorm: o.gradClip,
      microBatchSize: spec.microBatch,
      loss: {
        clipRatio: p.clipRatio,
        clipRatioHigh: p.clipRatioHigh,
        dualClip: p.dualClip,
        klCoef: klInReward(def, p) ? 0 : p.kl.coef,
        klType: p.kl.estimator,
        entropyCoef: p.entropyCoef,
        aggregation: p.lossAggregation,
      },
    });
    this.lr = lrSchedule({ lr: o.lr, warmupSteps: Math.round(o.warmupRatio * spec.totalUpdates) });
    this.log = inActor() ? actorContext().logger.child({ actor: `learner-${spec.rank}` }) : undefined;
  }

  /** Policy version: optimizer updates applied so far. */
  version(): number {
    return this.updates;
  }

  /** Per-token log-probs of token rows under the current weights (the "old" log-probs). */
  async score(inputIds: number[][]): Promise<Float32Array[]> {
    return (await this.model.score({ inputIds })).logprobs;
  }

  /** Loss and gradient of the policy loss on a shard (no update). */
  async gradients(batch: PolicyBatch): Promise<GradientResult> {
    const r = await this.trainer.gradients({ ...batch, oldLogprobs: batch.oldLogprobs! });
    const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : 0);
    return { grads: r.grads, loss: r.loss, pgLoss: num('pg_loss'), klLoss: num('kl_loss'), entropyLoss: num('entropy_loss'), clipFrac: num('clip_frac'), rows: batch.inputIds.length };
  }

  /** Clips and applies an (all-reduced) gradient; returns the new version, the pre-clip norm and the lr used. */
  applyGradients(grads: Map<string, Float32Array>): { version: number; gradNorm: number; lr: number } {
    const gradNorm = clipGradNorm(grads, this.spec.optimizer.gradClip);
    const lr = this.lr(this.trainer.optimizer.step + 1);
    if (Number.isFinite(gradNorm)) this.trainer.optimizer.update(grads, lr);
    else this.log?.warn({ gradNorm }, 'non-finite gradient norm; update skipped');
    this.updates++;
    return { version: this.updates, gradNorm, lr };
  }

  /** The current weights (graph layout) for rollouts. */
  weights(): Map<string, Float32Array> {
    return this.model.params;
  }

  /** A checksum of the parameters (to check that data-parallel learners agree). */
  paramChecksum(): number {
    let s = 0;
    let k = 0;
    for (const p of this.model.params.values()) for (let i = 0; i < p.length; i += 7) s += p[i] * (1 + (k++ % 13));
    return s;
  }

  /** Policy and optimizer state as safetensors bytes, for checkpoints. */
  checkpointFiles(): { policy: Uint8Array; optimizer: Uint8Array; version: number } {
    const st = this.trainer.optimizer.exportState();
    const opt: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [n, m] of st.m) opt[`m.${n}`] = { shape: [m.length], data: m };
    for (const [n, v] of st.v) opt[`v.${n}`] = { shape: [v.length], data: v };
    return {
      policy: encodeSafetensors(this.model.hfTensors(), { format: 'pt' }),
      optimizer: encodeSafetensors(opt, { optimizer: 'adamw', step: String(st.step), version: String(this.updates) }),
      version: this.updates,
    };
  }

  /**
   * Restores policy and optimizer state written by `checkpointFiles` (the
   * bytes of a checkpoint's policy and optimizer files); returns the version.
   */
  restore(policy: Uint8Array, optimizer: Uint8Array): number {
    const restored = CausalLM.fromSafetensors(this.model.config, decodeSafetensors(policy));
    this.model.loadParams(restored.params);
    const f = decodeSafetensors(optimizer);
    if (f.metadata.optimizer !== 'adamw') throw new Error(`restore: the optimizer file is not an AdamW state (metadata.optimizer=${f.metadata.optimizer})`);
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [k, t] of f.tensors) {
      if (k.startsWith('m.')) m.set(k.slice(2), t.data as Float32Array);
      else if (k.startsWith('v.')) v.set(k.slice(2), t.data as Float32Array);
    }
    this.trainer.optimizer.importState({ step: Number(f.metadata.step), m, v });
    this.updates = Number(f.metadata.version ?? f.metadata.step);
    return this.updates;
  }
}

/** Spawnable reference to LearnerActor. */
export const LearnerActorClass = actorClass<typeof LearnerActor>(import.meta.url, 'LearnerActor');
