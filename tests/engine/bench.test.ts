import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEngineBench } from '../../engine/src/bench/engine-bench.js';
import { activationBytes } from '../../engine/src/model/memory.js';
import { TINY_CONFIG, BENCH_5M_CONFIG } from '../../engine/src/io/model-config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('bench: the bench config has ~5M parameters; the activation estimate scales with tokens', (t) => {
  const m = BENCH_5M_CONFIG;
  const perLayer = m.hidden_size * (m.num_attention_heads * m.head_dim) * 2 + m.hidden_size * m.num_key_value_heads * m.head_dim * 2 + 3 * m.hidden_size * m.intermediate_size;
  const approx = m.vocab_size * m.hidden_size + m.num_hidden_layers * perLayer;
  t.true(approx > 4.5e6 && approx < 5.5e6);
  t.is(activationBytes(m, 32, 64), 2 * activationBytes(m, 16, 64));
});

test('bench: a tiny run reports every key with finite positive values (no timing assertions)', async (t) => {
  const r = await runEngineBench({ config: TINY_CONFIG, batch: 2, seq: 8, trainSteps: 1, genBatch: 2, genPrompt: 3, newTokens: 6, gemmReps: 1, threads: 1 });
  for (const k of ['params', 'gemm_gflops', 'train_gflops', 'train_tokens_per_s', 'gen_tokens_per_s_kv', 'gen_tokens_per_s_nokv', 'peak_rss_mb', 'mem_estimate_mb'] as const) {
    t.true(Number.isFinite(r[k]) && r[k] > 0, k);
  }
  t.is(r.params, 20768);
  t.is(r.gemm.length, 4);
  t.is(typeof r.pass.kv, 'boolean');
});

test('bench: the CLI rejects bad flags with the list of valid ones', (t) => {
  const out = spawnSync(process.execPath, [path.join(root, 'cli/bin/cohort.mjs'), 'bench', 'engine', '--bogus'], { encoding: 'utf8', cwd: root });
  t.not(out.status, 0);
  t.regex(out.stderr + out.stdout, /--json/);
  const bad = spawnSync(process.execPath, [path.join(root, 'cli/bin/cohort.mjs'), 'bench', 'engine', '--batch', 'x'], { encoding: 'utf8', cwd: root });
  t.not(bad.status, 0);
  t.regex(bad.stderr + bad.stdout, /--batch must be a positive integer/);
});
