import test from 'ava';
import path from 'node:path';
import {
  GRPO_EPS,
  collate,
  getAlgorithm,
  informativeRows,
  listAlgorithms,
  loadAlgorithmPlugins,
  parseAlgorithmParams,
  registerAlgorithm,
  toAdvantageBatch,
  type AdvantageBatch,
} from '../../actors/src/core.js';
import { lcg, makeTrajectory } from './helpers.js';

const params = parseAlgorithmParams('grpo', {});
const ctx = { params, options: {} };

/** Two prompts × n samples, with an observation block in the middle of each response. */
function batchOf(rewardsPerPrompt: number[][], step = 3): AdvantageBatch {
  const trajs = rewardsPerPrompt.flatMap((rs, p) =>
    rs.map((r, s) =>
      makeTrajectory({
        step,
        promptIndex: p,
        sampleIndex: s,
        reward: r,
        segments: [
          { by: 'policy', ids: [10, 11, 12 + s] },
          { by: 'env', ids: [90, 91] },
          { by: 'policy', ids: Array.from({ length: 1 + s }, (_, k) => 20 + k) },
        ],
      }),
    ),
  );
  return toAdvantageBatch(collate(trajs, { padId: 0 }));
}

test('the built-ins are registered and the names are unique', (t) => {
  const names = listAlgorithms().map((a) => a.name);
  for (const n of ['reinforce', 'reinforce++', 'grpo', 'ppo', 'drgrpo', 'dapo', 'gspo']) t.true(names.includes(n));
  t.throws(() => registerAlgorithm({ ...getAlgorithm('grpo') }), { message: /already registered/ });
  t.throws(() => getAlgorithm('reinforce+'), { message: /did you mean "reinforce\+\+"|did you mean "reinforce"/ });
});

test('REINFORCE: the raw reward on every policy token, zero on environment tokens and padding', (t) => {
  const b = batchOf([[0.5, 1], [0]]);
  const { advantages } = getAlgorithm('reinforce').computeAdvantages(b, ctx);
  for (let row = 0; row < b.batchSize; row++) {
    for (let k = 0; k < b.responseLength; k++) {
      const i = row * b.responseLength + k;
      t.is(advantages[i], b.lossMask[i] ? b.scores[row] : 0, `row ${row} token ${k}`);
    }
  }
});

test('GRPO: (r − mean)/(unbiased std + 1e-6) within each prompt group', (t) => {
  const rewards = [[1, 0, 0.5, 0.5], [0.2, 0.2, 0.8, 0.4]];
  const b = batchOf(rewards);
  const { advantages } = getAlgorithm('grpo').computeAdvantages(b, ctx);
  let row = 0;
  for (const rs of rewards) {
    const mean = rs.reduce((s, x) => s + x, 0) / rs.length;
    const std = Math.sqrt(rs.reduce((s, x) => s + (x - mean) ** 2, 0) / (rs.length - 1));
    for (const r of rs) {
      const first = row * b.responseLength; // token 0 is a policy token
      t.true(Math.abs(advantages[first] - (r - mean) / (std + GRPO_EPS)) < 1e-5);
      t.is(advantages[first + 3], 0, 'observation token has no advantage');
      row++;
    }
  }
});

test('GRPO: two prompts with the same data-source index stay separate groups', (t) => {
  // Both prompts come from source index 0 of different data sources — the
  // reference's per-source uid would merge them. Group ids are per prompt.
  const trajs = [
    ...[1, 1].map((r, s) => makeTrajectory({ step: 5, promptIndex: 0, sampleIndex: s, reward: r, dataSource: 'nq', segments: [{ by: 'policy', ids: [7, 8] }] })),
    ...[0, 0].map((r, s) => makeTrajectory({ step: 5, promptIndex: 1, sampleIndex: s, reward: r, dataSource: 'hotpotqa', segments: [{ by: 'policy', ids: [7, 8] }] })),
  ];
  const b = toAdvantageBatch(collate(trajs, { padId: 0 }));
  t.deepEqual(new Set(b.groupIds), new Set(['5:0', '5:1']));
  const { advantages } = getAlgorithm('grpo').computeAdvantages(b, ctx);
  // Each group is uniform, so every advantage is 0. A merged group would give ±0.87.
  for (const a of advantages) t.true(Math.abs(a) < 1e-6);
  // Merging them by hand shows what the bug would have done.
  const merged = getAlgorithm('grpo').computeAdvantages({ ...b, groupIds: ['0', '0', '0', '0'] }, ctx);
  t.true(merged.advantages[0] > 0.8);
});

test('REINFORCE++: returns-to-go with the KL in the reward, whitened over the batch', (t) => {
  const b = batchOf([[1, 0], [0.5]]);
  const R = b.responseLength;
  // Without KL (coef 0) and γ = 1 every policy token's return is the score.
  const noKl = { params: parseAlgorithmParams('reinforce++', { kl: { coef: 0 } }), options: {} };
  const r0 = getAlgorithm('reinforce++').computeAdvantages(b, noKl);
  const scores = [1, 0, 0.5];
  const vals: number[] = [];
  for (let row = 0; row < 3; row++) for (let k = 0; k < R; k++) if (b.lossMask[row * R + k]) vals.push(scores[row]);
  const mean = vals.reduce((s, x) => s + x, 0) / vals.length;
  const std = Math.sqrt(vals.reduce((s, x) => s + (x - mean) ** 2, 0) / (vals.length - 1));
  t.true(Math.abs(r0.advantages[0] - (1 - mean) / std) < 1e-4);
  t.is(r0.advantages[3], 0);
  // With the KL in the reward, an early token's return is the score minus the KL of itself and every later policy token.
  const old = new Float32Array(b.batchSize * R).fill(-1);
  const ref = new Float32Array(b.batchSize * R).fill(-2);
  const withKl = { params: parseAlgorithmParams('reinforce++', { kl: { coef: 0.1, estimator: 'k1' } }), options: {} };
  const r1 = getAlgorithm('reinforce++').computeAdvantages({ ...b, oldLogprobs: old, refLogprobs: ref }, withKl);
  // token rewards: −0.1 × (−1 − −2) = −0.1 per policy token, + score on the last one
  t.true(Math.abs(r1.tokenRewards![0] + 0.1) < 1e-6);
  const last = b.responseLengths[0] - 1;
  t.true(Math.abs(r1.tokenRewards![last] - (1 - 0.1)) < 1e-6);
  t.throws(() => getAlgorithm('reinforce++').computeAdvantages(b, withKl), { message: /needs oldLogprobs and refLogprobs/ });
});

test('PPO: GAE with γ = λ = 1 gives returns equal to the reward-to-go, independent of the values', (t) => {
  const b = batchOf([[1, 0.25]]);
  const R = b.responseLength;
  const rnd = lcg(3);
  const values = Float32Array.from({ length: b.batchSize * R }, () => rnd());
  const p = { params: parseAlgorithmParams('ppo', { kl: { coef: 0 } }), options: {} };
  const out = getAlgorithm('ppo').computeAdvantages({ ...b, values }, p);
  for (let row = 0; row < b.batchSize; row++) {
    for (let k = 0; k < b.responseLengths[row]; k++) {
      const i = row * R + k;
      if (b.lossMask[i]) t.true(Math.abs(out.returns![i] - b.scores[row]) < 1e-5, `row ${row} token ${k}`);
      else t.is(out.returns![i], 0);
    }
  }
  t.throws(() => getAlgorithm('ppo').computeAdvantages(b, p), { message: /needs critic values/ });
  // With γλ < 1 the last policy token's advantage is r − V (before whitening): check its sign tracks r − V.
  const p2 = { params: parseAlgorithmParams('ppo', { kl: { coef: 0 }, gamma: 0.9, lambda: 0.5 }), options: {} };
  const lastIdx = b.responseLengths[0] - 1;
  const v2 = new Float32Array(values.length).fill(0.5);
  const out2 = getAlgorithm('ppo').computeAdvantages({ ...b, values: v2 }, p2);
  t.true(Math.abs(out2.returns![lastIdx] - 1) < 1e-6);
});

test('the RLOO example plug-in: reward minus the mean of the other samples', async (t) => {
  await loadAlgorithmPlugins([path.join(new URL('../../', import.meta.url).pathname, 'actors/src/algorithms/examples/rloo.ts')], '/');
  const rs = [1, 0, 0.5];
  const b = batchOf([rs]);
  const { advantages } = getAlgorithm('rloo').computeAdvantages(b, ctx);
  rs.forEach((r, i) => {
    const others = (rs.reduce((s, x) => s + x, 0) - r) / 2;
    t.true(Math.abs(advantages[i * b.responseLength] - (r - others)) < 1e-6);
  });
});

test('filterGroups: only rows of groups with a reward difference carry advantage; all-equal groups are dropped', (t) => {
  // prompt 0: all fail, prompt 1: one success, prompt 2: all succeed
  const b = batchOf([[0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]]);
  const { advantages } = getAlgorithm('grpo').computeAdvantages(b, ctx);
  const trajs = b as unknown as Parameters<typeof informativeRows>[0];
  t.deepEqual(informativeRows({ ...trajs, advantages }), [4, 5, 6, 7]);
  t.deepEqual(informativeRows({ ...trajs, advantages: new Float32Array(advantages.length) }), []);
  t.throws(() => informativeRows({ ...trajs, advantages: undefined }), { message: /compute the batch advantages first/ });
  t.is(parseAlgorithmParams('grpo', {}).filterGroups, false);
  t.is(parseAlgorithmParams('dapo', {}).filterGroups, true, 'DAPO samples dynamically by default');
});
