import { decodeSafetensors, encodeSafetensors, type SafeTensorInput } from '../io/safetensors.js';
import type { AdamWState } from './adamw.js';

/**
 * The one byte format of AdamW state (checkpoints, `TrainerBase.save`, a
 * learner handing its state to a replacement): safetensors with the first and
 * second moments as flat F32 tensors `m.<param>` and `v.<param>`, and
 * `optimizer: adamw` and `step` in the metadata. `metadata` adds string
 * fields (e.g. the policy version, the hyper-parameters); the reserved keys
 * `optimizer` and `step` cannot be overridden.
 */
export function encodeOptimizerState(state: AdamWState, metadata: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, SafeTensorInput>();
  for (const [name, m] of state.m) tensors.set(`m.${name}`, { shape: [m.length], data: m });
  for (const [name, v] of state.v) tensors.set(`v.${name}`, { shape: [v.length], data: v });
  return encodeSafetensors(tensors, { ...metadata, optimizer: 'adamw', step: String(state.step) });
}

/**
 * Inverse of {@link encodeOptimizerState}: the state and the file's metadata.
 * `what` names the bytes in errors (a path, "the checkpoint's optimizer file").
 */
export function decodeOptimizerState(bytes: Uint8Array, what = 'the optimizer state'): { state: AdamWState; metadata: Record<string, string> } {
  const f = decodeSafetensors(bytes);
  if (f.metadata.optimizer !== 'adamw') throw new Error(`${what} is not an AdamW state (metadata.optimizer=${f.metadata.optimizer}); it must be written by encodeOptimizerState`);
  const step = Number(f.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${what} has no valid step in its metadata (step=${f.metadata.step})`);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const [k, t] of f.tensors) {
    if (t.dtype !== 'F32') throw new Error(`${what}: moment '${k}' is ${t.dtype}, expected F32`);
    if (k.startsWith('m.')) m.set(k.slice(2), t.data as Float32Array);
    else if (k.startsWith('v.')) v.set(k.slice(2), t.data as Float32Array);
  }
  return { state: { step, m, v }, metadata: f.metadata };
}
