import { CausalLM, type ExecutionProvider, ValueTrainer, decodeSafetensors, encodeSafetensors, type ValueBatch } from '@cohort/engine';
import { actorClass, actorContext, collectiveGroup, inActor, type ActorHandle } from '@cohort/runtime';
import type { Logger } from 'pino';
import type { AlgorithmParams, TrainConfig } from '../config/schema.js';
import type { CollatedBatch } from '../trajectory/collate.js';
import { responseToRows, rowTokens } from './engine-batch.js';
import { paramChecksum } from './param-checksum.js';
import { decodeWeights, encodeWeights } from './weight-publisher.js';
import { criticParams } from '../algorithms/ppo.js';

/** Constructor argument of a CriticActor. */
export interface CriticActorSpec {
  /** Execution providers of this actor's sessions (config `devices`; default cpu). */
  device?: ExecutionProvider[];
  rank: number;
  worldSize: number;
  /** The warm-start policy (config.json + model.safetensors): the critic's trunk starts from it. */
  modelDir: string;
  /** `criticLr` (constant) and `valueClip` are read from here (the algorithm's parameters). */
  params: AlgorithmParams;
  /** AdamW betas, eps, weight decay and the gradient-norm clip (shared with the policy). */
  optimizer: Pick<TrainConfig['optimizer'], 'betas' | 'eps' | 'weightDecay' | 'gradClip'>;
  microBatch: number;
  /** Seed of the value head's initialisation; the same on every critic so they start identical. */
  seed: number;
  /** Collective group of the data-parallel critics (formed by the driver; default `critics`). */
  group?: string;
}

/** What one data-parallel critic `trainStep` returns (the same on every critic). */
export interface CriticStepResult {
  /** Critic updates applied so far. */
  updates: number;
  /** Row-weighted mean clipped value loss over every critic's shard (before the update). */
  valueLoss: number;
  gradNorm: number;
  lr: number;
  rows: number;
  /** Seconds this critic spent computing its gradient / in the all-reduce. */
  gradientS: number;
  allreduceS: number;
}

/** Name of the statistics vector carried through the all-reduce with the gradients. */
const STATS = '\u0000stats';

/**
 * The critic's engine batch for a collated batch: token rows, the loss mask (policy
 * tokens only), and the response-aligned `returns` and `oldValues` (the clip anchor)
 * spread over each row (0 on the prompt).
 */
export function toValueBatch(batch: CollatedBatch, returns: Float32Array, oldValues: Float32Array): ValueBatch & { oldValues: number[][] } {
  return {
    inputIds: rowTokens(batch),
    lossMask: responseToRows(batch, batch.lossMask),
    returns: responseToRows(batch, returns),
    oldValues: responseToRows(batch, oldValues),
  };
}

/**
 * PPO's value model, one per RL bundle: the warm-start policy's decoder trunk
 * plus a linear value head (the engine's ValueTrainer). `values` scores token
 * rows; `trainStep` computes the clipped value loss (`valueClip` around the
 * values the batch was scored with) on this critic's shard, all-reduces the
 * gradient with the other critics through the runtime's ring collective
 * (weighted by rows) and applies it with AdamW at the constant `criticLr`.
 * Every critic applies the same averaged gradient, so parameters stay identical.
 */
export class CriticActor {
  readonly model: CausalLM;
  private readonly trainer: ValueTrainer;
  private readonly log: Logger | undefined;

  constructor(private readonly spec: CriticActorSpec) {
    this.model = CausalLM.load(spec.modelDir, spec.device ? { executionProviders: spec.device } : {});
    this.log = inActor() ? actorContext().logger.child({ actor: `critic-${spec.rank}` }) : undefined;
    const o = spec.optimizer;
    this.trainer = new ValueTrainer(this.model, {
      logger: this.log,
      optimizer: { lr: criticParams(spec.params).criticLr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay },
      maxGradNorm: o.gradClip,
      microBatchSize: spec.microBatch,
      value: { clipRange: criticParams(spec.params).valueClip, aggregation: 'token-mean' },
      seed: spec.seed,
    });
  }

  /** Critic updates applied so far. */
  updates(): number {
    return this.trainer.optimizer.step;
  }

  /** Per-token values of token rows (entry t: the value before token t; entry 0 is 0). */
  async values(inputIds: number[][]): Promise<Float32Array[]> {
    return this.trainer.values({ inputIds });
  }

  /**
   * One data-parallel critic update: the clipped value-loss gradient of this
   * critic's shard (null or empty: no rows), all-reduced among the critics of
   * the group weighted by rows, clipped and applied with AdamW. Call it on
   * every critic of the group at once.
   */
  async trainStep(batch: (ValueBatch & { oldValues: number[][] }) | null): Promise<CriticStepResult> {
    const t0 = performance.now();
    const stats = new Float32Array(2);
    let grads: Map<string, Float32Array>;
    if (batch && batch.inputIds.length > 0) {
      const r = await this.trainer.gradients(batch);
      grads = r.grads;
      const n = batch.inputIds.length;
      for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= n;
      stats.set([n, r.loss * n]);
    } else {
      grads = new Map([...this.trainParams()].map(([k, p]) => [k, new Float32Array(p.length)]));
    }
    grads.set(STATS, stats);
    const t1 = performance.now();
    const reduced = await collectiveGroup(this.spec.group ?? 'critics').allreduce(grads, 'sum');
    const t2 = performance.now();
    const [rows, loss] = reduced.get(STATS)!;
    reduced.delete(STATS);
    if (!(rows > 0)) throw new Error('CriticActor.trainStep: no critic had rows in this mini-batch');
    for (const g of reduced.values()) for (let i = 0; i < g.length; i++) g[i] /= rows;
    const { gradNorm, lr } = this.trainer.applyGradients(reduced);
    return { updates: this.trainer.optimizer.step, valueLoss: loss / rows, gradNorm, lr, rows, gradientS: (t1 - t0) / 1000, allreduceS: (t2 - t1) / 1000 };
  }

  /** Trunk and value-head parameters (what the optimizer updates). */
  private trainParams(): Map<string, Float32Array> {
    return new Map([...this.model.params, ...this.trainer.head]);
  }

  /** A checksum of trunk and value head (to check that data-parallel critics agree). */
  paramChecksum(): number {
    return paramChecksum(this.trainParams());
  }

  /** Critic weights (HF trunk tensors plus `value_head.*`) and AdamW state as safetensors bytes, for checkpoints. */
  checkpointFiles(): { critic: Uint8Array; criticOptimizer: Uint8Array; updates: number } {
    const tensors = this.model.hfTensors();
    const H = this.model.config.hidden_size;
    for (const [name, a] of this.trainer.head) tensors[name] = { shape: name.endsWith('weight') ? [H, 1] : [1], data: a };
    return {
      critic: encodeSafetensors(tensors, { format: 'pt', role: 'critic' }),
      criticOptimizer: this.trainer.optimizer.stateBytes(),
      updates: this.trainer.optimizer.step,
    };
  }

  /** Trunk, value head and AdamW state as bytes (exact), for a replacement critic. */
  exportState(): { params: Uint8Array; optimizer: Uint8Array; version: number } {
    const step = this.trainer.optimizer.step;
    return { params: encodeWeights(this.trainParams(), step), optimizer: this.trainer.optimizer.stateBytes(), version: step };
  }

  /** Loads what {@link exportState} gave; returns the number of updates. */
  importState(state: { params: Uint8Array; optimizer: Uint8Array; version: number }): number {
    const params = decodeWeights(state.params, state.version);
    for (const [name, dst] of this.trainParams()) {
      const src = params.get(name);
      if (!src || src.length !== dst.length) throw new Error(`CriticActor.importState: the peer's state lacks '${name}' (${dst.length} values)`);
      dst.set(src);
    }
    this.trainer.optimizer.loadStateBytes(state.optimizer, "a peer critic's optimizer state");
    return this.trainer.optimizer.step;
  }

  /** Takes trunk, value head and optimizer state from a peer critic over the data plane (no disk). */
  async loadStateFrom(peer: ActorHandle<CriticActor>): Promise<{ version: number; bytes: number; seconds: number }> {
    const t0 = performance.now();
    const st = await peer.exportState();
    const version = this.importState(st);
    return { version, bytes: st.params.byteLength + st.optimizer.byteLength, seconds: (performance.now() - t0) / 1000 };
  }

  /** Restores what `checkpointFiles` wrote; returns the number of updates. */
  restore(critic: Uint8Array, criticOptimizer: Uint8Array): number {
    const f = decodeSafetensors(critic);
    // The trunk from its HF tensors; the value head's tensors are read below (the loader refuses tensors it does not use).
    const head = new Set([...this.trainer.head.keys()]);
    const trunk = { tensors: new Map([...f.tensors].filter(([n]) => !head.has(n))), metadata: f.metadata };
    this.model.loadParams(CausalLM.fromSafetensors(this.model.config, trunk).params);
    for (const [name, a] of this.trainer.head) {
      const t = f.tensors.get(name);
      if (!t || t.data.length !== a.length) throw new Error(`CriticActor.restore: the critic file lacks '${name}' (${a.length} values); it is not a critic checkpoint`);
      a.set(t.data as Float32Array);
    }
    this.trainer.optimizer.loadStateBytes(criticOptimizer, "CriticActor.restore: the critic's optimizer file");
    return this.trainer.optimizer.step;
  }
}

/** Spawnable reference to CriticActor. */
export const CriticActorClass = actorClass<typeof CriticActor>(import.meta.url, 'CriticActor');
