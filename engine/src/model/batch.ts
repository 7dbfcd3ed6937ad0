import type { ModelConfig } from '../io/model-config.js';
import { attentionBias, positionIds, ropeTables } from './model-inputs.js';
import { f32, i64, type Feeds } from './model-session.js';

/** Sequences of token ids (ragged allowed), with an optional 0/1 attention mask per token. */
export interface TokenBatch {
  inputIds: readonly (readonly number[])[];
  /** Same shape as inputIds; 0 marks padding. Default: all ones. */
  attentionMask?: readonly (readonly number[])[];
}

/** A batch packed into [B, T] arrays (right-padded with id 0 and mask 0). */
export interface PackedBatch {
  B: number;
  T: number;
  ids: Int32Array;
  mask: Uint8Array;
  /** Each row's original length. */
  lengths: Int32Array;
}

/** Packs a (ragged) batch, validating ids and masks. */
export function packBatch(batch: TokenBatch, vocabSize?: number): PackedBatch {
  const rows = batch.inputIds;
  if (!Array.isArray(rows) || rows.length === 0) throw new Error('token batch: inputIds must be a non-empty array of token-id arrays');
  const B = rows.length;
  let T = 0;
  for (const r of rows) T = Math.max(T, r.length);
  if (T === 0) throw new Error('token batch: every sequence is empty; give at least one token');
  const ids = new Int32Array(B * T);
  const mask = new Uint8Array(B * T);
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const r = rows[b];
    const m = batch.attentionMask?.[b];
    if (m && m.length !== r.length) throw new Error(`token batch: attentionMask[${b}] has ${m.length} entries, inputIds[${b}] has ${r.length}`);
    lengths[b] = r.length;
    for (let t = 0; t < r.length; t++) {
      const id = r[t];
      if (!Number.isInteger(id) || id < 0 || (vocabSize !== undefined && id >= vocabSize)) {
        throw new Error(`token batch: inputIds[${b}][${t}] = ${id} is not a token id${vocabSize !== undefined ? ` in [0, ${vocabSize})` : ''}`);
      }
      ids[b * T + t] = id;
      mask[b * T + t] = m ? (m[t] ? 1 : 0) : 1;
    }
  }
  return { B, T, ids, mask, lengths };
}

/**
 * Feeds of the decoder trunk for the last `T` positions of sequences whose full mask is
 * `mask` [B, S] (S = past + T): input_ids [B·T], attn_bias, rope_cos, rope_sin.
 */
export function trunkFeeds(cfg: ModelConfig, B: number, T: number, S: number, ids: Int32Array, mask: Uint8Array): Feeds {
  const rep = cfg.num_attention_heads / cfg.num_key_value_heads;
  const posAll = positionIds(mask, B, S);
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) pos.set(posAll.subarray(b * S + S - T, b * S + S), b * T);
  const { cos, sin } = ropeTables(cfg, pos, B, T);
  const idsB = new BigInt64Array(B * T);
  for (let i = 0; i < B * T; i++) idsB[i] = BigInt(ids[i]);
  const D = cfg.head_dim;
  return {
    input_ids: i64(idsB, [B * T]),
    attn_bias: f32(attentionBias(mask, B, S, T, rep), [B, 1, rep * T, S]),
    rope_cos: f32(cos, [B, 1, T, D]),
    rope_sin: f32(sin, [B, 1, T, D]),
  };
}

/** Trunk feeds of a packed batch with no past. */
export function decoderFeeds(cfg: ModelConfig, p: PackedBatch): Feeds {
  return trunkFeeds(cfg, p.B, p.T, p.T, p.ids, p.mask);
}
