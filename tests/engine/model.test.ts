import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM } from '../../engine/src/model/causal-lm.js';
import { SftTrainer } from '../../engine/src/train/trainer.js';
import { parseModelConfig, TINY_CONFIG, type ModelConfig } from '../../engine/src/io/model-config.js';
import { decoderParamSpecs } from '../../engine/src/io/weight-names.js';
import { readSafetensors, writeSafetensors, type SafeTensorInput } from '../../engine/src/io/safetensors.js';
import { Rng } from '../../engine/src/random/rng.js';
import { referenceScores } from './model-reference.js';

/** A model with every parameter random (biases and norm gains too). */
function randomModel(cfg: ModelConfig, seed: number): CausalLM {
  const m = CausalLM.random(cfg, { seed, std: 0.15, threads: 1 });
  const rng = new Rng(seed + 100);
  for (const s of m.specs) {
    if (s.init === 'normal') continue;
    const a = m.params.get(s.name)!;
    for (let i = 0; i < a.length; i++) a[i] = (s.init === 'ones' ? 1 : 0) + 0.2 * rng.normal();
  }
  return m;
}

const seqs = [[3, 17, 42, 5, 9, 60, 1], [7, 7, 30], [11, 2, 63, 48, 20]];

test('model: ONNX scores equal a direct JS Qwen2 forward (GQA, q/k/v bias, tied head; ragged batch)', async (t) => {
  const m = randomModel(TINY_CONFIG, 1);
  t.teardown(() => m.release());
  const s = await m.score({ inputIds: seqs });
  for (let b = 0; b < seqs.length; b++) {
    const ref = referenceScores(TINY_CONFIG, m.params, seqs[b]);
    t.is(s.logprobs[b].length, seqs[b].length);
    for (let i = 1; i < seqs[b].length; i++) {
      t.true(Math.abs(s.logprobs[b][i] - ref.logprobs[i]) < 2e-4, `logprob b=${b} t=${i}: ${s.logprobs[b][i]} vs ${ref.logprobs[i]}`);
      t.true(Math.abs(s.entropy[b][i] - ref.entropy[i]) < 2e-4, `entropy b=${b} t=${i}`);
    }
  }
  // a clone scores the same and owns its parameters
  const c = m.clone();
  t.teardown(() => c.release());
  const cs = await c.score({ inputIds: seqs });
  t.deepEqual(cs.logprobs[2], s.logprobs[2]);
  c.params.get('model.norm.weight')!.fill(0);
  t.not(m.params.get('model.norm.weight')![0], 0);
  // chunked scoring (one row per run) gives the same values
  const one = await m.score({ inputIds: seqs }, { microBatchSize: 1 });
  for (let b = 0; b < seqs.length; b++) for (let i = 1; i < seqs[b].length; i++) t.true(Math.abs(one.logprobs[b][i] - s.logprobs[b][i]) < 1e-5);
  await t.throwsAsync(m.score({ inputIds: [[1, 64]] }), { message: /inputIds\[0\]\[1\] = 64 is not a token id in \[0, 64\)/ });
});

test('model: Llama-style variant (no attention bias, untied head, MHA) matches the reference', async (t) => {
  const cfg = parseModelConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, tie_word_embeddings: false, rope_theta: 500 });
  t.false(cfg.attention_bias);
  const m = randomModel(cfg, 2);
  t.teardown(() => m.release());
  const ids = [1, 39, 20, 4];
  const s = await m.score({ inputIds: [ids] });
  const ref = referenceScores(cfg, m.params, ids);
  for (let i = 1; i < ids.length; i++) t.true(Math.abs(s.logprobs[0][i] - ref.logprobs[i]) < 2e-4);
});

test('model: a Qwen2 HF-named safetensors checkpoint (HF [out,in] layout) loads; save/load is bit-exact', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rng = new Rng(7);
  // Write a checkpoint the way HF would: names from the Qwen2 modeling code, [out, in] weights.
  const tensors: Record<string, SafeTensorInput> = {};
  for (const s of decoderParamSpecs(TINY_CONFIG)) {
    const n = s.hfShape.reduce((a, d) => a * d, 1);
    tensors[s.name] = { shape: s.hfShape, data: Float32Array.from({ length: n }, () => rng.normal() * 0.1 + (s.init === 'ones' ? 1 : 0)) };
  }
  t.truthy(tensors['model.layers.1.self_attn.k_proj.bias']);
  t.deepEqual([...tensors['model.layers.0.mlp.down_proj.weight'].shape], [TINY_CONFIG.hidden_size, TINY_CONFIG.intermediate_size]);
  const file = path.join(dir, 'hf.safetensors');
  writeSafetensors(file, tensors, { format: 'pt' });
  const m = CausalLM.fromSafetensors(TINY_CONFIG, file, { threads: 1 });
  t.teardown(() => m.release());
  // o_proj: HF [out=H, in=nH·D] → graph [in, out]: element (o, i) lands at i·H + o
  const hfO = tensors['model.layers.0.self_attn.o_proj.weight'].data as Float32Array;
  const gO = m.params.get('model.layers.0.self_attn.o_proj.weight')!;
  const H = TINY_CONFIG.hidden_size;
  const inD = TINY_CONFIG.num_attention_heads * TINY_CONFIG.head_dim;
  t.is(gO[3 * H + 5], hfO[5 * inD + 3]);
  const s = await m.score({ inputIds: [seqs[0]] });
  const ref = referenceScores(TINY_CONFIG, m.params, seqs[0]);
  for (let i = 1; i < seqs[0].length; i++) t.true(Math.abs(s.logprobs[0][i] - ref.logprobs[i]) < 2e-4);

  m.save(path.join(dir, 'out'));
  const back = readSafetensors(path.join(dir, 'out', 'model.safetensors'));
  for (const [name, tt] of Object.entries(tensors)) {
    t.deepEqual(Buffer.from((back.tensors.get(name)!.data as Float32Array).buffer), Buffer.from((tt.data as Float32Array).buffer), name);
  }
  const again = CausalLM.load(path.join(dir, 'out'));
  t.deepEqual(again.config, TINY_CONFIG);
  for (const [k, v] of m.params) t.deepEqual(Buffer.from(again.params.get(k)!.buffer), Buffer.from(v.buffer));

  // A checkpoint for another config is rejected with the names that differ.
  delete tensors['model.layers.1.mlp.up_proj.weight'];
  writeSafetensors(file, tensors);
  t.throws(() => CausalLM.fromSafetensors(TINY_CONFIG, file), { message: /missing 'model\.layers\.1\.mlp\.up_proj\.weight'/ });
  const wide = parseModelConfig({ ...TINY_CONFIG, hidden_size: 48, head_dim: undefined });
  t.throws(() => CausalLM.fromSafetensors(wide, path.join(dir, 'out', 'model.safetensors')), { message: /has shape \[64,32\], config needs \[64,48\]/ });
});

test('model: gradients of the whole tiny model loss match central finite differences', async (t) => {
  const m = randomModel(TINY_CONFIG, 3);
  t.teardown(() => m.release());
  const tr = new SftTrainer(m, { maxGradNorm: null });
  const batch = { inputIds: seqs, lossMask: seqs.map((s) => s.map((_, i) => (i >= 1 ? 1 : 0))) };
  const { loss, grads } = await tr.gradients(batch);
  t.true(loss > 1 && Number.isFinite(loss));
  const names = ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.bias', 'model.layers.1.self_attn.v_proj.weight', 'model.layers.1.mlp.down_proj.weight', 'model.layers.0.input_layernorm.weight', 'model.norm.weight'];
  const eps = 1e-2;
  let checked = 0;
  for (const name of names) {
    const g = grads.get(name)!;
    const p = m.params.get(name)!;
    // the two largest-magnitude coordinates of each parameter
    const idx = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 2);
    for (const i of idx) {
      const v = p[i];
      p[i] = v + eps;
      const up = (await tr.gradients(batch)).loss;
      p[i] = v - eps;
      const dn = (await tr.gradients(batch)).loss;
      p[i] = v;
      const fd = (up - dn) / (2 * eps);
      const err = Math.abs(fd - g[i]) / Math.max(Math.abs(fd), Math.abs(g[i]), 1e-3);
      t.true(err < 0.03, `${name}[${i}]: analytic ${g[i]} vs finite-difference ${fd}`);
      checked++;
    }
  }
  t.is(checked, 14);
});
