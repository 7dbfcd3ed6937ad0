import type { CollatedBatch } from './collate.js';

/**
 * Rows with a non-zero advantage on some trained token (`algorithm.params.filterGroups`):
 * the others carry no policy-gradient signal, e.g. every sample of a GRPO group
 * got the same reward. The Trainer updates on these rows only (DAPO's dynamic sampling).
 */
export function informativeRows(batch: CollatedBatch): number[] {
  if (!batch.advantages) throw new Error('informativeRows: compute the batch advantages first');
  const R = batch.responseLength;
  const adv = batch.advantages;
  const out: number[] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    for (let t = 0; t < R; t++) {
      if (batch.lossMask[b * R + t] && adv[b * R + t] !== 0) {
        out.push(b);
        break;
      }
    }
  }
  return out;
}
