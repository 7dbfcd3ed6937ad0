import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { CausalLM } from '../model/causal-lm.js';
import { packBatch, decoderFeeds } from '../model/batch.js';
import { f32, i64, type Feeds } from '../model/model-session.js';
import type { Session } from '../session/session.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { Rng } from '../random/rng.js';
import { AdamW, adamWOptionsSchema } from './adamw.js';
import { CheckpointReader } from '../io/checkpoint.js';
import { loadWeights } from '../model/load-weights.js';
import { lrSchedule, type LrScheduleOptions } from './schedule.js';
import { GradAccumulator, type GradMap } from './grad-utils.js';
import { applyGradients, type AppliedUpdate } from './apply-gradients.js';
import { AGGREGATIONS, valueLossOptionsSchema, type BasicAggregation } from './losses.js';
import { POLICY_LOSS_FEEDS, ppoPolicyLoss, type PolicyLoss, type PolicyLossOptions } from './policy-loss.js';
import { VALUE_HEAD, buildPolicyGraph, buildSftGraph, buildValueGraph, gradName } from './train-graphs.js';
import { decoderParamSpecs } from '../io/weight-names.js';

/** Options shared by every trainer. */
export const trainerOptionsSchema = z.object({
  optimizer: adamWOptionsSchema.default({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }),
  /** Learning-rate schedule; default: constant optimizer.lr. */
  schedule: z.custom<LrScheduleOptions>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
  /** Global grad-norm clip; null disables. */
  maxGradNorm: z.number().positive().nullable().default(1.0),
  /** Rows per forward/backward pass; a step accumulates gradients over ceil(B / microBatchSize) passes. */
  microBatchSize: z.number().int().positive().default(64),
  logger: z.custom<Logger>().optional(),
  /**
   * The tensors AdamW keeps moments for and updates (default: every trainable parameter). A
   * ZeRO-1 learner passes views (subarrays, same names) of the slice of the parameters it owns,
   * so the optimizer state it holds is that slice's.
   */
  optimizerParams: z.custom<Map<string, Float32Array>>((v) => v === undefined || v instanceof Map).optional(),
});
export type TrainerOptions = z.input<typeof trainerOptionsSchema>;

/** Metrics of one optimizer step (averaged over micro-batches where per-pass). */
export interface StepMetrics {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  tokens: number;
  microBatches: number;
  /** Extra scalars from the loss graph (pg_loss, kl_loss, entropy_loss, clip_frac). */
  [k: string]: number;
}

/** Per-token values aligned with inputIds: entry t concerns token t (entry 0 is ignored). */
export type PerToken = readonly (readonly number[])[];

function parse<T extends z.ZodType>(schema: T, v: unknown, what: string): z.output<T> {
  const r = schema.safeParse(v);
  if (!r.success) throw new Error(`invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

// A micro-batch packed for a loss graph: trunk feeds, targets and shifted per-token arrays.
interface Packed {
  feeds: Feeds;
  tokens: number;
}

function packShifted(model: CausalLM, inputIds: PerToken, attentionMask: PerToken | undefined, lossMask: PerToken | undefined, perToken: Record<string, PerToken | undefined>, rows: number[], withTargets = true): Packed {
  const ids = rows.map((r) => inputIds[r]);
  const am = attentionMask ? rows.map((r) => attentionMask[r]) : undefined;
  const packed = packBatch({ inputIds: ids, attentionMask: am }, model.config.vocab_size);
  const { B, T } = packed;
  const targets = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T);
  let tokens = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const n = inputIds[r].length;
    const lm = lossMask?.[r];
    if (lm && lm.length !== n) throw new Error(`lossMask[${r}] has ${lm.length} entries, inputIds[${r}] has ${n}`);
    for (let t = 0; t + 1 < n; t++) {
      targets[i * T + t] = BigInt(inputIds[r][t + 1]);
      const m = (lm ? lm[t + 1] : 1) * (packed.mask[i * T + t + 1] ? 1 : 0);
      mask[i * T + t] = m ? 1 : 0;
      tokens += m ? 1 : 0;
    }
  }
  const feeds: Feeds = { ...model.paramFeeds(), ...decoderFeeds(model.config, packed), loss_mask: f32(mask, [B, T]) };
  if (withTargets) feeds.targets = i64(targets, [B, T]);
  for (const [name, arr] of Object.entries(perToken)) {
    const a = new Float32Array(B * T);
    if (arr) {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const row = arr[r];
        if (!row || row.length !== inputIds[r].length) throw new Error(`${name}[${r}] must have one value per token (${inputIds[r].length}), got ${row?.length}`);
        for (let t = 0; t + 1 < row.length; t++) a[i * T + t] = row[t + 1];
      }
    }
    feeds[name] = f32(a, [B, T]);
  }
  return { feeds, tokens };
}

/** Un-shifts a [B,T] graph output back to per-token arrays (entry 0 = 0). */
function unshift(t: ort.Tensor, rows: number[], inputIds: PerToken, into: Float32Array[]): void {
  const T = t.dims[1];
  const d = t.data as Float32Array;
  rows.forEach((r, i) => {
    const n = inputIds[r].length;
    const a = new Float32Array(n);
    for (let k = 1; k < n; k++) a[k] = d[i * T + k - 1];
    into[r] = a;
  });
}

/**
 * Shared machinery: micro-batching with gradient accumulation, grad-norm clipping, AdamW with
 * a schedule, and checkpoints (parameters + optimizer state + step).
 */
abstract class TrainerBase {
  readonly optimizer: AdamW;
  protected readonly opts: z.output<typeof trainerOptionsSchema>;
  private readonly lr: (step: number) => number;
  protected readonly acc = new GradAccumulator();
  /** Child logger (component = trainer class); absent when no logger was given. */
  protected readonly log: Logger | undefined;

  protected constructor(readonly model: CausalLM, protected readonly trainParams: Map<string, Float32Array>, options: TrainerOptions) {
    this.opts = parse(trainerOptionsSchema, options, 'trainer options');
    this.log = this.opts.logger?.child({ component: new.target.name });
    const decayNames = new Set(decoderParamSpecs(model.config).filter((s) => s.decay).map((s) => s.name));
    decayNames.add(VALUE_HEAD.weight);
    this.optimizer = new AdamW(this.opts.optimizerParams ?? trainParams, this.opts.optimizer, (name) => decayNames.has(name));
    this.lr = this.opts.schedule ? lrSchedule(this.opts.schedule) : () => this.opts.optimizer.lr;
  }

  /** Optimizer steps taken. */
  get globalStep(): number {
    return this.optimizer.step;
  }

  protected abstract session(): Promise<Session>;
  protected abstract extraFeeds(): Feeds;

  protected microBatches(n: number): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < n; i += this.opts.microBatchSize) out.push(Array.from({ length: Math.min(this.opts.microBatchSize, n - i) }, (_, k) => i + k));
    return out;
  }

  /**
   * Runs forward+backward on each micro-batch and accumulates gradients (each scaled by
   * 1 / number of micro-batches) into `this.acc`. Returns the averaged scalars and token count.
   */
  protected async accumulate(rowsTotal: number, pack: (rows: number[]) => Packed, fetchScalars: readonly string[]): Promise<{ sums: Record<string, number>; tokens: number; micro: number }> {
    const sess = await this.session();
    const mbs = this.microBatches(rowsTotal);
    this.acc.reset();
    const sums: Record<string, number> = { loss: 0 };
    for (const k of fetchScalars) sums[k] = 0;
    let tokens = 0;
    for (const rows of mbs) {
      const { feeds, tokens: tk } = pack(rows);
      tokens += tk;
      const out = await sess.run({ ...feeds, ...this.extraFeeds() });
      const grads = new Map<string, Float32Array>();
      for (const name of this.trainParams.keys()) grads.set(name, out[gradName(name)].data as Float32Array);
      this.acc.add(grads, 1 / mbs.length);
      sums.loss += (out.loss.data as Float32Array)[0] / mbs.length;
      for (const k of fetchScalars) sums[k] += (out[k].data as Float32Array)[0] / mbs.length;
    }
    return { sums, tokens, micro: mbs.length };
  }

  /** {@link accumulate}, then grad-norm clipping and one AdamW update at the scheduled lr. */
  protected async runStep(rowsTotal: number, pack: (rows: number[]) => Packed, fetchScalars: readonly string[]): Promise<StepMetrics> {
    const { sums, tokens, micro } = await this.accumulate(rowsTotal, pack, fetchScalars);
    const { gradNorm, lr } = this.applyGradients(this.acc.grads);
    const m: StepMetrics = { ...sums, step: this.optimizer.step, loss: sums.loss, gradNorm, lr, tokens, microBatches: micro };
    this.log?.debug(m, 'train step');
    return m;
  }

  /**
   * One optimizer update with gradients computed elsewhere (e.g. all-reduced
   * over data-parallel learners): the engine's {@link applyGradients} with this
   * trainer's clip, the scheduled lr of the next step and its AdamW. `grads` is
   * scaled in place by the clip. `gradNorm`: the global norm when `grads` is one
   * shard of a sharded gradient.
   */
  applyGradients(grads: GradMap, o: { gradNorm?: number } = {}): AppliedUpdate {
    return applyGradients(this.optimizer, grads, { maxGradNorm: this.opts.maxGradNorm, lr: this.lr(this.optimizer.step + 1), gradNorm: o.gradNorm, logger: this.log });
  }

  /** Copies of the accumulated gradients of the last pass, by parameter name. */
  protected gradCopies(): Map<string, Float32Array> {
    return new Map([...this.acc.grads].map(([k, g]) => [k, Float32Array.from(g)]));
  }

  /**
   * Saves a checkpoint into `dir`: `model.safetensors` + `config.json` (HF layout),
   * `optimizer.safetensors` (AdamW moments, step), and extra trainable tensors (value head).
   */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.model.save(dir);
    this.optimizer.save(path.join(dir, 'optimizer.safetensors'));
    const extra = [...this.trainParams].filter(([n]) => !this.model.params.has(n));
    if (extra.length) writeSafetensors(path.join(dir, 'extra.safetensors'), Object.fromEntries(extra.map(([n, a]) => [n, { shape: [a.length], data: a }])));
    writeFileSync(path.join(dir, 'trainer.json'), JSON.stringify({ step: this.optimizer.step, kind: this.constructor.name }, null, 2));
  }

  /** Restores parameters and optimizer state from a {@link save} directory. */
  load(dir: string): void {
    // model.safetensors or an index with shards (model.save shards a large model), read as CausalLM.load reads them.
    const reader = CheckpointReader.open(dir);
    try {
      this.model.loadParams(loadWeights(this.model.config, reader, { where: dir }).params);
    } finally {
      reader.close();
    }
    const extraFile = path.join(dir, 'extra.safetensors');
    if (existsSync(extraFile)) for (const [n, t] of readSafetensors(extraFile).tensors) this.trainParams.get(n)?.set(t.data as Float32Array);
    this.optimizer.load(path.join(dir, 'optimizer.safetensors'));
    JSON.parse(readFileSync(path.join(dir, 'trainer.json'), 'utf8'));
  }
}

/** A batch for policy-gradient updates. Every per-token array is aligned with inputIds. */
export interface PolicyBatch {
  inputIds: PerToken;
  attentionMask?: PerToken;
  /** 1 on tokens the policy is trained on (the response), 0 elsewhere (prompt, observations). */
  lossMask: PerToken;
  advantages: PerToken;
  /** Log-probs under the behaviour policy; default: the current model's (computed first). */
  oldLogprobs?: PerToken;
  /** Log-probs under the reference model; needed when the loss requires them (klCoef > 0). */
  refLogprobs?: PerToken;
  /** Log-probs the rollout recorded when sampling; needed when the loss requires them (truncated importance sampling). */
  rolloutLogprobs?: PerToken;
}

/** Step metrics of a policy update: the loss's own scalar metrics (pg_loss, kl_loss, ... for PPO-clip). */
export type PolicyStepResult = StepMetrics;

/**
 * Policy-gradient updates on a {@link CausalLM} with any {@link PolicyLoss} (default: the
 * built-in PPO-clip loss from `loss` options). The loss is compiled once into the training
 * graph; the session is cached by the loss's key.
 */
export class PolicyTrainer extends TrainerBase {
  private readonly lossReady: Promise<PolicyLoss>;
  private names: readonly string[] | undefined;

  /**
   * `loss`: PPO-clip options, a {@link PolicyLoss}, or a promise of one (a loss whose module
   * is still loading; it is awaited when the graph is first built, and its failure is
   * reported by the first step).
   */
  constructor(model: CausalLM, options: TrainerOptions & { loss?: PolicyLossOptions | PolicyLoss | Promise<PolicyLoss> } = {}) {
    const { loss, ...rest } = options;
    super(model, model.params, rest);
    this.lossReady = loss instanceof Promise ? loss : Promise.resolve(isPolicyLoss(loss) ? loss : ppoPolicyLoss(loss ?? {}));
    this.lossReady.catch(() => undefined); // surfaced by the first call that needs it
  }

  /** The policy loss compiled into this trainer's graph. */
  policyLoss(): Promise<PolicyLoss> {
    return this.lossReady;
  }

  protected async session(): Promise<Session> {
    const loss = await this.lossReady;
    const s = await this.model.session(`policy:${loss.key}`, () => buildPolicyGraph(this.model.config, loss));
    this.names ??= s.outputNames.filter((n) => n !== 'loss' && n !== 'logprobs' && n !== 'entropy' && !n.startsWith('grad.'));
    return s;
  }
  protected extraFeeds(): Feeds {
    return {};
  }

  /** Names of the scalar metrics the compiled loss reports, sorted (builds the graph if needed). */
  async metricNames(): Promise<readonly string[]> {
    await this.session();
    return [...this.names!].sort();
  }

  private async check(batch: PolicyBatch, where: string): Promise<number> {
    const n = batch.inputIds?.length ?? 0;
    if (n === 0) throw new Error(`PolicyTrainer.${where}: batch.inputIds is empty`);
    if (!batch.advantages || !batch.lossMask) throw new Error(`PolicyTrainer.${where}: batch needs lossMask and advantages (one value per token)`);
    const loss = await this.lossReady;
    for (const need of loss.requires ?? []) {
      if (!batch[need]) throw new Error(`PolicyTrainer.${where}: the "${loss.name}" loss needs batch.${need}${need === 'refLogprobs' ? ' (compute them with refModel.score(...))' : ' (the log-probs the rollout recorded)'}`);
    }
    return n;
  }

  /** One optimizer step over the batch (micro-batched). */
  async step(batch: PolicyBatch): Promise<PolicyStepResult> {
    const n = await this.check(batch, 'step');
    let old = batch.oldLogprobs;
    if (!old) old = (await this.model.score({ inputIds: batch.inputIds, attentionMask: batch.attentionMask })).logprobs.map((a) => Array.from(a));
    const o = old;
    return this.runStep(n, this.packer(batch, o), await this.metricNames());
  }

  /** Loss, the loss's metrics and the gradients for a batch, without updating anything. */
  async gradients(batch: PolicyBatch & { oldLogprobs: PerToken }): Promise<{ loss: number; grads: Map<string, Float32Array>; metrics: Record<string, number> }> {
    await this.check(batch, 'gradients');
    const { sums } = await this.accumulate(batch.inputIds.length, this.packer(batch, batch.oldLogprobs), await this.metricNames());
    const { loss, ...metrics } = sums;
    return { loss, metrics, grads: this.gradCopies() };
  }

  private packer(batch: PolicyBatch, old: PerToken): (rows: number[]) => Packed {
    const F = POLICY_LOSS_FEEDS;
    return (rows) =>
      packShifted(this.model, batch.inputIds, batch.attentionMask, batch.lossMask, { [F.advantages]: batch.advantages, [F.oldLogprobs]: old, [F.refLogprobs]: batch.refLogprobs ?? old, [F.rolloutLogprobs]: batch.rolloutLogprobs ?? old }, rows);
  }
}

function isPolicyLoss(v: unknown): v is PolicyLoss {
  return typeof v === 'object' && v !== null && typeof (v as PolicyLoss).build === 'function' && typeof (v as PolicyLoss).key === 'string';
}

/** A batch for supervised fine-tuning. */
export interface SftBatch {
  inputIds: PerToken;
  attentionMask?: PerToken;
  /** 1 on tokens to learn (e.g. the answer), default all tokens. */
  lossMask?: PerToken;
}

/** Supervised fine-tuning (masked cross-entropy) of a {@link CausalLM}. */
export class SftTrainer extends TrainerBase {
  readonly aggregation: BasicAggregation;

  constructor(model: CausalLM, options: TrainerOptions & { aggregation?: BasicAggregation } = {}) {
    const { aggregation, ...rest } = options;
    super(model, model.params, rest);
    this.aggregation = parse(z.enum(AGGREGATIONS).exclude(['seq-mean-token-sum-norm']).default('token-mean'), aggregation, 'SFT aggregation');
  }
  protected session(): Promise<Session> {
    return this.model.session(`sft:${this.aggregation}`, () => buildSftGraph(this.model.config, this.aggregation));
  }
  protected extraFeeds(): Feeds {
    return {};
  }

  /** One optimizer step; `loss` is the mean masked negative log-likelihood. */
  async step(batch: SftBatch): Promise<StepMetrics> {
    const n = batch.inputIds?.length ?? 0;
    if (n === 0) throw new Error('SftTrainer.step: batch.inputIds is empty');
    return this.runStep(n, (rows) => packShifted(this.model, batch.inputIds, batch.attentionMask, batch.lossMask, {}, rows), []);
  }

  /** Loss and gradients for a batch, without updating anything. */
  async gradients(batch: SftBatch): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const { sums } = await this.accumulate(batch.inputIds.length, (rows) => packShifted(this.model, batch.inputIds, batch.attentionMask, batch.lossMask, {}, rows), []);
    return { loss: sums.loss, grads: this.gradCopies() };
  }
}

/** A batch for critic updates; per-token arrays aligned with inputIds. */
export interface ValueBatch {
  inputIds: PerToken;
  attentionMask?: PerToken;
  lossMask: PerToken;
  returns: PerToken;
  /** Values under the critic that collected the data (for clipping); default: current. */
  oldValues?: PerToken;
}

/**
 * PPO critic: the decoder trunk plus a linear value head. The value of token t is predicted
 * from the hidden state at t−1 (the same alignment as log-probs).
 */
export class ValueTrainer extends TrainerBase {
  readonly head: Map<string, Float32Array>;
  readonly clipRange: number | null;
  readonly aggregation: BasicAggregation;

  constructor(model: CausalLM, options: TrainerOptions & { value?: z.input<typeof valueLossOptionsSchema>; seed?: number } = {}) {
    const { value, seed, ...rest } = options;
    const head = new Map<string, Float32Array>([
      [VALUE_HEAD.weight, new Float32Array(model.config.hidden_size)],
      [VALUE_HEAD.bias, new Float32Array(1)],
    ]);
    const rng = new Rng(seed ?? 0);
    const w = head.get(VALUE_HEAD.weight)!;
    for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.02;
    // An untied lm_head plays no part in the value (the graph has no gradient for it): not trained here.
    const trunk = [...model.params].filter(([name]) => !(model.config.tie_word_embeddings === false && name === 'lm_head.weight'));
    super(model, new Map([...trunk, ...head]), rest);
    this.head = head;
    const v = parse(valueLossOptionsSchema, value ?? {}, 'value loss options');
    this.clipRange = v.clipRange;
    this.aggregation = v.aggregation;
  }
  protected session(): Promise<Session> {
    return this.model.session(`value:${this.clipRange}:${this.aggregation}`, () => buildValueGraph(this.model.config, this.clipRange, this.aggregation));
  }
  protected extraFeeds(): Feeds {
    return { [VALUE_HEAD.weight]: f32(this.head.get(VALUE_HEAD.weight)!, [this.model.config.hidden_size, 1]), [VALUE_HEAD.bias]: f32(this.head.get(VALUE_HEAD.bias)!, [1]) };
  }

  /** Per-token values (entry t: value before token t; entry 0 is 0). */
  async values(batch: { inputIds: PerToken; attentionMask?: PerToken }): Promise<Float32Array[]> {
    const n = batch.inputIds.length;
    const zeros = batch.inputIds.map((r) => r.map(() => 0));
    const out: Float32Array[] = new Array(n);
    const sess = await this.session();
    for (const rows of this.microBatches(n)) {
      const { feeds } = packShifted(this.model, batch.inputIds, batch.attentionMask, zeros, { returns: zeros, old_values: zeros }, rows, false);
      const r = await sess.run({ ...feeds, ...this.extraFeeds() }, ['values']);
      unshift(r.values, rows, batch.inputIds, out);
    }
    return out;
  }

  /** Loss and gradients (LM trunk + value head) for a batch, without updating anything. */
  async gradients(batch: ValueBatch & { oldValues: PerToken }): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const { sums } = await this.accumulate(batch.inputIds.length, (rows) => packShifted(this.model, batch.inputIds, batch.attentionMask, batch.lossMask, { returns: batch.returns, old_values: batch.oldValues }, rows, false), []);
    return { loss: sums.loss, grads: this.gradCopies() };
  }

  /** One optimizer step of the clipped value loss. */
  async step(batch: ValueBatch): Promise<StepMetrics> {
    const n = batch.inputIds?.length ?? 0;
    if (n === 0) throw new Error('ValueTrainer.step: batch.inputIds is empty');
    if (!batch.returns || !batch.lossMask) throw new Error('ValueTrainer.step: batch needs lossMask and returns (one value per token)');
    let old = batch.oldValues;
    if (!old) old = (await this.values(batch)).map((a) => Array.from(a));
    const o = old;
    return this.runStep(n, (rows) => packShifted(this.model, batch.inputIds, batch.attentionMask, batch.lossMask, { returns: batch.returns, old_values: o }, rows, false), []);
  }
}
