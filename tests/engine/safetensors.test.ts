import test from 'ava';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeSafetensors, decodeSafetensors, readSafetensors, writeSafetensors, SafetensorsError } from '../../engine/src/io/safetensors.js';
import { loadModelConfig, ModelConfigError, TINY_CONFIG } from '../../engine/src/io/model-config.js';

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 3;
  }
  return a;
}

test('safetensors: write then read is bit-exact, header is 8-byte aligned, metadata kept', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = rand(6 * 5, 1);
  w[3] = -0; w[4] = Number.MIN_VALUE; w[5] = NaN; w[6] = Infinity;
  const ids = BigInt64Array.from([1n, -2n, 9007199254740993n]);
  const file = path.join(dir, 'a.safetensors');
  writeSafetensors(file, { 'model.layers.0.mlp.up_proj.weight': { shape: [6, 5], data: w }, step: { shape: [3], data: ids } }, { format: 'pt', note: 'x' });
  const bytes = readFileSync(file);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  t.is((8 + n) % 8, 0);
  const f = readSafetensors(file);
  t.deepEqual(f.metadata, { format: 'pt', note: 'x' });
  const back = f.tensors.get('model.layers.0.mlp.up_proj.weight')!;
  t.is(back.dtype, 'F32');
  t.deepEqual([...back.shape], [6, 5]);
  t.deepEqual(new Uint8Array((back.data as Float32Array).buffer), new Uint8Array(w.buffer));
  t.deepEqual([...(f.tensors.get('step')!.data as BigInt64Array)], [...ids]);
  // Re-encoding the decoded file gives identical bytes.
  const again = encodeSafetensors(new Map([...f.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data as Float32Array }])), f.metadata);
  t.deepEqual(Buffer.from(again), bytes);
});

test('safetensors: reads F16 and BF16 (hand-built header)', (t) => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800 ; BF16: 1.0 = 0x3f80, 3.0 = 0x4040
  const data = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x3f80, 0x4040]);
  const header = JSON.stringify({ h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] }, b: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] } });
  const hb = Buffer.from(header);
  const buf = Buffer.alloc(8 + hb.length + 10);
  buf.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(buf, 8);
  Buffer.from(data.buffer).copy(buf, 8 + hb.length);
  const f = decodeSafetensors(buf);
  t.deepEqual([...(f.tensors.get('h')!.data as Float32Array)], [1, -2, 0.5]);
  t.deepEqual([...(f.tensors.get('b')!.data as Float32Array)], [1, 3]);
});

test('safetensors: malformed input gives errors that name the problem', (t) => {
  t.throws(() => decodeSafetensors(new Uint8Array(4)), { instanceOf: SafetensorsError, message: /at least the 8-byte header/ });
  const bad = Buffer.alloc(16);
  bad.writeBigUInt64LE(1000n, 0);
  t.throws(() => decodeSafetensors(bad), { message: /exceeds/ });
  const hb = Buffer.from(JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }));
  const b2 = Buffer.alloc(8 + hb.length + 8);
  b2.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(b2, 8);
  t.throws(() => decodeSafetensors(b2), { message: /"x": 8 bytes but shape \[4\] of F32 needs 16/ });
  t.throws(() => encodeSafetensors({ y: { shape: [3], data: new Float32Array(2) } }), { message: /shape \[3\] has 3 elements but data has 2/ });
});

test('model config: HF config.json validated, derived fields, clear errors', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'qwen2', vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, architectures: ['Qwen2ForCausalLM'] }));
  const c = loadModelConfig(dir);
  t.is(c.head_dim, 8);
  t.is(c.attention_bias, true);
  t.is(c.tie_word_embeddings, false); // no key: untied, as Qwen2Config / LlamaConfig default it
  t.is(TINY_CONFIG.num_key_value_heads, 2);
  t.throws(() => loadModelConfig({ vocab_size: 10, hidden_size: 30, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4 }), { instanceOf: ModelConfigError, message: /not divisible by num_attention_heads/ });
  t.throws(() => loadModelConfig({ vocab_size: 10, hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 3 }), { message: /multiple of num_key_value_heads/ });
  t.throws(() => loadModelConfig({ hidden_size: 32 }), { message: /vocab_size/ });
  const base = { vocab_size: 10, hidden_size: 32, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 4 };
  t.throws(() => loadModelConfig({ ...base, rope_scaling: { type: 'yarn', factor: 4 } }), { message: /rope_scaling type 'yarn' is not supported/ });
  t.throws(() => loadModelConfig({ ...base, use_sliding_window: true }), { message: /use_sliding_window must be false/ });
  t.throws(() => loadModelConfig({ ...base, hidden_act: 'gelu' }), { message: /hidden_act must be 'silu'/ });
  t.is(loadModelConfig({ ...base, rope_scaling: null, use_sliding_window: false }).hidden_size, 32);
  t.throws(() => loadModelConfig(path.join(dir, 'nope.json')), { message: /does not exist/ });
});
