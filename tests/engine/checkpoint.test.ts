import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  CausalLM,
  CheckpointReader,
  INDEX_FILE,
  SINGLE_FILE,
  TINY_CONFIG,
  decodeSafetensors,
  encodeSafetensors,
  float32ToBf16,
  float32ToF16,
  loadModelConfig,
  parseModelConfig,
  tensorData,
  writeCheckpoint,
  writeSafetensors,
} from '../../engine/src/index.js';
import { decoderParamSpecs } from '../../engine/src/io/weight-names.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNTIED = parseModelConfig({ ...TINY_CONFIG, tie_word_embeddings: false });

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const bf16Round = (a: Float32Array) => tensorData('BF16', new Uint8Array(float32ToBf16(a).buffer), a.length) as Float32Array;

test('config.json is read as transformers reads it: untied by default, rope_parameters, qwen2 biases, refusals', (t) => {
  const base = { model_type: 'qwen2', vocab_size: 10, hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4 };
  // Qwen2Config / LlamaConfig default tie_word_embeddings to false.
  t.false(parseModelConfig(base).tie_word_embeddings);
  t.false(parseModelConfig({ ...base, model_type: 'llama' }).tie_word_embeddings);
  // θ: top level, or under rope_parameters (newer transformers layout); default 10000.
  t.is(parseModelConfig(base).rope_theta, 10000);
  t.is(parseModelConfig({ ...base, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }).rope_theta, 1e6);
  t.is(parseModelConfig({ ...base, rope_theta: 5e5, rope_scaling: null }).rope_theta, 5e5);
  t.throws(() => parseModelConfig({ ...base, rope_theta: 5e5, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }), { message: /rope_theta is given twice with different values \(500000 vs 1000000\)/ });
  // Scaling of any kind is refused, in either block.
  t.throws(() => parseModelConfig({ ...base, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4 } }), { message: /rope_parameters: rope_parameters type 'yarn' is not supported/ });
  t.throws(() => parseModelConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } }), { message: /rope_scaling type 'linear' is not supported/ });
  t.throws(() => parseModelConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }), { message: /'llama3' is not supported/ });
  // qwen2 always has q/k/v biases (transformers hard-codes bias=True; attention_bias is not a Qwen2 field).
  t.true(parseModelConfig({ ...base, attention_bias: false }).attention_bias);
  t.false(parseModelConfig({ ...base, model_type: 'llama' }).attention_bias);
  t.throws(() => parseModelConfig({ ...base, model_type: 'llama', attention_bias: true }), { message: /o_proj biases are not implemented/ });
  t.throws(() => parseModelConfig({ ...base, model_type: 'llama', mlp_bias: true }), { message: /mlp_bias must be false/ });
  t.throws(() => parseModelConfig({ ...base, layer_types: ['sliding_attention'] }), { message: /sliding-window layers are not implemented/ });
  t.throws(() => parseModelConfig({ ...base, partial_rotary_factor: 0.5 }), { message: /partial_rotary_factor must be 1/ });
  t.throws(() => parseModelConfig({ ...base, model_type: 'mistral' }), { message: /model_type must be one of qwen2, llama/ });
});

test('the committed Qwen2.5-3B config.json: 3,085,938,688 parameters, tied, θ 1e6, q/k/v biases', (t) => {
  const c = loadModelConfig(path.join(ROOT, 'configs/models/qwen2.5-3b'));
  t.is(c.head_dim, 128);
  t.is(c.num_key_value_heads, 2);
  t.true(c.tie_word_embeddings);
  t.true(c.attention_bias);
  t.is(c.rope_theta, 1e6);
  const params = decoderParamSpecs(c).reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
  t.is(params, 3_085_938_688);
});

test('float32 → bf16 / f16 round to nearest even; NaN, Inf, subnormals, overflow', (t) => {
  const f = new Float32Array([1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, NaN, Infinity, -0, 3.4e38]);
  const b = [...float32ToBf16(f)];
  t.deepEqual(b.slice(0, 5), [0x3f80, 0xc020, 0x3f80 /* tie → even */, 0x3f82 /* tie → even (up) */, 0x3f81 /* above the tie */]);
  t.is(b[5] & 0x7f80, 0x7f80);
  t.true((b[5] & 0x7f) !== 0, 'NaN stays NaN');
  t.deepEqual(b.slice(6), [0x7f80, 0x8000, 0x7f80 /* 3.4e38 rounds up past the largest bf16 */]);
  const h = [...float32ToF16(new Float32Array([1, -2, 65504, 65520, 1e6, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6.1e-5, NaN, -Infinity]))];
  t.deepEqual(h.slice(0, 11), [0x3c00, 0xc000, 0x7bff, 0x7c00 /* halfway to 65536 rounds to Inf */, 0x7c00, 0x0001, 0x0000 /* tie → even 0 */, 0x0001, 0x3c00, 0x3c02, 0x03ff /* largest subnormal region */]);
  t.is(h[11] & 0x7c00, 0x7c00);
  t.true((h[11] & 0x3ff) !== 0);
  t.is(h[12], 0xfc00);
  // Reading them back gives the rounded values exactly.
  const back = tensorData('F16', new Uint8Array(new Uint16Array([0x3c02, 0x0001, 0x7bff]).buffer), 3) as Float32Array;
  t.deepEqual([...back], [1 + 2 ** -9, 2 ** -24, 65504]);
});

test('sharded bf16 save → index + shards as transformers lays them out; load gives the bf16-rounded weights; f32 shards are bit-exact', (t) => {
  const dir = tmp(t);
  const m = CausalLM.random(UNTIED, { seed: 3 });
  t.teardown(() => m.release());
  const specs = decoderParamSpecs(UNTIED);
  const bytes = specs.reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0) * 2;
  const w = m.save(dir, { dtype: 'BF16', maxShardBytes: 8 * 1024 });
  t.true(w.files.length > 3, `${w.files.length} files`);
  t.is(w.totalSize, bytes);
  const index = JSON.parse(readFileSync(path.join(dir, INDEX_FILE), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  t.is(index.metadata.total_size, bytes);
  t.deepEqual(Object.keys(index.weight_map).sort(), specs.map((s) => s.name).sort());
  const shards = [...new Set(Object.values(index.weight_map))].sort();
  t.true(shards.every((f, k) => f === `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`), shards.join(' '));
  t.false(existsSync(path.join(dir, SINGLE_FILE)));
  // Each shard holds exactly the tensors the index maps to it, stored as BF16, under the size limit
  // (unless a single tensor is larger than the limit).
  for (const f of shards) {
    const st = decodeSafetensors(readFileSync(path.join(dir, f)));
    t.deepEqual([...st.tensors.keys()].sort(), Object.entries(index.weight_map).filter(([, v]) => v === f).map(([k]) => k).sort());
    t.true([...st.tensors.values()].every((x) => x.dtype === 'BF16'));
    t.is(st.metadata.format, 'pt');
  }
  const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  t.is(cfg.torch_dtype, 'bfloat16');
  t.deepEqual(cfg.architectures, ['Qwen2ForCausalLM']);
  t.false(cfg.tie_word_embeddings);
  const back = CausalLM.load(dir);
  t.teardown(() => back.release());
  for (const [name, p] of m.params) t.deepEqual(back.params.get(name), bf16Round(p), name);
  // The same model as F32 shards into the same directory: bit-exact, and no stale BF16 shard is left behind.
  m.save(dir, { maxShardBytes: 16 * 1024 });
  const exact = CausalLM.load(dir);
  t.teardown(() => exact.release());
  for (const [name, p] of m.params) t.deepEqual(exact.params.get(name), p, name);
  const idx2 = JSON.parse(readFileSync(path.join(dir, INDEX_FILE), 'utf8')) as { weight_map: Record<string, string> };
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort(), [...new Set(Object.values(idx2.weight_map))].sort());
  // Saved again small enough for one file: the index and shards go.
  m.save(dir);
  t.deepEqual(readdirSync(dir).sort(), ['config.json', SINGLE_FILE]);
  t.deepEqual(CausalLM.load(dir).params.get('lm_head.weight'), m.params.get('lm_head.weight'));
});

test('a checkpoint tensor is never dropped silently: buffers and a tied copy are reported, anything else is refused', (t) => {
  const dir = tmp(t);
  const m = CausalLM.random(TINY_CONFIG, { seed: 1 });
  t.teardown(() => m.release());
  const hf = m.hfTensors();
  const write = (extra: Record<string, { shape: number[]; data: Float32Array }>) => {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...TINY_CONFIG }));
    writeSafetensors(path.join(dir, SINGLE_FILE), { ...hf, ...extra });
  };
  // Rotary buffers and an lm_head equal to the embedding (tied) are left out, with the reason.
  write({ 'model.layers.0.self_attn.rotary_emb.inv_freq': { shape: [4], data: new Float32Array(4) }, 'lm_head.weight': { shape: [64, 32], data: hf['model.embed_tokens.weight'].data as Float32Array } });
  const ok = CausalLM.load(dir, {}, { logger: pino({ level: 'silent' }) });
  t.deepEqual(ok.lastLoadIgnored.map((i) => i.name).sort(), ['lm_head.weight', 'model.layers.0.self_attn.rotary_emb.inv_freq']);
  t.regex(ok.lastLoadIgnored.find((i) => i.name === 'lm_head.weight')!.reason, /tie_word_embeddings is true/);
  // A distinct lm_head under tie_word_embeddings: true is the config contradicting the checkpoint.
  write({ 'lm_head.weight': { shape: [64, 32], data: new Float32Array(64 * 32).fill(0.5) } });
  t.throws(() => CausalLM.load(dir), { message: /'lm_head.weight' differs from model.embed_tokens.weight but config.json says tie_word_embeddings: true/ });
  // A config without tie_word_embeddings is untied (HF): a tied checkpoint then lacks lm_head.weight.
  const { tie_word_embeddings: _t, ...noTie } = TINY_CONFIG;
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(noTie));
  writeSafetensors(path.join(dir, SINGLE_FILE), hf);
  t.throws(() => CausalLM.load(dir), { message: /missing 'lm_head.weight'/ });
  // Unknown tensors are refused by name.
  write({ 'model.layers.7.mlp.up_proj.weight': { shape: [2], data: new Float32Array(2) } });
  t.throws(() => CausalLM.load(dir), { message: /1 tensor\(s\) the model would not use: 'model.layers.7.mlp.up_proj.weight'/ });
});

test('a malformed sharded checkpoint is refused with the file and the tensor named', (t) => {
  const dir = tmp(t);
  const x = { shape: [2], data: new Float32Array([1, 2]) };
  const y = { shape: [1], data: new Float32Array([3]) };
  const z = { shape: [1], data: new Float32Array([4]) };
  writeCheckpoint(dir, [['x', x], ['y', y], ['z', z]], { maxShardBytes: 12 });
  const r = CheckpointReader.open(dir);
  t.is(r.layout, 'sharded');
  t.deepEqual(new Set(r.names), new Set(['x', 'y', 'z']));
  t.is(r.info('z')!.file, 'model-00002-of-00002.safetensors');
  t.deepEqual([...(r.read('y').data as Float32Array)], [3]);
  r.close();
  const index = path.join(dir, INDEX_FILE);
  const put = (o: unknown) => writeFileSync(index, JSON.stringify(o));
  const s1 = 'model-00001-of-00002.safetensors';
  const s2 = 'model-00002-of-00002.safetensors';
  put({ metadata: {}, weight_map: { x: s1, y: s1, z: s1 } });
  t.throws(() => CheckpointReader.open(dir), { message: /"z" is mapped to model-00001-of-00002.safetensors, which does not hold it/ });
  put({ weight_map: { x: s1, z: s2 } });
  t.throws(() => CheckpointReader.open(dir), { message: /model-00001-of-00002.safetensors holds "y" but the index does not map it/ });
  put({ weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00009-of-00009.safetensors' } });
  t.throws(() => CheckpointReader.open(dir), { message: /maps tensors to model-00009-of-00009.safetensors, which is not in/ });
  put({ weight_map: { x: '../model-00001-of-00002.safetensors' } });
  t.throws(() => CheckpointReader.open(dir), { message: /a shard must be a file name in the model directory/ });
  writeFileSync(index, '{not json');
  t.throws(() => CheckpointReader.open(dir), { message: /is not valid JSON/ });
  writeFileSync(path.join(dir, SINGLE_FILE), encodeSafetensors({ x }));
  t.throws(() => CheckpointReader.open(dir), { message: /has both model.safetensors and model.safetensors.index.json/ });
  rmSync(index);
  t.deepEqual(CheckpointReader.open(dir).names, ['x']);
});

// Files written by torch (tests/engine/fixtures/torch/make_fixtures.py, Debian python3-torch 1.13).
const TORCH = path.join(ROOT, 'tests/engine/fixtures/torch');

test('torch-written bf16 shards load to the values torch reads them as; a BF16 re-save gives the same bytes', (t) => {
  const m = CausalLM.load(path.join(TORCH, 'tiny-qwen2-bf16'));
  t.teardown(() => m.release());
  t.false(m.config.tie_word_embeddings, 'no tie_word_embeddings key: untied, and lm_head.weight is loaded');
  t.is(m.config.rope_theta, 1e6, 'theta from rope_parameters');
  t.deepEqual(m.lastLoadIgnored, []);
  const expected = decodeSafetensors(readFileSync(path.join(TORCH, 'tiny-qwen2-expected-f32.safetensors')));
  t.is(expected.tensors.size, m.specs.length);
  for (const [name, e] of expected.tensors) t.deepEqual(m.hfTensor(name), e.data, name);
  // Re-saved as BF16 shards: every tensor's bytes equal torch's (the values are bf16 already).
  const dir = tmp(t);
  m.save(dir, { dtype: 'BF16', maxShardBytes: 4096 });
  const src = CheckpointReader.open(path.join(TORCH, 'tiny-qwen2-bf16'));
  const ours = CheckpointReader.open(dir);
  t.teardown(() => (src.close(), ours.close()));
  t.deepEqual([...ours.names].sort(), [...src.names].sort());
  for (const name of src.names) t.deepEqual(Buffer.from(ours.readRaw(name)), Buffer.from(src.readRaw(name)), name);
});

test('float32 → bf16 / f16 rounding is bit-identical to torch on 2,517 values (random, ties, subnormals, overflow)', (t) => {
  const f = decodeSafetensors(readFileSync(path.join(TORCH, 'rounding.safetensors')));
  const x = f.tensors.get('f32')!.data as Float32Array;
  const raw = (name: string) => {
    const bytes = readFileSync(path.join(TORCH, 'rounding.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    const h = JSON.parse(bytes.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
    const [b, e] = h[name].data_offsets;
    return new Uint16Array(Uint8Array.from(bytes.subarray(8 + n + b, 8 + n + e)).buffer);
  };
  t.is(x.length, 2517);
  t.deepEqual([...float32ToBf16(x)], [...raw('bf16')]);
  t.deepEqual([...float32ToF16(x)], [...raw('f16')]);
});
