import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadModelConfig, type ModelConfig } from '../io/model-config.js';
import { decoderParamSpecs, transpose2d, type ParamSpec } from '../io/weight-names.js';
import { readSafetensors, writeSafetensors, type SafetensorsFile, type SafeTensorInput, type FloatStoreDType, type LazyTensorInput } from '../io/safetensors.js';
import { CheckpointReader, writeCheckpoint, type WriteCheckpointOptions, type WrittenCheckpoint } from '../io/checkpoint.js';
import { hfConfigJson } from '../io/model-config.js';
import { engineLogger } from '../session/logger.js';
import { fileSource, loadWeights, type IgnoredTensor } from './load-weights.js';
import { Rng } from '../random/rng.js';
import { buildInferenceGraph } from './decoder-graph.js';
import { buildScoreGraph } from './score-graph.js';
import { f32, i64, type Feeds } from './model-session.js';
import { Session } from '../session/session.js';
import { parseSessionOptions, type SessionOptions } from '../session/options.js';
import type { Graph } from '../graph/graph.js';
import { packBatch, decoderFeeds, type TokenBatch } from './batch.js';

/** Per-token results of {@link CausalLM.score}: entry t of row b concerns token t (entry 0 is 0). */
export interface TokenScores {
  /** log p(token_t | tokens_<t), one array per sequence (its own length). */
  logprobs: Float32Array[];
  /** Entropy of the predictive distribution at t (predicting token t). */
  entropy: Float32Array[];
}

/**
 * A Qwen2/Llama-family causal LM whose parameters live in JS Float32Arrays keyed by HF names
 * (linear weights transposed to [in, out]). Graph sessions take the parameters as inputs, so an
 * optimizer step or a weight sync changes the arrays in place and needs no re-export.
 */
export class CausalLM {
  readonly specs: ParamSpec[];
  readonly runOptions: SessionOptions;
  private readonly sessions = new Map<string, Promise<Session>>();
  private feedCache: Feeds | null = null;

  constructor(
    readonly config: ModelConfig,
    /** Parameters by HF name, graph layout. */
    readonly params: Map<string, Float32Array>,
    runOptions: SessionOptions = {},
  ) {
    this.runOptions = parseSessionOptions(runOptions);
    this.specs = decoderParamSpecs(config);
    for (const s of this.specs) {
      const p = params.get(s.name);
      const n = s.shape.reduce((a, d) => a * d, 1);
      if (!p) throw new Error(`CausalLM: parameter '${s.name}' is missing`);
      if (p.length !== n) throw new Error(`CausalLM: parameter '${s.name}' has ${p.length} elements, shape [${s.shape}] needs ${n}`);
    }
  }

  /** A freshly initialised model: normal(0, std) weights, unit norms, zero biases; seeded. */
  static random(config: ModelConfig, opts: { seed?: number; std?: number } & SessionOptions = {}): CausalLM {
    const { seed: _seed, std: _std, ...run } = opts;
    const rng = new Rng(opts.seed ?? 0);
    const std = opts.std ?? 0.02;
    const params = new Map<string, Float32Array>();
    for (const s of decoderParamSpecs(config)) {
      const a = new Float32Array(s.shape.reduce((x, d) => x * d, 1));
      if (s.init === 'ones') a.fill(1);
      else if (s.init === 'normal') for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
      params.set(s.name, a);
    }
    return new CausalLM(config, params, run);
  }

  /**
   * Loads HF-named weights from one safetensors file (a path or a decoded file); see
   * {@link loadWeights} for what is checked and which tensors may be left out.
   */
  static fromSafetensors(config: ModelConfig, src: string | SafetensorsFile, runOptions: SessionOptions = {}, opts: { logger?: Logger } = {}): CausalLM {
    const file = typeof src === 'string' ? readSafetensors(src) : src;
    const w = loadWeights(config, fileSource(file), { where: typeof src === 'string' ? src : 'checkpoint', logger: opts.logger ?? engineLogger() });
    return new CausalLM(config, w.params, runOptions);
  }

  /**
   * Loads a Hugging Face model directory: `config.json` and its weights, either
   * `model.safetensors` or `model.safetensors.index.json` with shards, read tensor by tensor
   * (F16 / BF16 widened to float32: every graph here computes in float32, on every provider).
   * Tensors left out are logged (and listed in `lastLoadIgnored`); unknown ones are an error.
   */
  static load(dir: string, runOptions: SessionOptions = {}, opts: { logger?: Logger } = {}): CausalLM {
    const cfg = loadModelConfig(dir);
    const reader = CheckpointReader.open(dir);
    try {
      const w = loadWeights(cfg, reader, { where: dir, logger: opts.logger ?? engineLogger() });
      const m = new CausalLM(cfg, w.params, runOptions);
      m.lastLoadIgnored = w.ignored;
      return m;
    } finally {
      reader.close();
    }
  }

  /** Checkpoint tensors the last {@link CausalLM.load} left out, with reasons (empty when all were used). */
  lastLoadIgnored: IgnoredTensor[] = [];

  /** The HF-layout tensor of one parameter (a transposed copy for linear weights). */
  hfTensor(name: string): Float32Array {
    const s = this.specs.find((x) => x.name === name);
    const p = this.params.get(name);
    if (!s || !p) throw new Error(`hfTensor: no parameter '${name}'`);
    return s.transposed ? transpose2d(p, s.shape[0], s.shape[1]) : p;
  }

  /** HF-layout tensors of the parameters (copies for transposed weights). */
  hfTensors(): Record<string, SafeTensorInput> {
    const out: Record<string, SafeTensorInput> = {};
    for (const s of this.specs) out[s.name] = { shape: s.hfShape, data: this.hfTensor(s.name) };
    return out;
  }

  /** Writes the parameters as one HF-named safetensors file (`floatDType` BF16 / F16 rounds to nearest even). */
  toSafetensors(file: string, metadata: Record<string, string> = {}, floatDType: FloatStoreDType = 'F32'): void {
    writeSafetensors(file, this.lazyHfTensors(), { format: 'pt', ...metadata }, { floatDType });
  }

  private lazyHfTensors(): Map<string, LazyTensorInput> {
    return new Map(this.specs.map((s) => [s.name, { shape: s.hfShape, data: () => this.hfTensor(s.name) }]));
  }

  /**
   * Writes `config.json` and the weights into `dir` in the layout `transformers` loads
   * (`from_pretrained(dir)`): one `model.safetensors`, or shards + `model.safetensors.index.json`
   * when the weights exceed `maxShardBytes` (default 5 GB). `dtype` BF16 / F16 stores half
   * precision (`torch_dtype` in config.json follows). Tied models write no `lm_head.weight`, as
   * transformers does. Transposed copies are made one tensor at a time.
   */
  save(dir: string, opts: WriteCheckpointOptions = {}): WrittenCheckpoint {
    mkdirSync(dir, { recursive: true });
    const written = writeCheckpoint(dir, [...this.lazyHfTensors()], opts);
    const tmp = path.join(dir, `config.json.tmp-${process.pid}`);
    writeFileSync(tmp, JSON.stringify(hfConfigJson(this.config, opts.dtype ?? 'F32'), null, 2) + '\n');
    renameSync(tmp, path.join(dir, 'config.json'));
    return written;
  }

  /** Copies parameter values from another model or map (same names and sizes), in place. */
  loadParams(src: Map<string, Float32Array>): void {
    for (const [name, p] of this.params) {
      const s = src.get(name);
      if (!s || s.length !== p.length) throw new Error(`loadParams: '${name}' is missing or has the wrong size`);
      p.set(s);
    }
  }

  /** A deep copy (own parameter arrays, own sessions), e.g. a frozen reference policy. */
  clone(runOptions: SessionOptions = this.runOptions): CausalLM {
    return new CausalLM(this.config, new Map([...this.params].map(([k, v]) => [k, Float32Array.from(v)])), runOptions);
  }

  /** Total number of parameters. */
  get paramCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.length;
    return n;
  }

  /** Parameter feeds (ORT tensors wrapping the live arrays; cached, since updates are in place). */
  paramFeeds(): Feeds {
    if (!this.feedCache) {
      const f: Feeds = {};
      for (const s of this.specs) f[s.name] = f32(this.params.get(s.name)!, s.shape);
      this.feedCache = f;
    }
    return this.feedCache;
  }

  /** A session for a named graph, built once per model and reused (`extra` adds session options, e.g. deviceOutputs). */
  session(key: string, build: () => Graph, extra: SessionOptions = {}): Promise<Session> {
    let s = this.sessions.get(key);
    if (!s) {
      s = Session.create(build(), { ...this.runOptions, ...extra });
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Names of the KV-cache outputs of the inference graphs (present_key.l, present_value.l). */
  get presentNames(): string[] {
    const out: string[] = [];
    for (let l = 0; l < this.config.num_hidden_layers; l++) out.push(`present_key.${l}`, `present_value.${l}`);
    return out;
  }

  /**
   * The prefill (no past) and one-step decode inference sessions. Their KV-cache outputs stay in
   * device memory between decode steps where the provider allows it (webgpu; see
   * `deviceOutputLocations`); on cpu / cuda they come back to CPU memory.
   */
  inferenceSession(kind: 'prefill' | 'decode'): Promise<Session> {
    return this.session(kind, () => buildInferenceGraph(this.config, kind), { deviceOutputs: this.presentNames });
  }

  /**
   * Per-token log-probabilities and entropies of (ragged) sequences under the model, e.g. for
   * PPO's old / reference log-probs. `temperature` divides the logits first. Rows run in
   * chunks of `microBatchSize` (default 64) to bound the [rows·seq, vocab] logits memory.
   */
  async score(batch: TokenBatch, opts: { temperature?: number; microBatchSize?: number } = {}): Promise<TokenScores> {
    const temperature = opts.temperature ?? 1;
    const mbs = opts.microBatchSize ?? 64;
    if (!(temperature > 0)) throw new Error(`score: temperature must be > 0, got ${temperature}`);
    if (!Number.isInteger(mbs) || mbs < 1) throw new Error(`score: microBatchSize must be a positive integer, got ${mbs}`);
    const n = batch.inputIds?.length ?? 0;
    if (n === 0) throw new Error('score: inputIds must be a non-empty array of token-id arrays');
    const sess = await this.session(`score:${temperature}`, () => buildScoreGraph(this.config, temperature));
    const logprobs: Float32Array[] = [];
    const entropy: Float32Array[] = [];
    for (let start = 0; start < n; start += mbs) {
      const end = Math.min(n, start + mbs);
      const packed = packBatch({ inputIds: batch.inputIds.slice(start, end), attentionMask: batch.attentionMask?.slice(start, end) }, this.config.vocab_size);
      const { B, T } = packed;
      const targets = new BigInt64Array(B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = BigInt(packed.ids[b * T + t + 1]);
      const feeds: Feeds = { ...this.paramFeeds(), ...decoderFeeds(this.config, packed), targets: i64(targets, [B, T]) };
      const out = await sess.run(feeds, ['logprobs', 'entropy']);
      const lp = out.logprobs.data as Float32Array;
      const en = out.entropy.data as Float32Array;
      for (let b = 0; b < B; b++) {
        const len = packed.lengths[b];
        const l = new Float32Array(len);
        const e = new Float32Array(len);
        for (let t = 1; t < len; t++) {
          l[t] = lp[b * T + t - 1];
          e[t] = en[b * T + t - 1];
        }
        logprobs.push(l);
        entropy.push(e);
      }
    }
    return { logprobs, entropy };
  }

  /** Releases every session of this model. */
  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) {
      try {
        await (await s).release();
      } catch {
        // a session that failed to build has nothing to release
      }
    }
  }
}
