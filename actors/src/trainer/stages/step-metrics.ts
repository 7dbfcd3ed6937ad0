import type { StepMetrics } from '../../metrics/metrics-writer.js';
import { summarizeTrajectories } from '../../metrics/metrics-writer.js';
import type { RolloutBatch } from '../../rollout/rollout-actor.js';
import type { SimulatorStats } from '../../simulator/simulator-actor.js';
import type { CollatedBatch } from '../../trajectory/collate.js';
import type { Trajectory } from '../../trajectory/trajectory.js';
import type { PeriodicEval } from '../evaluate.js';
import type { RecoveryEvent } from '../replicas.js';
import type { ScoredBatch } from './score.js';
import type { UpdateOutcome } from './update.js';

/** Everything a step measured, for its metrics line. */
export interface StepRecord {
  step: number;
  noiseP: number;
  trajectories: Trajectory[];
  batches: RolloutBatch[];
  /** Stats of the simulators that answered (one lost meanwhile has none). */
  simStats: SimulatorStats[];
  scored: ScoredBatch;
  updateRows: number;
  update: UpdateOutcome;
  /** Seconds the learners waited for the step's rollouts; the weight sync; the periodic eval. */
  waitS: number;
  syncS: number;
  evalS: number;
  periodic: PeriodicEval | undefined;
  totalS: number;
  /** The weight publish of the step. */
  sync: { bytes: number; shm: number; bulk: number };
  /** Learners in the all-reduce. */
  world: number;
  /** Actor name → node at the end of the step. */
  nodes: Record<string, string>;
  pool: { rollouts: number; simulators: number; joined?: string[]; left?: string[] };
  /** What was recovered during the step, and the learners' checksums after it. */
  recovery?: { events: RecoveryEvent[]; learnerChecksums?: number[] };
}

/** Stage "log": the step's line of metrics.jsonl (reward and lengths, time split, simulator batching, losses, staleness). */
export function stepMetrics(r: StepRecord): StepMetrics {
  const { update: u, scored } = r;
  const batch = scored.batch;
  const st = scored.staleness;
  const simBatches = r.simStats.reduce((s, x) => s + x.batches, 0);
  const critic = scored.seconds.critic + u.seconds.critic;
  return {
    step: r.step,
    time: new Date().toISOString(),
    policyVersion: u.version,
    ...summarizeTrajectories(r.trajectories),
    noiseP: r.noiseP,
    timings: {
      generate: Math.max(0, ...r.batches.map((b) => b.timings.generate)),
      search: Math.max(0, ...r.batches.map((b) => b.timings.search)),
      oldLogprob: scored.seconds.oldLogprob,
      ref: scored.seconds.ref,
      update: u.seconds.update,
      allreduce: u.seconds.allreduce,
      weightSync: r.syncS,
      ...(r.periodic ? { eval: r.evalS } : {}),
      ...(u.critic || batch.values ? { critic } : {}),
      total: r.totalS,
    },
    simulatorBatch: {
      mean: simBatches ? searchesOf(r.simStats) / simBatches : 0,
      max: Math.max(0, ...r.simStats.map((x) => x.maxBatch)),
      batches: simBatches,
    },
    simulator: simulatorCost(r.simStats, r.totalS),
    idleRatio: Math.min(1, Math.max(0, r.waitS / Math.max(r.totalS, 1e-9))),
    loss: u.loss,
    lr: u.lr,
    gradNorm: Number.isFinite(u.gradNorm) ? u.gradNorm : undefined,
    ...(u.critic && batch.values && batch.returns
      ? { critic: { ...valueStats(batch.values, batch.returns, batch.lossMask), valueLoss: u.critic.valueLoss, lr: u.critic.last.lr, gradNorm: Number.isFinite(u.critic.last.gradNorm) ? u.critic.last.gradNorm : undefined } }
      : {}),
    updateRows: r.updateRows,
    staleness: {
      maxLag: st.maxLag,
      meanLag: st.meanLag,
      dropped: st.dropped.length,
      ...(scored.gap.tokens ? { logprob_gap: scored.gap.gap, kl_k3: scored.gap.kl, gapTokens: scored.gap.tokens } : {}),
    },
    ...r.periodic,
    transfer: {
      weightSyncBytes: r.sync.bytes,
      weightSyncShm: r.sync.shm,
      weightSyncBulk: r.sync.bulk,
      allreduceBytes: u.allreduceBytes,
      // Ring all-reduce bus bandwidth (NCCL's convention): each byte crosses 2(W−1)/W links.
      allreduceBusbw: r.world > 1 && u.seconds.allreduce > 0 ? (u.allreduceBytes * ((2 * (r.world - 1)) / r.world)) / u.seconds.allreduce / 1e9 : 0,
    },
    pool: r.pool,
    nodes: r.nodes,
    ...(r.recovery && r.recovery.events.length ? { recovery: r.recovery } : {}),
  };
}

/** Searches, busy seconds, searches per busy second and share of the step the simulators were busy. */
export function simulatorCost(stats: readonly SimulatorStats[], stepS: number): NonNullable<StepMetrics['simulator']> {
  const searches = Math.round(searchesOf(stats));
  const busyS = stats.reduce((s, x) => s + x.busyS, 0);
  return {
    searches,
    busyS,
    searchesPerS: busyS > 0 ? searches / busyS : 0,
    stepShare: stats.length && stepS > 0 ? Math.min(1, busyS / (stats.length * stepS)) : 0,
  };
}

/** Searches the simulators answered: each one's mean batch times its batches. */
function searchesOf(stats: readonly SimulatorStats[]): number {
  return stats.reduce((s, x) => s + x.meanBatch * x.batches, 0);
}

/** Mean value and return on policy tokens and the explained variance 1 − Var(R − V)/Var(R) (0 when the returns are constant). */
function valueStats(values: Float32Array, returns: Float32Array, mask: CollatedBatch['lossMask']): { valueMean: number; returnMean: number; explainedVariance: number } {
  let n = 0;
  let sv = 0;
  let sr = 0;
  let sd = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    n++;
    sv += values[i];
    sr += returns[i];
    sd += returns[i] - values[i];
  }
  if (n === 0) return { valueMean: 0, returnMean: 0, explainedVariance: 0 };
  let varR = 0;
  let varD = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    varR += (returns[i] - sr / n) ** 2;
    varD += (returns[i] - values[i] - sd / n) ** 2;
  }
  return { valueMean: sv / n, returnMean: sr / n, explainedVariance: varR > 0 ? 1 - varD / varR : 0 };
}
