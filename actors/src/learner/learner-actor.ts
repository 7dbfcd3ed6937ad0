import { CausalLM, type ExecutionProvider, PolicyTrainer, decodeOptimizerState, decodeSafetensors, encodeOptimizerState, encodeSafetensors, type AdamWState, type PolicyBatch } from '@cohort/engine';
import { actorClass, actorContext, collectiveGroup, inActor, ownedRange, type ActorHandle, type CollectiveGroup } from '@cohort/runtime';
import { ZeroShard } from './zero-shard.js';
import type { Logger } from 'pino';
import type { RolloutActor } from '../rollout/rollout-actor.js';
import { paramChecksum } from './param-checksum.js';
import { WeightPublisher, decodeWeights, encodeWeights, type PublishResult, type WeightTransport } from './weight-publisher.js';
import type { AlgorithmParams, TrainConfig } from '../config/schema.js';
import { loadPolicyLoss } from '../algorithms/registry.js';
import '../algorithms/builtins.js';

/** Constructor argument of a LearnerActor. */
export interface LearnerActorSpec {
  /** Execution providers of this actor's sessions (config `devices`; default cpu). */
  device?: ExecutionProvider[];
  rank: number;
  worldSize: number;
  /** Initial policy (config.json + model.safetensors). */
  modelDir: string;
  /** The algorithm; `plugins` (absolute paths) are imported here when its name is not registered in this process. */
  algorithm: { name: string; params: AlgorithmParams; plugins?: string[] };
  optimizer: TrainConfig['optimizer'];
  /** Optimizer steps of the whole run (for the warm-up schedule). */
  totalUpdates: number;
  microBatch: number;
  /** Most policy tokens one response can hold (for losses that normalise by it, e.g. Dr. GRPO). */
  maxResponseTokens?: number;
  /** Truncated importance sampling cap (async mode, `correction: importance`): the loss is wrapped in TIS; null/absent: off. */
  tisCap?: number | null;
  /** Collective group of the data-parallel learners (formed by the driver; default `learners`). */
  group?: string;
  /**
   * ZeRO-1 (config optimizer.zeroStage 1): each learner keeps AdamW state only for its shard of
   * the parameters (1/worldSize of them); gradients are reduce-scattered, each learner updates
   * its shard, and the parameters are all-gathered. Checkpoints hold the full state as usual.
   */
  zero?: boolean;
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
  /** Bytes of the all-reduced data (the flat gradients and the loss statistics). */
  allreduceBytes: number;
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
  /** Every scalar metric the compiled loss reports (the four above under their graph names, and a plug-in's own). */
  metrics: Record<string, number>;
  rows: number;
}

/**
 * One data-parallel learner: recomputes old log-probs, computes the gradient
 * of the chosen algorithm's policy loss (its graph plug-in; PPO-clip with the
 * KL *added* for the built-ins) on its shard, all-reduces it with the other learners through the runtime's ring
 * collective and applies it with AdamW (`trainStep`). Every learner applies
 * the same averaged gradient, so parameters stay identical; the version counts
 * applied updates. Learner 0 publishes the weights to the rollouts.
 */
export class LearnerActor {
  readonly model: CausalLM;
  private readonly trainer: PolicyTrainer;
  private updates = 0;
  private readonly log: Logger | undefined;
  private publisher: WeightPublisher | undefined;
  private readonly shard: ZeroShard | undefined;

  constructor(private readonly spec: LearnerActorSpec) {
    this.model = CausalLM.load(spec.modelDir, spec.device ? { executionProviders: spec.device } : {});
    this.log = inActor() ? actorContext().logger.child({ actor: `learner-${spec.rank}` }) : undefined;
    // ZeRO-1: the parameters move into one flat buffer (before any session caches them), and AdamW covers this learner's shard only.
    this.shard = spec.zero ? new ZeroShard(this.model.params, this.model.specs.map((x) => x.name), (n) => ownedRange(n, spec.rank, spec.worldSize)) : undefined;
    const o = spec.optimizer;
    this.trainer = new PolicyTrainer(this.model, {
      logger: this.log,
      ...(this.shard ? { optimizerParams: this.shard.paramViews } : {}),
      optimizer: { lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay },
      schedule: { lr: o.lr, warmupSteps: Math.round(o.warmupRatio * spec.totalUpdates) },
      maxGradNorm: o.gradClip,
      microBatchSize: spec.microBatch,
      // The algorithm's policy loss (its plug-in imported here if need be), compiled once into this learner's training graph.
      loss: loadPolicyLoss(spec.algorithm, { maxResponseTokens: spec.maxResponseTokens, tisCap: spec.tisCap }),
    });
  }

  /** The name and metric names of the compiled policy loss (waits for a plug-in to load; its load error is thrown here). */
  async policyLoss(): Promise<{ name: string; metrics: readonly string[] }> {
    return { name: (await this.trainer.policyLoss()).name, metrics: await this.trainer.metricNames() };
  }

  /** Policy version: optimizer updates applied so far. */
  version(): number {
    return this.updates;
  }

  /** Per-token log-probs of token rows under the current weights (the "old" log-probs); `temperature` divides the logits first. */
  async score(inputIds: number[][], temperature = 1): Promise<Float32Array[]> {
    return (await this.model.score({ inputIds }, { microBatchSize: this.spec.microBatch, temperature })).logprobs;
  }

  /** Loss and gradient of the policy loss on a shard (no update). */
  async gradients(batch: PolicyBatch): Promise<GradientResult> {
    const r = await this.trainer.gradients({ ...batch, oldLogprobs: batch.oldLogprobs! });
    return { grads: r.grads, loss: r.loss, ...lossParts(r.metrics), metrics: r.metrics, rows: batch.inputIds.length };
  }

  /**
   * One data-parallel update: the gradient of this learner's shard (null or
   * empty: no rows), all-reduced among the learners of the group weighted by
   * rows (a sum of grads*rows and of rows, then divided), clipped and applied
   * with AdamW. Every learner applies the bit-identical result, so parameters
   * stay identical. Call it on every learner of the group at once.
   */
  async trainStep(batch: PolicyBatch | null): Promise<TrainStepResult> {
    if (this.shard) return this.zeroStep(batch, this.shard);
    const t0 = performance.now();
    const { grads, stats, names } = await this.rowWeightedGradients(batch);
    if (grads.size === 0) for (const [k, p] of this.model.params) grads.set(k, new Float32Array(p.length));
    grads.set(STATS, stats);
    const t1 = performance.now();
    const group = collectiveGroup(this.spec.group ?? 'learners');
    const reduced = await group.allreduce(grads, 'sum');
    const t2 = performance.now();
    const [rows, loss, ...sums] = reduced.get(STATS)!;
    reduced.delete(STATS);
    if (!(rows > 0)) throw new Error('trainStep: no learner had rows in this mini-batch');
    for (const g of reduced.values()) for (let i = 0; i < g.length; i++) g[i] /= rows;
    const applied = this.applyGradients(reduced);
    const metrics = Object.fromEntries(names.map((k, i) => [k, sums[i] / rows]));
    return { ...applied, loss: loss / rows, ...lossParts(metrics), metrics, rows, gradientS: (t1 - t0) / 1000, allreduceS: (t2 - t1) / 1000, allreduceBytes: group.lastOp?.bytes ?? 0 };
  }

  /**
   * The shard's gradient times its rows, and [rows, loss·rows, then each of the loss's metrics
   * ·rows by sorted name] (what the group sums before dividing by all rows; the same layout on
   * every learner, which compile the same loss); no grads and zero stats without rows.
   */
  private async rowWeightedGradients(batch: PolicyBatch | null): Promise<{ grads: Map<string, Float32Array>; stats: Float32Array; names: readonly string[] }> {
    const names = await this.trainer.metricNames();
    const stats = new Float32Array(2 + names.length);
    if (!batch || batch.inputIds.length === 0) return { grads: new Map(), stats, names };
    const r = await this.gradients(batch);
    const n = r.rows;
    for (const g of r.grads.values()) for (let i = 0; i < g.length; i++) g[i] *= n;
    stats.set([n, r.loss * n, ...names.map((k) => (r.metrics[k] ?? 0) * n)]);
    return { grads: r.grads, stats, names };
  }

  /** The learners' collective group, checked against this learner's rank and world size (ZeRO shards depend on them). */
  private group(): CollectiveGroup {
    const g = collectiveGroup(this.spec.group ?? 'learners');
    if (this.shard && (g.rank !== this.spec.rank || g.world !== this.spec.worldSize)) {
      throw new Error(`ZeRO-1 learner ${this.spec.rank} of ${this.spec.worldSize} is rank ${g.rank} of ${g.world} in group "${g.name}"; form the group with the learners in rank order`);
    }
    return g;
  }

  /**
   * {@link trainStep} with ZeRO-1: the row-weighted gradient sum is reduce-scattered (this
   * learner gets its shard, bit-identical to the same range of the all-reduce), divided by the
   * rows, clipped with the global norm (float64 partial sums of every shard, all-gathered),
   * applied by this learner's AdamW to its shard of the parameters, and the parameters are
   * all-gathered. Same result as the all-reduce path: bit-identical without clipping for two
   * learners; with clipping, or with more learners (sums associate in another order), within
   * float32 rounding (tested: 1e-6 relative).
   */
  private async zeroStep(batch: PolicyBatch | null, shard: ZeroShard): Promise<TrainStepResult> {
    const t0 = performance.now();
    const { grads, stats, names } = await this.rowWeightedGradients(batch);
    const flat = shard.flattenGrads(grads);
    const t1 = performance.now();
    const group = this.group();
    const [rows, loss, ...sums] = await group.allreduce(stats, 'sum');
    const owned = await group.reduceScatter(flat, 'sum');
    // The gradient's size, as the all-reduce path reports it (the reduce-scatter sends half of what an all-reduce does).
    const bytes = group.lastOp?.bytes ?? 0;
    const t2 = performance.now();
    if (!(rows > 0)) throw new Error('trainStep: no learner had rows in this mini-batch');
    let part = 0;
    for (let i = 0; i < owned.length; i++) {
      owned[i] /= rows;
      part += owned[i] * owned[i];
    }
    const gradNorm = Math.sqrt((await group.allgather(part)).reduce((a, b) => a + b, 0));
    const u = this.trainer.applyGradients(shard.views(owned), { gradNorm });
    await group.allgatherChunks(shard.flat);
    this.updates++;
    const metrics = Object.fromEntries(names.map((k, i) => [k, sums[i] / rows]));
    return {
      version: this.updates, gradNorm: u.gradNorm, lr: u.lr,
      loss: loss / rows, ...lossParts(metrics), metrics, rows,
      gradientS: (t1 - t0) / 1000, allreduceS: (t2 - t1) / 1000, allreduceBytes: bytes,
    };
  }

  /** Bytes of AdamW moments this learner holds (all parameters' without ZeRO, its shard's with it). */
  optimizerStateBytes(): number {
    const s = this.trainer.optimizer.exportState();
    let n = 0;
    for (const a of [...s.m.values(), ...s.v.values()]) n += a.byteLength;
    return n;
  }

  /**
   * ZeRO-1 checkpoints: every learner but 0 calls this while learner 0 runs
   * {@link checkpointFiles}; it sends its optimizer shard to learner 0, which writes the full state.
   */
  async shareOptimizerShard(): Promise<void> {
    if (!this.shard) throw new Error('shareOptimizerShard: this learner does not shard its optimizer state (zero is off)');
    await this.group().gather({ range: this.shard.range, state: this.trainer.optimizer.exportState() }, 0);
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

  /**
   * The weights of the last published version (to bring a restarted rollout
   * back to it); a learner that took over from a lost learner 0 serves its
   * own weights when they are that version.
   */
  publishedWeights(version: number): Map<string, Float32Array> {
    if (this.publisher?.lastVersion === version) return this.publisher.published(version);
    if (version === this.updates) return this.model.params;
    if (!this.publisher) throw new Error(`publishedWeights: nothing was published yet and this learner holds version ${this.updates} (asked for version ${version})`);
    return this.publisher.published(version);
  }

  /**
   * This learner's whole training state as bytes: the parameters (graph
   * layout, exact) and the AdamW state ({@link encodeOptimizerState}), with
   * the version. What a replacement learner takes from a surviving peer.
   */
  exportState(): { params: Uint8Array; optimizer: Uint8Array; version: number } {
    if (this.shard) throw new Error("exportState: with ZeRO-1 this learner holds only its shard of the AdamW state; a lost learner's shard is in the last checkpoint only");
    return { params: encodeWeights(this.model.params, this.updates), optimizer: this.trainer.optimizer.stateBytes({ version: String(this.updates) }), version: this.updates };
  }

  /** Loads what {@link exportState} gave (bit for bit); returns the version. */
  importState(state: { params: Uint8Array; optimizer: Uint8Array; version: number }): number {
    this.model.loadParams(decodeWeights(state.params, state.version));
    const meta = this.trainer.optimizer.loadStateBytes(state.optimizer, "a peer learner's optimizer state");
    this.updates = Number(meta.version);
    if (this.updates !== state.version) throw new Error(`importState: the optimizer state is of version ${meta.version}, the parameters of ${state.version}`);
    return this.updates;
  }

  /**
   * Takes parameters and optimizer state from a peer learner (learner to
   * learner over the data plane's bulk path; no disk): how a replacement
   * joins a data-parallel group whose members are bit-identical.
   */
  async loadStateFrom(peer: ActorHandle<LearnerActor>): Promise<{ version: number; bytes: number; seconds: number }> {
    const t0 = performance.now();
    const st = await peer.exportState();
    const version = this.importState(st);
    this.log?.info({ version }, 'state taken from a peer learner');
    return { version, bytes: st.params.byteLength + st.optimizer.byteLength, seconds: (performance.now() - t0) / 1000 };
  }

  /** Removes this learner's weight files from shared memory (also done when its process exits). */
  closePublisher(): readonly string[] {
    const files = [...(this.publisher?.liveFiles ?? [])];
    this.publisher?.close();
    return files;
  }

  /** Applies an (all-reduced) gradient with the engine's step (clip, schedule, guard, AdamW); returns the new version, the pre-clip norm and the lr used. */
  applyGradients(grads: Map<string, Float32Array>): { version: number; gradNorm: number; lr: number } {
    if (this.shard) throw new Error('applyGradients: a ZeRO-1 learner updates only its shard; use trainStep on every learner of the group');
    const u = this.trainer.applyGradients(grads);
    this.updates++;
    return { version: this.updates, gradNorm: u.gradNorm, lr: u.lr };
  }

  /** The current weights (graph layout) for rollouts. */
  weights(): Map<string, Float32Array> {
    return this.model.params;
  }

  /** A checksum of the parameters (to check that data-parallel learners agree). */
  paramChecksum(): number {
    return paramChecksum(this.model.params);
  }

  /**
   * Policy and optimizer state as safetensors bytes, for checkpoints. With ZeRO-1 it is called
   * on learner 0 while the others run {@link shareOptimizerShard}: their shards are gathered and
   * the file holds the full AdamW state, in the same format as without ZeRO (a run can resume
   * with or without it).
   */
  async checkpointFiles(): Promise<{ policy: Uint8Array; optimizer: Uint8Array; version: number }> {
    const opt = this.trainer.optimizer;
    let optimizer: Uint8Array;
    if (this.shard) {
      const shards = (await this.group().gather({ range: this.shard.range, state: opt.exportState() }, 0)) as { range: [number, number]; state: AdamWState }[] | undefined;
      if (!shards) throw new Error('checkpointFiles: with ZeRO-1 call it on learner 0 (the others run shareOptimizerShard)');
      optimizer = encodeOptimizerState(this.shard.assembleState(shards), { opts: JSON.stringify(opt.opts), version: String(this.updates) });
    } else optimizer = opt.stateBytes({ version: String(this.updates) });
    return { policy: encodeSafetensors(this.model.hfTensors(), { format: 'pt' }), optimizer, version: this.updates };
  }

  /**
   * Restores policy and optimizer state written by `checkpointFiles` (the
   * bytes of a checkpoint's policy and optimizer files); returns the version.
   */
  restore(policy: Uint8Array, optimizer: Uint8Array): number {
    const restored = CausalLM.fromSafetensors(this.model.config, decodeSafetensors(policy));
    this.model.loadParams(restored.params);
    let meta: Record<string, string>;
    if (this.shard) {
      // The file holds the full state (written with or without ZeRO): this learner keeps its shard.
      const full = decodeOptimizerState(optimizer, "the checkpoint's optimizer file");
      this.trainer.optimizer.importState(this.shard.sliceState(full.state));
      meta = full.metadata;
    } else meta = this.trainer.optimizer.loadStateBytes(optimizer, "the checkpoint's optimizer file");
    this.updates = Number(meta.version ?? meta.step);
    return this.updates;
  }
}

/** The PPO-style loss parts under their graph names (0 for a loss that does not report one). */
function lossParts(m: Record<string, number>): Pick<GradientResult, 'pgLoss' | 'klLoss' | 'entropyLoss' | 'clipFrac'> {
  return { pgLoss: m.pg_loss ?? 0, klLoss: m.kl_loss ?? 0, entropyLoss: m.entropy_loss ?? 0, clipFrac: m.clip_frac ?? 0 };
}

/** Spawnable reference to LearnerActor. */
export const LearnerActorClass = actorClass<typeof LearnerActor>(import.meta.url, 'LearnerActor');
