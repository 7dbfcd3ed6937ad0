import type { TrainConfig } from '../../config/schema.js';
import { toValueBatch, type CriticStepResult } from '../../learner/critic-actor.js';
import { toPolicyBatch } from '../../learner/engine-batch.js';
import type { Rng } from '@cohort/engine/rng';
import { selectRows, shardRows, type CollatedBatch } from '../../trajectory/collate.js';
import type { Job } from '../job-actors.js';

/** What a step's updates did (loss parts averaged over the updates). */
export interface UpdateOutcome {
  /** Policy version after the last update. */
  version: number;
  updates: number;
  loss?: { total: number; pg: number; kl: number; entropy: number; clipFraction: number; terms: Record<string, number> };
  gradNorm: number;
  lr: number;
  /** Seconds: learner compute (beyond the all-reduce), the all-reduce itself, the critics. */
  seconds: { update: number; allreduce: number; critic: number };
  /** Bytes one learner sent through the all-reduce over the step (bus bandwidth = bytes ÷ seconds.allreduce). */
  allreduceBytes: number;
  critic?: { valueLoss: number; last: CriticStepResult };
}

/**
 * Stage "update": epochs × mini-batches over `rows` (shuffled by the trainer's
 * RNG); each mini-batch is sharded over the learners, which compute their
 * gradients, all-reduce them (ring) and apply the engine's step; the critics
 * update on the same mini-batch alongside. `version` is the policy version
 * before the first update.
 */
export async function update(
  job: Job,
  config: TrainConfig,
  input: { batch: CollatedBatch; rows: number[]; rng: Rng; version: number },
): Promise<UpdateOutcome> {
  const { batch } = input;
  const W = job.actors.learners.length;
  let criticUpdates = 0;
  const out: UpdateOutcome = { version: input.version, updates: 0, gradNorm: 0, lr: 0, seconds: { update: 0, allreduce: 0, critic: 0 }, allreduceBytes: 0 };
  const sum = { total: 0, pg: 0, kl: 0, entropy: 0, clipFraction: 0 };
  const terms: Record<string, number> = {};
  let valueLoss = 0;
  for (let epoch = 0; epoch < config.algorithm.params.epochs; epoch++) {
    const order = input.rng.shuffle([...input.rows]);
    for (let m = 0; m < order.length; m += config.batch.miniBatch) {
      const picked = order.slice(m, m + config.batch.miniBatch);
      const mini = selectRows(batch, picked);
      const tu = performance.now();
      // The critics update on the same mini-batch alongside the learners (clip anchor: this step's values).
      const criticRun = job.critics ? criticUpdate(job, mini, criticUpdates++) : null;
      criticRun?.catch(() => undefined); // awaited below; must not go unhandled if the learners' update throws first
      // Every learner computes its shard's gradient, all-reduces it with the others (ring) and applies
      // it, exactly once even when a learner is lost mid-way (it is replaced from a surviving peer).
      const results = await job.learners.update(`update ${out.updates + 1} of the step`, out.version, (le, r) => {
        const rowsR = shardRows(mini.batchSize, r, W);
        if (rowsR.length === 0) return le.trainStep(null);
        const shard = selectRows(mini, rowsR);
        return le.trainStep(toPolicyBatch(shard, { advantages: shard.advantages!, oldLogprobs: shard.oldLogprobs, refLogprobs: shard.refLogprobs, rolloutLogprobs: shard.rolloutLogprobs }));
      });
      // The collective's own time: the last learner to arrive waits for no one, so the minimum
      // is the communication; what the others waited beyond it is compute imbalance (update).
      const reduce = Math.min(...results.map((x) => x.allreduceS));
      out.seconds.allreduce += reduce;
      out.seconds.update += Math.max(0, (performance.now() - tu) / 1000 - reduce);
      out.allreduceBytes += results[0].allreduceBytes;
      const res = results[0];
      if (criticRun) {
        const cr = await criticRun;
        out.seconds.critic += cr.seconds;
        valueLoss += cr.result.valueLoss;
        out.critic = { valueLoss: 0, last: cr.result };
      }
      out.version = res.version;
      out.gradNorm = res.gradNorm;
      out.lr = res.lr;
      sum.total += res.loss;
      sum.pg += res.pgLoss;
      sum.kl += res.klLoss;
      sum.entropy += res.entropyLoss;
      sum.clipFraction += res.clipFrac;
      for (const [k, v] of Object.entries(res.metrics)) terms[k] = (terms[k] ?? 0) + v;
      out.updates++;
    }
  }
  const n = out.updates;
  if (n) {
    for (const k of Object.keys(terms)) terms[k] /= n;
    out.loss = { total: sum.total / n, pg: sum.pg / n, kl: sum.kl / n, entropy: sum.entropy / n, clipFraction: Math.min(1, Math.max(0, sum.clipFraction / n)), terms };
  }
  if (out.critic) out.critic.valueLoss = valueLoss / n;
  return out;
}

/** One data-parallel critic update on a mini-batch (every critic takes its shard; all-reduced in the critics), exactly once. */
async function criticUpdate(job: Job, mini: CollatedBatch, n: number): Promise<{ result: CriticStepResult; seconds: number }> {
  const t0 = performance.now();
  const critics = job.critics!;
  const W = job.actors.critics.length;
  const before = await critics.one('critic version', 0, (cr) => cr.updates());
  const [result] = await critics.update(`critic update ${n + 1} of the step`, before, (cr, r) => {
    const rowsR = shardRows(mini.batchSize, r, W);
    if (rowsR.length === 0) return cr.trainStep(null);
    const shard = selectRows(mini, rowsR);
    return cr.trainStep(toValueBatch(shard, shard.returns!, shard.values!));
  });
  return { result, seconds: (performance.now() - t0) / 1000 };
}
