import type { TrainConfig } from '../../config/schema.js';
import { rowsToResponse, rowTokens } from '../../learner/engine-batch.js';
import { applyStaleness, logprobGap, type LogprobGap, type StalenessOutcome } from '../../staleness/staleness.js';
import { collate, type CollatedBatch } from '../../trajectory/collate.js';
import type { Trajectory } from '../../trajectory/trajectory.js';
import { sharded, type Job } from '../job-actors.js';

/** A step's batch with everything the advantages and the update need. */
export interface ScoredBatch {
  /** The rows kept by the staleness policy, with old (and ref, critic) per-token figures. */
  batch: CollatedBatch;
  staleness: StalenessOutcome;
  /** The rollouts' recorded log-probs against the learners' (the staleness guard's measure). */
  gap: LogprobGap;
  /** Seconds of the old-log-prob pass (learners), the reference pass and the critic values. */
  seconds: { oldLogprob: number; ref: number; critic: number };
}

/**
 * Stage "score": collates the trajectories, has the learners recompute the
 * old log-probs under policy `version` (rows sharded over them), applies the
 * staleness policy (async mode), compares the rollouts' recorded log-probs
 * with the learners' (the staleness guard's gap, on tokens of the current
 * version; at the rollout temperature when it is not 1, an extra pass), then
 * adds the references' log-probs (KL) and the critics' values (PPO), each
 * sharded over its actors.
 */
export async function score(job: Job, config: TrainConfig, trajectories: Trajectory[], version: number): Promise<ScoredBatch> {
  const { actors } = job;
  const full = collate(trajectories, { padId: 0 });
  const t1 = performance.now();
  const oldRows = await sharded(rowTokens(full), actors.learners.length, (parts) => job.learners.each('old log-probs', (le, r) => (parts[r].length ? le.score(parts[r]) : [])));
  const oldLogprobs = rowsToResponse(full, oldRows);
  // The rollouts record log-probs of the tempered distribution they sample from (greedy: temperature 1).
  const temperature = config.rollout.temperature || 1;
  const atTemperature =
    temperature === 1 ? oldLogprobs : rowsToResponse(full, await sharded(rowTokens(full), actors.learners.length, (parts) => job.learners.each('guard log-probs', (le, r) => (parts[r].length ? le.score(parts[r], temperature) : []))));
  const gap = logprobGap(full, atTemperature, version);
  const oldLogprob = (performance.now() - t1) / 1000;
  const st = applyStaleness(full, { currentVersion: version, mode: config.mode, proximalLogprobs: oldLogprobs });
  const kept: CollatedBatch = st.rolloutLogprobs ? { ...st.batch, rolloutLogprobs: st.rolloutLogprobs } : { ...st.batch, oldLogprobs: pickKept(full, st.batch, oldLogprobs) };
  // The masking ablation: the loss covers the inserted documents too (after the gap, which compares sampled tokens only).
  const batch: CollatedBatch = config.rollout.maskObservations ? kept : { ...kept, lossMask: unmaskedResponses(kept) };
  const t2 = performance.now();
  // References restart by themselves (their calls are re-sent after a restart).
  const refs = actors.references;
  if (refs.length) batch.refLogprobs = rowsToResponse(batch, await sharded(rowTokens(batch), refs.length, (parts) => Promise.all(refs.map((re, r) => (parts[r].length ? re.score(parts[r]) : [])))));
  const ref = (performance.now() - t2) / 1000;
  const t3 = performance.now();
  // PPO: the critics' per-token values (sharded like the references) go into GAE.
  const critics = job.critics;
  if (critics) batch.values = rowsToResponse(batch, await sharded(rowTokens(batch), actors.critics.length, (parts) => critics.each('critic values', (cr, r) => (parts[r].length ? cr.values(parts[r]) : []))));
  const critic = critics ? (performance.now() - t3) / 1000 : 0;
  return { batch, staleness: st, gap, seconds: { oldLogprob, ref, critic } };
}

/** A loss mask of 1 on every response token of every row (documents included), 0 on padding. */
export function unmaskedResponses(batch: CollatedBatch): Float32Array {
  const R = batch.responseLength;
  const out = new Float32Array(batch.batchSize * R);
  for (let b = 0; b < batch.batchSize; b++) out.fill(1, b * R, b * R + batch.responseLengths[b]);
  return out;
}

/** Old log-probs of the rows `kept` retained from `full` (drop mode keeps a subset, in order). */
function pickKept(full: CollatedBatch, kept: CollatedBatch, values: Float32Array): Float32Array {
  if (kept.batchSize === full.batchSize) return values;
  const index = new Map(full.trajectoryIds.map((id, i) => [id, i]));
  const R = full.responseLength;
  const out = new Float32Array(kept.batchSize * R);
  kept.trajectoryIds.forEach((id, b) => out.set(values.subarray(index.get(id)! * R, (index.get(id)! + 1) * R), b * R));
  return out;
}
