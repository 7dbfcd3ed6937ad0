import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, parseModelConfig } from '@cohort/engine';
import { createCollectiveGroup, init } from '@cohort/runtime';
import {
  LearnerActorClass,
  parseAlgorithmParams,
  collate,
  getAlgorithm,
  optimizerSchema,
  selectRows,
  shardRows,
  toAdvantageBatch,
  toPolicyBatch,
} from '../../actors/src/index.js';
import type { GradientResult } from '../../actors/src/learner/learner-actor.js';
import { makeTrajectory } from './helpers.js';

const cfg = parseModelConfig({
  model_type: 'qwen2', vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true,
});

function batch() {
  const trajs = [0, 1].flatMap((p) =>
    [0, 1].map((s) =>
      makeTrajectory({
        step: 1, promptIndex: p, sampleIndex: s, reward: (p + s) % 2,
        prompt: [1, 2 + p, 3],
        segments: [{ by: 'policy', ids: [10 + s, 11] }, { by: 'env', ids: [40, 41, 42] }, { by: 'policy', ids: [12, 13 + p] }],
      }),
    ),
  );
  return collate(trajs, { padId: 0 });
}

test('toPolicyBatch: rows of real tokens, loss mask 0 on the prompt and on environment tokens', (t) => {
  const b = batch();
  const adv = getAlgorithm('grpo').computeAdvantages(toAdvantageBatch(b), { params: parseAlgorithmParams('grpo', {}), options: {} }).advantages;
  const pb = toPolicyBatch(b, { advantages: adv, oldLogprobs: b.oldLogprobs });
  t.deepEqual(pb.inputIds[0], [1, 2, 3, 10, 11, 40, 41, 42, 12, 13]);
  t.deepEqual(pb.lossMask[0], [0, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
  t.is(pb.advantages[0][5], 0);
  t.not(pb.advantages[0][3], 0);
  t.is(pb.rolloutLogprobs, undefined);
  // The rollout's recorded log-probs (truncated importance sampling) are spread like the others.
  const rollout = Float32Array.from(b.oldLogprobs, (x) => x - 0.25);
  const withRollout = toPolicyBatch(b, { advantages: adv, oldLogprobs: b.oldLogprobs, rolloutLogprobs: rollout });
  t.is(withRollout.rolloutLogprobs![0][3], rollout[0]);
  t.is(withRollout.rolloutLogprobs![0][0], 0, 'prompt positions carry 0');
});

test('data-parallel learners in worker processes all-reduce gradients through the ring (weighted by rows) and stay identical', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-learner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  CausalLM.random(cfg, { seed: 4 }).save(dir);
  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  t.teardown(() => rt.shutdown());
  const spec = (rank: number) => ({
    rank, worldSize: 2, modelDir: dir,
    algorithm: { name: 'grpo', params: parseAlgorithmParams('grpo', { kl: { coef: 0 } }) },
    optimizer: optimizerSchema.parse({ lr: 0.01, warmupRatio: 0 }),
    totalUpdates: 4, microBatch: 4,
  });
  const learners = await Promise.all([0, 1].map((r) => rt.spawn(LearnerActorClass, [spec(r)], { resources: { CPU: 0.5, GPU: 0.5 } })));
  await createCollectiveGroup(rt, { name: 'learners', members: learners });
  const b = batch();
  const adv = getAlgorithm('grpo').computeAdvantages(toAdvantageBatch(b), { params: parseAlgorithmParams('grpo', {}), options: {} }).advantages;
  b.advantages = adv;
  const before = await learners[0].paramChecksum();
  // The same updates computed in this process: the row-weighted mean of the shard gradients, applied once.
  const local = new (await import('../../actors/src/learner/learner-actor.js')).LearnerActor(spec(0));
  // Uneven shards (3 rows and 1 row) so the row weighting matters; then one learner without rows.
  const shardsOf = [[[0, 1, 2], [3]], [[0, 1, 2, 3], []]];
  for (let step = 0; step < 2; step++) {
    const pbs = shardsOf[step].map((rows) => {
      const shard = selectRows(b, rows);
      return rows.length ? toPolicyBatch(shard, { advantages: shard.advantages!, oldLogprobs: shard.oldLogprobs }) : null;
    });
    const res = await Promise.all(learners.map((le, r) => le.trainStep(pbs[r])));
    t.deepEqual(res.map((x) => x.version), [step + 1, step + 1]);
    t.is(res[0].rows, 4);
    t.is(res[0].gradNorm, res[1].gradNorm, 'both learners applied the same all-reduced gradient');
    t.is(res[0].loss, res[1].loss);
    t.true(res.every((x) => x.allreduceS >= 0 && x.gradientS > 0));
    const parts: GradientResult[] = [];
    for (const pb of pbs) if (pb) parts.push(await local.gradients(pb)); // one at a time: they share the trainer's accumulator
    const w = parts.map((p) => p.rows / 4);
    if (parts.length === 2) t.notDeepEqual([...parts[0].grads.values()][0], [...parts[1].grads.values()][0], 'shards give different gradients');
    const avg = new Map([...parts[0].grads].map(([k, g0]) => [k, g0.map((_, i) => parts.reduce((s, p, j) => s + w[j] * p.grads.get(k)![i], 0))]));
    const applied = local.applyGradients(avg);
    t.true(Math.abs(applied.gradNorm - res[0].gradNorm) < 1e-4 * applied.gradNorm, `step ${step}: grad norm ${applied.gradNorm} vs ${res[0].gradNorm}`);
    t.true(Math.abs(parts.reduce((s, p, j) => s + w[j] * p.loss, 0) - res[0].loss) < 1e-5, 'the loss is the row-weighted mean');
  }
  t.true(Math.abs(local.paramChecksum() - (await learners[0].paramChecksum())) < 1e-3, 'the ring gives the same update as the in-process weighted mean');
  const sums = await Promise.all(learners.map((le) => le.paramChecksum()));
  t.is(sums[0], sums[1]);
  t.not(sums[0], before, 'the updates changed the parameters');
  const files = await learners[1].checkpointFiles();
  t.is(files.version, 2);
  t.true(files.policy.byteLength > 1000 && files.optimizer.byteLength > files.policy.byteLength);

  // Resume: a fresh learner restored from the checkpoint makes the same next update as an uninterrupted one.
  const resumed = new (await import('../../actors/src/learner/learner-actor.js')).LearnerActor(spec(0));
  t.is(resumed.restore(files.policy, files.optimizer), 2);
  t.is(resumed.paramChecksum(), sums[0]);
  const shard = selectRows(b, shardRows(b.batchSize, 0, 1));
  const pbatch = toPolicyBatch(shard, { advantages: shard.advantages!, oldLogprobs: shard.oldLogprobs });
  const g = (await learners[0].gradients(pbatch)).grads;
  await learners[0].applyGradients(g);
  resumed.applyGradients((await resumed.gradients(pbatch)).grads);
  t.is(resumed.paramChecksum(), await learners[0].paramChecksum());
});
