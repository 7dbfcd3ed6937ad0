import type { AdvantageBatch } from '../algorithms/types.js';
import { rewardTokenIndex } from '../algorithms/token-rewards.js';
import { TrajectoryError, checkGroups, type Trajectory } from './trajectory.js';

/**
 * A padded batch ready for the engine's loss graph.
 *
 * Layout (as in veRL): each row is `[prompt | response]` of length
 * `promptLength + responseLength`; prompts are **left**-padded, responses
 * **right**-padded, so the response always starts at column `promptLength`.
 * Response-aligned arrays ([batch, responseLength]) index the response
 * part only. All arrays are row-major.
 */
export interface CollatedBatch {
  batchSize: number;
  promptLength: number;
  responseLength: number;
  /** [B, P+R] token ids (pad id in padding). */
  inputIds: Int32Array;
  /** [B, P+R] 1 on real tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** [B, P+R] positions counted over real tokens (0 on left padding). */
  positionIds: Int32Array;
  /** [B, R] 1 on policy tokens, 0 on environment tokens and padding. */
  lossMask: Float32Array;
  /** [B] real response tokens per row. */
  responseLengths: Int32Array;
  /** [B, R] behaviour log-probabilities (the "old" log-probs in sync mode). */
  oldLogprobs: Float32Array;
  /** [B, R] policy version per token (−1 on environment tokens and padding). */
  policyVersions: Int32Array;
  /** [B] scalar rewards. */
  scores: Float32Array;
  /** [B, R] the score placed on the last response token, 0 elsewhere. */
  tokenRewards: Float32Array;
  /** [B] group ids (one per prompt). */
  groupIds: string[];
  /** [B] trajectory ids. */
  trajectoryIds: string[];
  /** [B, R] filled once advantages are computed. */
  advantages?: Float32Array;
  /** [B, R] reference log-probabilities, filled by the ReferenceActor. */
  refLogprobs?: Float32Array;
  /**
   * [B, R] the log-probs the rollouts recorded, kept once `oldLogprobs` hold the learners'
   * (async importance mode: the loss's truncated importance sampling reads them).
   */
  rolloutLogprobs?: Float32Array;
  /** [B, R] critic values (PPO). */
  values?: Float32Array;
  /** [B, R] value targets (PPO). */
  returns?: Float32Array;
}

export interface CollateOptions {
  /** Token id used for padding. */
  padId: number;
  /** Fixed prompt/response widths (e.g. for static ONNX shapes); defaults to the batch maxima. */
  promptLength?: number;
  responseLength?: number;
}

/**
 * Collates scored trajectories into a padded batch. Every trajectory must have
 * a reward (score it first); group ids are checked for merged prompts.
 */
export function collate(trajectories: readonly Trajectory[], opts: CollateOptions): CollatedBatch {
  const B = trajectories.length;
  if (B === 0) throw new TrajectoryError('collate: no trajectories; a batch needs at least one');
  checkGroups(trajectories);
  const maxP = Math.max(...trajectories.map((t) => t.promptIds.length));
  const maxR = Math.max(...trajectories.map((t) => t.responseIds.length));
  const P = opts.promptLength ?? maxP;
  const R = opts.responseLength ?? maxR;
  if (P < maxP) throw new TrajectoryError(`collate: promptLength ${P} is shorter than the longest prompt (${maxP} tokens); raise it`);
  if (R < maxR) throw new TrajectoryError(`collate: responseLength ${R} is shorter than the longest response (${maxR} tokens); raise it`);
  const T = P + R;
  const inputIds = new Int32Array(B * T).fill(opts.padId);
  const attentionMask = new Int32Array(B * T);
  const positionIds = new Int32Array(B * T);
  const lossMask = new Float32Array(B * R);
  const responseLengths = new Int32Array(B);
  const oldLogprobs = new Float32Array(B * R);
  const policyVersions = new Int32Array(B * R).fill(-1);
  const scores = new Float32Array(B);
  const tokenRewards = new Float32Array(B * R);
  trajectories.forEach((t, b) => {
    if (t.reward === null) throw new TrajectoryError(`collate: trajectory ${t.id} has no reward; score it before collating`);
    const p = t.promptIds.length;
    const r = t.responseIds.length;
    const row = b * T;
    inputIds.set(t.promptIds, row + P - p);
    inputIds.set(t.responseIds, row + P);
    attentionMask.fill(1, row + P - p, row + P + r);
    for (let k = 0; k < p + r; k++) positionIds[row + P - p + k] = k;
    const rrow = b * R;
    for (let k = 0; k < r; k++) lossMask[rrow + k] = t.lossMask[k];
    oldLogprobs.set(t.behaviourLogprobs, rrow);
    policyVersions.set(t.policyVersions, rrow);
    responseLengths[b] = r;
    scores[b] = t.reward;
    tokenRewards[rrow + rewardTokenIndex(r)] = t.reward;
  });
  return {
    batchSize: B,
    promptLength: P,
    responseLength: R,
    inputIds,
    attentionMask,
    positionIds,
    lossMask,
    responseLengths,
    oldLogprobs,
    policyVersions,
    scores,
    tokenRewards,
    groupIds: trajectories.map((t) => t.groupId),
    trajectoryIds: trajectories.map((t) => t.id),
  };
}

/** The view of a collated batch that advantage estimators read. */
export function toAdvantageBatch(batch: CollatedBatch): AdvantageBatch {
  return {
    batchSize: batch.batchSize,
    responseLength: batch.responseLength,
    lossMask: batch.lossMask,
    responseLengths: batch.responseLengths,
    scores: batch.scores,
    groupIds: batch.groupIds,
    oldLogprobs: batch.oldLogprobs,
    refLogprobs: batch.refLogprobs,
    values: batch.values,
  };
}

const perToken = ['lossMask', 'oldLogprobs', 'policyVersions', 'tokenRewards', 'advantages', 'refLogprobs', 'rolloutLogprobs', 'values', 'returns'] as const;
const perSeqToken = ['inputIds', 'attentionMask', 'positionIds'] as const;

/**
 * A new batch with the given rows (in that order): mini-batches and
 * data-parallel shards. Compute advantages on the whole batch first (group
 * baselines need every sample of a group).
 */
export function selectRows(batch: CollatedBatch, rows: readonly number[]): CollatedBatch {
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 0 || r >= batch.batchSize) throw new TrajectoryError(`selectRows: row ${r} is outside 0..${batch.batchSize - 1}`);
  }
  const R = batch.responseLength;
  const T = batch.promptLength + R;
  const pick = <A extends Int32Array | Float32Array>(src: A, width: number): A => {
    const out = new (src.constructor as new (n: number) => A)(rows.length * width);
    rows.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
    return out;
  };
  const out: CollatedBatch = {
    ...batch,
    batchSize: rows.length,
    responseLengths: Int32Array.from(rows, (r) => batch.responseLengths[r]),
    scores: Float32Array.from(rows, (r) => batch.scores[r]),
    groupIds: rows.map((r) => batch.groupIds[r]),
    trajectoryIds: rows.map((r) => batch.trajectoryIds[r]),
  };
  for (const k of perSeqToken) out[k] = pick(batch[k], T);
  for (const k of perToken) {
    const src = batch[k];
    if (src) (out as unknown as Record<string, Int32Array | Float32Array>)[k] = pick(src, R);
  }
  return out;
}

/**
 * Splits rows 0..B−1 into `worldSize` contiguous shards of (nearly) equal size;
 * returns the rows of `rank`.
 */
export function shardRows(batchSize: number, rank: number, worldSize: number): number[] {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new TrajectoryError(`shardRows: worldSize must be an integer >= 1, found ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new TrajectoryError(`shardRows: rank ${rank} is outside 0..${worldSize - 1}`);
  const base = Math.floor(batchSize / worldSize);
  const extra = batchSize % worldSize;
  const start = rank * base + Math.min(rank, extra);
  const len = base + (rank < extra ? 1 : 0);
  return Array.from({ length: len }, (_, i) => start + i);
}
