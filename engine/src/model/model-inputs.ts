import type { ModelConfig } from '../io/model-config.js';

/** Additive attention bias for a masked-out key. */
export const MASKED = -1e9;

/**
 * Position ids from an attention mask [B, S] (1 = real token): the count of real tokens before
 * each position, so left padding does not shift positions. Pads get position 0.
 */
export function positionIds(mask: Uint8Array, B: number, S: number): Int32Array {
  const pos = new Int32Array(B * S);
  for (let b = 0; b < B; b++) {
    let c = 0;
    for (let s = 0; s < S; s++) {
      const m = mask[b * S + s];
      pos[b * S + s] = m ? c : 0;
      c += m;
    }
  }
  return pos;
}

/** Rotary cos/sin tables [B, 1, T, D] (halves duplicated, HF Llama convention) for the given positions. */
export function ropeTables(cfg: ModelConfig, pos: Int32Array, B: number, T: number): { cos: Float32Array; sin: Float32Array } {
  const D = cfg.head_dim;
  const half = D / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / cfg.rope_theta ** ((2 * i) / D);
  const cos = new Float32Array(B * T * D);
  const sin = new Float32Array(B * T * D);
  for (let r = 0; r < B * T; r++) {
    const p = pos[r];
    for (let i = 0; i < half; i++) {
      const a = p * inv[i];
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[r * D + i] = c;
      cos[r * D + i + half] = c;
      sin[r * D + i] = s;
      sin[r * D + i + half] = s;
    }
  }
  return { cos, sin };
}

/**
 * Causal + padding attention bias [B, 1, rep·T, S] for the last T of S positions
 * (queries at absolute positions S-T .. S-1). A query may see keys k ≤ q whose mask is 1,
 * and always itself (so a padding query's softmax stays well defined). The T query rows are
 * tiled `rep` times to match grouped-query heads folded into the row axis.
 */
export function attentionBias(mask: Uint8Array, B: number, S: number, T: number, rep: number): Float32Array {
  const out = new Float32Array(B * rep * T * S);
  const row = new Float32Array(S);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const q = S - T + t;
      for (let k = 0; k < S; k++) row[k] = (k <= q && mask[b * S + k]) || k === q ? 0 : MASKED;
      for (let r = 0; r < rep; r++) out.set(row, ((b * rep + r) * T + t) * S);
    }
  }
  return out;
}

/** Row index of each sequence's last position in the flattened [B·T] hidden matrix. */
export function lastRows(B: number, T: number): BigInt64Array {
  const out = new BigInt64Array(B);
  for (let b = 0; b < B; b++) out[b] = BigInt(b * T + T - 1);
  return out;
}
