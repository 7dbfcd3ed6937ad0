import { activationBytes } from '../model/memory.js';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { Logger } from 'pino';
import { Graph } from '../graph/graph.js';
import { matmul } from '../ops/matmul.js';
import { Session } from '../session/session.js';
import type { SessionOptions } from '../session/options.js';
import { BENCH_5M_CONFIG, type ModelConfig } from '../io/model-config.js';
import { CausalLM } from '../model/causal-lm.js';
import { f32 } from '../model/model-session.js';
import { SftTrainer } from '../train/trainer.js';
import { generate } from '../generate/generate.js';
import { Rng } from '../random/rng.js';

/** Settings of {@link runEngineBench}. */
export const engineBenchOptionsSchema = z.object({
  /** Model config (default: the ~5M-parameter bench config). */
  config: z.custom<ModelConfig>().optional(),
  batch: z.number().int().positive().default(32),
  seq: z.number().int().min(2).default(64),
  /** Timed train steps (after one warm-up step). */
  trainSteps: z.number().int().positive().default(3),
  genBatch: z.number().int().positive().default(8),
  genPrompt: z.number().int().positive().default(16),
  newTokens: z.number().int().positive().default(256),
  /** Timed runs of each GEMM shape (after one warm-up). */
  gemmReps: z.number().int().positive().default(5),
  threads: z.number().int().positive().optional(),
  executionProvider: z.enum(['cpu', 'webgpu', 'cuda']).default('cpu'),
  logger: z.custom<Logger>().optional(),
});
export type EngineBenchOptions = z.input<typeof engineBenchOptionsSchema>;

/** One GEMM shape's measurement. */
export interface GemmResult {
  m: number;
  k: number;
  n: number;
  /** How many times the shape occurs in one forward pass. */
  count: number;
  gflops: number;
}

/** Everything `cohort bench engine` reports. */
export interface EngineBenchReport {
  params: number;
  config: { hidden: number; layers: number; heads: number; kv_heads: number; intermediate: number; vocab: number };
  batch: number;
  seq: number;
  threads: number | null;
  execution_provider: string;
  gemm: GemmResult[];
  /** FLOP-weighted MatMul rate over the model's shapes: Σ flops / Σ time. */
  gemm_gflops: number;
  train_step_s: number;
  train_tokens_per_s: number;
  /** 6 · params · tokens / s. */
  train_gflops: number;
  train_vs_gemm: number;
  peak_rss_mb: number;
  rss_before_train_mb: number;
  /** params + grads + AdamW m, v + activations, in MB. */
  mem_estimate_mb: number;
  mem_estimate_parts_mb: { params: number; grads: number; optimizer: number; activations: number };
  /** (peak RSS − RSS before the train session) / estimate. */
  mem_vs_estimate: number;
  /** One AdamW update of all parameters: JS loop vs ONNX graph (incl. copying results back). */
  adamw_js_ms: number;
  adamw_onnx_ms: number;
  gen_batch: number;
  gen_prompt: number;
  new_tokens: number;
  gen_tokens_per_s_kv: number;
  gen_tokens_per_s_nokv: number;
  kv_speedup: number;
  targets: { train_vs_gemm_min: number; kv_speedup_min: number; mem_vs_estimate_max: number };
  pass: { train: boolean; kv: boolean; memory: boolean };
}

const MB = 1024 * 1024;
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;
const rssMb = (): number => process.memoryUsage().rss / MB;

async function timeGemm(m: number, k: number, n: number, reps: number, so: SessionOptions, rng: Rng): Promise<number> {
  const g = new Graph(`gemm_${m}x${k}x${n}`);
  const a = g.input('a', 'float32', [m, k]);
  const b = g.input('b', 'float32', [k, n]);
  g.output('c', matmul(a, b));
  const s = await Session.create(g, so);
  try {
    const feeds = {
      a: f32(Float32Array.from({ length: m * k }, () => rng.normal()), [m, k]),
      b: f32(Float32Array.from({ length: k * n }, () => rng.normal()), [k, n]),
    };
    await s.run(feeds);
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await s.run(feeds);
      best = Math.min(best, performance.now() - t0);
    }
    return (2 * m * k * n) / (best / 1000) / 1e9;
  } finally {
    await s.release();
  }
}


/**
 * The engine benchmark: GEMM roofline at the model's shapes, train-step FLOP/s and peak memory
 * at batch × seq, and generation tokens/s with and without the KV cache.
 */
export async function runEngineBench(options: EngineBenchOptions = {}): Promise<EngineBenchReport> {
  const o = engineBenchOptionsSchema.parse(options);
  const cfg = o.config ?? BENCH_5M_CONFIG;
  const so: SessionOptions = { executionProvider: o.executionProvider, ...(o.threads ? { threads: o.threads } : {}) };
  const log = o.logger;
  const rng = new Rng(1);
  const tokens = o.batch * o.seq;

  // 1. GEMM roofline at the shapes of the model's linear layers (M = batch·seq rows).
  const H = cfg.hidden_size;
  const qd = cfg.num_attention_heads * cfg.head_dim;
  const kvd = cfg.num_key_value_heads * cfg.head_dim;
  const L = cfg.num_hidden_layers;
  const shapes: [number, number, number][] = [
    [H, qd, L], [H, kvd, 2 * L], [qd, H, L], [H, cfg.intermediate_size, 2 * L], [cfg.intermediate_size, H, L], [H, cfg.vocab_size, 1],
  ].map(([k, n, c]) => [k, n, c] as [number, number, number]);
  const gemm: GemmResult[] = [];
  let flops = 0;
  let secs = 0;
  for (const [k, n, count] of shapes) {
    if (gemm.some((x) => x.k === k && x.n === n)) {
      gemm.find((x) => x.k === k && x.n === n)!.count += count;
    } else {
      const gflops = await timeGemm(tokens, k, n, o.gemmReps, so, rng);
      gemm.push({ m: tokens, k, n, count, gflops });
    }
  }
  for (const x of gemm) {
    const f = 2 * x.m * x.k * x.n * x.count;
    flops += f;
    secs += f / (x.gflops * 1e9);
  }
  const gemmGflops = flops / secs / 1e9;
  log?.info({ gemmGflops, gemm }, 'gemm roofline');

  // 2. Train step (SFT: forward + backward + AdamW) at batch × seq.
  const model = CausalLM.random(cfg, { seed: 0, ...so });
  const P = model.paramCount;
  const rssBefore = rssMb();
  const trainer = new SftTrainer(model, { microBatchSize: o.batch, optimizer: { lr: 1e-4 } });
  const ids = Array.from({ length: o.batch }, () => Array.from({ length: o.seq }, () => Math.floor(rng.next() * cfg.vocab_size)));
  await trainer.step({ inputIds: ids }); // warm-up: builds the graph and session
  const t0 = performance.now();
  for (let i = 0; i < o.trainSteps; i++) await trainer.step({ inputIds: ids });
  const stepS = (performance.now() - t0) / 1000 / o.trainSteps;
  const peak = peakRssMb();
  const trainTokS = tokens / stepS;
  const trainGflops = (6 * P * tokens) / stepS / 1e9;
  const parts = { params: (4 * P) / MB, grads: (4 * P) / MB, optimizer: (8 * P) / MB, activations: activationBytes(cfg, o.batch, o.seq) / MB };
  const estimate = parts.params + parts.grads + parts.optimizer + parts.activations;
  log?.info({ stepS, trainGflops, peak }, 'train step');

  // AdamW update: JS typed-array loop vs an ONNX graph (the choice in adamw.ts rests on this).
  const adamw = await benchAdamWUpdate(P, 3, so);

  // 3. Generation with and without the KV cache.
  const prompts = Array.from({ length: o.genBatch }, () => Array.from({ length: o.genPrompt }, () => Math.floor(rng.next() * cfg.vocab_size)));
  const genOpts = { maxNewTokens: o.newTokens, temperature: 0 };
  await generate(model, prompts, { ...genOpts, maxNewTokens: 2 }); // warm-up both sessions
  await generate(model, prompts, { ...genOpts, maxNewTokens: 2, useCache: false });
  let t1 = performance.now();
  const kvOut = await generate(model, prompts, genOpts);
  const kvS = (performance.now() - t1) / 1000;
  t1 = performance.now();
  const noOut = await generate(model, prompts, { ...genOpts, useCache: false });
  const noS = (performance.now() - t1) / 1000;
  const count = (out: { tokens: number[] }[]) => out.reduce((s, x) => s + x.tokens.length, 0);
  await model.release();

  const kvTps = count(kvOut) / kvS;
  const noTps = count(noOut) / noS;
  const targets = { train_vs_gemm_min: 0.35, kv_speedup_min: 5, mem_vs_estimate_max: 4 };
  const memRatio = (peak - rssBefore) / estimate;
  return {
    params: P,
    config: { hidden: H, layers: L, heads: cfg.num_attention_heads, kv_heads: cfg.num_key_value_heads, intermediate: cfg.intermediate_size, vocab: cfg.vocab_size },
    batch: o.batch,
    seq: o.seq,
    threads: o.threads ?? null,
    execution_provider: o.executionProvider,
    gemm,
    gemm_gflops: gemmGflops,
    train_step_s: stepS,
    train_tokens_per_s: trainTokS,
    train_gflops: trainGflops,
    train_vs_gemm: trainGflops / gemmGflops,
    peak_rss_mb: peak,
    rss_before_train_mb: rssBefore,
    mem_estimate_mb: estimate,
    mem_estimate_parts_mb: parts,
    mem_vs_estimate: memRatio,
    adamw_js_ms: adamw.js_ms,
    adamw_onnx_ms: adamw.onnx_ms,
    gen_batch: o.genBatch,
    gen_prompt: o.genPrompt,
    new_tokens: o.newTokens,
    gen_tokens_per_s_kv: kvTps,
    gen_tokens_per_s_nokv: noTps,
    kv_speedup: kvTps / noTps,
    targets,
    pass: { train: trainGflops / gemmGflops >= targets.train_vs_gemm_min, kv: kvTps / noTps >= targets.kv_speedup_min, memory: memRatio <= targets.mem_vs_estimate_max },
  };
}

/** Time of one AdamW update over `n` parameters: the JS typed-array loop vs the same math as an ONNX graph. */
export async function benchAdamWUpdate(n: number, reps = 3, so: SessionOptions = {}): Promise<{ js_ms: number; onnx_ms: number }> {
  const { AdamW } = await import('../train/adamw.js');
  const { add, mul, div, sub } = await import('../ops/elementwise.js');
  const { sqrt } = await import('../ops/unary.js');
  const rng = new Rng(3);
  const p = Float32Array.from({ length: n }, () => rng.normal());
  const gr = Float32Array.from({ length: n }, () => rng.normal());
  const opt = new AdamW(new Map([['p', p]]), { lr: 1e-3 });
  const grads = new Map([['p', gr]]);
  opt.update(grads);
  let js = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    opt.update(grads);
    js = Math.min(js, performance.now() - t0);
  }
  // ONNX: p' = p·(1−lr·wd) − a·m'/(sqrt(v')/c + eps) with m' and v' as outputs.
  const g = new Graph('adamw_update');
  const P = g.input('p', 'float32', [n]);
  const G = g.input('g', 'float32', [n]);
  const M = g.input('m', 'float32', [n]);
  const V = g.input('v', 'float32', [n]);
  const m2 = add(mul(M, 0.9), mul(G, 0.1));
  const v2 = add(mul(V, 0.999), mul(mul(G, G), 0.001));
  g.output('p2', sub(mul(P, 0.99999), mul(div(m2, add(div(sqrt(v2), 0.03), 1e-8)), 1e-3)));
  g.output('m2', m2);
  g.output('v2', v2);
  const s = await Session.create(g, so);
  try {
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const feeds = { p: f32(p, [n]), g: f32(gr, [n]), m: f32(m, [n]), v: f32(v, [n]) };
    await s.run(feeds);
    let onnx = Infinity;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const out = await s.run(feeds);
      // the results must land back in the live arrays
      p.set(out.p2.data as Float32Array);
      m.set(out.m2.data as Float32Array);
      v.set(out.v2.data as Float32Array);
      onnx = Math.min(onnx, performance.now() - t0);
    }
    return { js_ms: js, onnx_ms: onnx };
  } finally {
    await s.release();
  }
}
