import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

const USAGE = `Usage: cohort bench engine [--json] [--batch N] [--seq N] [--steps N] [--gen-batch N]
                          [--prompt N] [--new-tokens N] [--threads N] [--ep cpu|webgpu|cuda] [--tiny]

Measures, in one run, on the ~5M-parameter Qwen2-style bench model:
  GEMM roofline   ONNX Runtime MatMul GFLOP/s at the model's linear-layer shapes (M = batch·seq)
  train step      SFT forward+backward+AdamW, 6·params·tokens/s, vs the GEMM rate (target ≥ 35%)
  peak memory     peak RSS of the train step vs params+grads+AdamW+activations (target ≤ 4×)
  generation      tokens/s with and without the KV cache at --new-tokens (target ≥ 5×)
Defaults: --batch 32 --seq 64 --steps 3 --gen-batch 8 --prompt 16 --new-tokens 256.
--tiny uses the 20k-parameter test config (a smoke run).`;

function int(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

commands.push({
  path: ['bench', 'engine'],
  summary: 'benchmark the engine: GEMM roofline, train-step FLOP/s and memory, KV-cache generation',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, {
      json: { type: 'boolean' }, tiny: { type: 'boolean' },
      batch: { type: 'string' }, seq: { type: 'string' }, steps: { type: 'string' },
      'gen-batch': { type: 'string' }, prompt: { type: 'string' }, 'new-tokens': { type: 'string' },
      threads: { type: 'string' }, ep: { type: 'string' },
    }, false);
    const ep = values.ep ?? 'cpu';
    if (ep !== 'cpu' && ep !== 'webgpu' && ep !== 'cuda') throw new UsageError(`--ep must be cpu, webgpu or cuda, got '${ep}'`);
    const { TINY_CONFIG, BENCH_5M_CONFIG } = await import('@cohort/engine');
    const { runEngineBench } = await import('@cohort/engine/bench');
    const r = await runEngineBench({
      config: values.tiny ? TINY_CONFIG : BENCH_5M_CONFIG,
      batch: int(values.batch, 'batch', 32),
      seq: int(values.seq, 'seq', 64),
      trainSteps: int(values.steps, 'steps', 3),
      genBatch: int(values['gen-batch'], 'gen-batch', 8),
      genPrompt: int(values.prompt, 'prompt', 16),
      newTokens: int(values['new-tokens'], 'new-tokens', 256),
      threads: values.threads === undefined ? undefined : int(values.threads, 'threads', 1),
      executionProvider: ep,
    });
    if (values.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
      return 0;
    }
    const f = (x: number, d = 1) => x.toFixed(d);
    const ok = (b: boolean) => (b ? 'ok' : 'MISS');
    const lines = [
      `model: ${(r.params / 1e6).toFixed(2)}M params (hidden ${r.config.hidden}, ${r.config.layers} layers, ${r.config.heads}/${r.config.kv_heads} heads, vocab ${r.config.vocab}), ep ${r.execution_provider}`,
      `GEMM roofline (M=${r.batch * r.seq}):`,
      ...r.gemm.map((g) => `  ${g.m}x${g.k}x${g.n} ×${g.count}: ${f(g.gflops)} GFLOP/s`),
      `  FLOP-weighted: ${f(r.gemm_gflops)} GFLOP/s`,
      `train step (batch ${r.batch}, seq ${r.seq}): ${f(r.train_step_s, 3)} s, ${f(r.train_tokens_per_s, 0)} tok/s, ${f(r.train_gflops)} GFLOP/s = ${f(100 * r.train_vs_gemm)}% of GEMM [${ok(r.pass.train)}, target ≥ 35%]`,
      `memory: peak RSS ${f(r.peak_rss_mb, 0)} MB (before train ${f(r.rss_before_train_mb, 0)} MB); estimate ${f(r.mem_estimate_mb, 0)} MB (params ${f(r.mem_estimate_parts_mb.params)}, grads ${f(r.mem_estimate_parts_mb.grads)}, AdamW ${f(r.mem_estimate_parts_mb.optimizer)}, activations ${f(r.mem_estimate_parts_mb.activations)}); ratio ${f(r.mem_vs_estimate, 2)}× [${ok(r.pass.memory)}, target ≤ 4×]`,
      `AdamW update of all params: JS loop ${f(r.adamw_js_ms)} ms, ONNX graph ${f(r.adamw_onnx_ms)} ms`,
      `generation (batch ${r.gen_batch}, prompt ${r.gen_prompt}, ${r.new_tokens} new): KV ${f(r.gen_tokens_per_s_kv)} tok/s, no KV ${f(r.gen_tokens_per_s_nokv)} tok/s, ${f(r.kv_speedup)}× [${ok(r.pass.kv)}, target ≥ 5×]`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
});
