import type { PolicyBatch, TokenBatch } from '@cohort/engine';
import type { CollatedBatch } from '../trajectory/collate.js';

/** Per-row real tokens (prompt + response, no padding) of a collated batch. */
export function rowTokens(batch: CollatedBatch): number[][] {
  const T = batch.promptLength + batch.responseLength;
  const rows: number[][] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    const ids: number[] = [];
    for (let t = 0; t < T; t++) if (batch.attentionMask[b * T + t]) ids.push(batch.inputIds[b * T + t]);
    rows.push(ids);
  }
  return rows;
}

/** The engine's ragged token batch of a collated batch. */
export function toTokenBatch(batch: CollatedBatch): TokenBatch {
  return { inputIds: rowTokens(batch) };
}

/** Prompt lengths (real tokens) per row. */
function promptLengths(batch: CollatedBatch): number[] {
  const T = batch.promptLength + batch.responseLength;
  return Array.from({ length: batch.batchSize }, (_, b) => {
    let n = 0;
    for (let t = 0; t < batch.promptLength; t++) n += batch.attentionMask[b * T + t];
    return n;
  });
}

/** Spreads a response-aligned [B, R] array over each row's tokens (0 on the prompt). */
export function responseToRows(batch: CollatedBatch, values: Float32Array): number[][] {
  const R = batch.responseLength;
  const plens = promptLengths(batch);
  return plens.map((p, b) => {
    const n = batch.responseLengths[b];
    const row = new Array<number>(p + n).fill(0);
    for (let k = 0; k < n; k++) row[p + k] = values[b * R + k];
    return row;
  });
}

/** Gathers per-token row arrays (as the engine's `score` returns) back into a response-aligned [B, R] array. */
export function rowsToResponse(batch: CollatedBatch, rows: readonly ArrayLike<number>[]): Float32Array {
  const R = batch.responseLength;
  const plens = promptLengths(batch);
  const out = new Float32Array(batch.batchSize * R);
  plens.forEach((p, b) => {
    for (let k = 0; k < batch.responseLengths[b]; k++) out[b * R + k] = rows[b][p + k];
  });
  return out;
}

/**
 * The engine's PolicyBatch for a collated batch: tokens per row, loss mask 0
 * on the prompt and on environment tokens, advantages, old and ref log-probs,
 * and the rollout's recorded log-probs (for truncated importance sampling).
 */
export function toPolicyBatch(batch: CollatedBatch, opts: { advantages: Float32Array; oldLogprobs: Float32Array; refLogprobs?: Float32Array; rolloutLogprobs?: Float32Array }): PolicyBatch {
  return {
    inputIds: rowTokens(batch),
    lossMask: responseToRows(batch, batch.lossMask),
    advantages: responseToRows(batch, opts.advantages),
    oldLogprobs: responseToRows(batch, opts.oldLogprobs),
    refLogprobs: opts.refLogprobs ? responseToRows(batch, opts.refLogprobs) : undefined,
    rolloutLogprobs: opts.rolloutLogprobs ? responseToRows(batch, opts.rolloutLogprobs) : undefined,
  };
}
