import { CausalLM, PolicyTrainer, clipGradNorm, decodeSafetensors, encodeSafetensors, lrSchedule, type PolicyBatch } from '@cohort/engine';
import { actorClass, actorContext, collectiveGroup, inActor, type ActorHandle } from '@cohort/runtime';
import type { Logger } from 'pino';
import type { RolloutActor } from '../rollout/rollout-actor.js';
import { paramChecksum } from './param-checksum.js';
import { WeightPublisher, type PublishResult, type WeightTransport } from './weight-publisher.js';
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
  /** Collective group of the data-parallel learners (formed by the driver; default `learners`). */
  group?: string;
}

/**
 * What one data-parallel `trainStep` returns (the same on every learner): the
 * loss parts as row-weighted means over every learner's shard, `rows` over all shards.
 */
export interface TrainStepResult extends Omit<GradientResult, 'grads'> {
  version: number;
  gradNorm: number;
  lr: number;
  /** Seconds this learner spent computing its gradient / in the all-reduce. */
  gradientS: number;
  allreduceS: number;
}

/** Name of the statistics vector carried through the all-reduce with the gradients. */
const STATS = '\u0000stats';

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
 * shard, all-reduces it with the other learners through the runtime's ring
 * collective and applies it with AdamW (`trainStep`). Every learner applies
 * the same averaged gradient, so parameters stay identical; the version counts
 * applied updates. Learner 0 publishes the weights to the rollouts.
 */
export class LearnerActor {
  readonly model: CausalLM;
  private readonly trainer: PolicyTrainer;
  private readonly lr: (step: number) => number;
  private updates = 0;
  private readonly log: Logger | undefined;
  private publisher: WeightPublisher | undefined;

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

  /**
   * One data-parallel update: the gradient of this learner's shard (null or
   * empty: no rows), all-reduced among the learners of the group weighted by
   * rows (a sum of grads*rows and of rows, then divided), clipped and applied
   * with AdamW. Every learner applies the bit-identical result, so parameters
   * stay identical. Call it on every learner of the group at once.
   */
  async trainStep(batch: PolicyBatch | null): Promise<TrainStepResult> {
    const t0 = performance.now();
    const stats = new Float32Array(6);
    let grads: Map<string, Float32Array>;
    if (batch && batch.inputIds.length > 0) {
      const r = await this.gradients(batch);
      grads = r.grads;
      const n = r.rows;
      for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= n;
      stats.set([n, r.loss * n, r.pgLoss * n, r.klLoss * n, r.entropyLoss * n, r.clipFrac * n]);
    } else {
      grads = new Map([...this.model.params].map(([k, p]) => [k, new Float32Array(p.length)]));
    }
    grads.set(STATS, stats);
    const t1 = performance.now();
    const reduced = await collectiveGroup(this.spec.group ?? 'learners').allreduce(grads, 'sum');
    const t2 = performance.now();
    const [rows, loss, pg, kl, ent, clip] = reduced.get(STATS)!;
    reduced.delete(STATS);
    if (!(rows > 0)) throw new Error('trainStep: no learner had rows in this mini-batch');
    for (const g of reduced.values()) for (let i = 0; i < g.length; i++) g[i] /= rows;
    const applied = this.applyGradients(reduced);
    return { ...applied, loss: loss / rows, pgLoss: pg / rows, klLoss: kl / rows, entropyLoss: ent / rows, clipFrac: clip / rows, rows, gradientS: (t1 - t0) / 1000, allreduceS: (t2 - t1) / 1000 };
  }

  /**
   * Publishes the current weights as `version` to the rollouts: those on this
   * learner's node load one file from shared memory, the others get the
   * tensors over the bulk path (learner to rollout). `transport` forces one way.
   */
  async publishWeights(version: number, rollouts: ActorHandle<RolloutActor>[], transport?: WeightTransport): Promise<PublishResult> {
    if (version !== this.updates) throw new Error(`publishWeights: this learner holds version ${this.updates}, not ${version}`);
    const ctx = inActor() ? actorContext() : undefined;
    this.publisher ??= new WeightPublisher(ctx?.actorId ?? `learner-${this.spec.rank}-${process.pid}`, ctx?.nodeId);
    const infos = await Promise.all(rollouts.map((h) => h.$info()));
    const r = await this.publisher.publish(version, this.model.params, rollouts.map((handle, i) => ({ handle, nodeId: infos[i]?.nodeId })), transport);
    this.log?.debug({ ...r }, 'weights published');
    return r;
  }

  /** The weights of the last published version (to bring a restarted rollout back to it). */
  publishedWeights(version: number): Map<string, Float32Array> {
    if (!this.publisher) throw new Error(`publishedWeights: nothing was published yet (asked for version ${version})`);
    return this.publisher.published(version);
  }

  /** Removes this learner's weight files from shared memory (also done when its process exits). */
  closePublisher(): readonly string[] {
    const files = [...(this.publisher?.liveFiles ?? [])];
    this.publisher?.close();
    return files;
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
    return paramChecksum(this.model.params);
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
