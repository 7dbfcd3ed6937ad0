import test from 'ava';
import path from 'node:path';
import {
  GRPO_EPS,
  aggregationWeights,
  algorithmParamsSchema,
  collate,
  getAlgorithm,
  getPolicyLoss,
  informativeRows,
  klEstimate,
  listAlgorithms,
  loadAlgorithmPlugins,
  ppoClipLoss,
  registerAlgorithm,
  clippedValueLoss,
  toAdvantageBatch,
  type AdvantageBatch,
  type PolicyLossInput,
} from '../../actors/src/core.js';
import { lcg, makeTrajectory } from './helpers.js';

const params = algorithmParamsSchema.parse({});
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
  for (const n of ['reinforce', 'reinforce++', 'grpo', 'ppo']) t.true(names.includes(n));
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
  const noKl = { params: algorithmParamsSchema.parse({ kl: { coef: 0 } }), options: {} };
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
  const withKl = { params: algorithmParamsSchema.parse({ kl: { coef: 0.1, estimator: 'k1' } }), options: {} };
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
  const p = { params: algorithmParamsSchema.parse({ kl: { coef: 0 } }), options: {} };
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
  const p2 = { params: algorithmParamsSchema.parse({ kl: { coef: 0 }, gamma: 0.9, lambda: 0.5 }), options: {} };
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

function lossInput(n: number, B: number, seed: number): PolicyLossInput {
  const rnd = lcg(seed);
  const R = n / B;
  const logprobs = Float32Array.from({ length: n }, () => -0.2 - 2 * rnd());
  return {
    batchSize: B,
    responseLength: R,
    logprobs,
    oldLogprobs: Float32Array.from(logprobs, (x) => x + (rnd() - 0.5) * 0.8),
    refLogprobs: Float32Array.from(logprobs, (x) => x + (rnd() - 0.5) * 1.5),
    advantages: Float32Array.from({ length: n }, () => (rnd() - 0.5) * 4),
    lossMask: Float32Array.from({ length: n }, (_, i) => (i % 5 === 3 ? 0 : 1)),
    entropy: Float32Array.from({ length: n }, () => rnd() * 3),
  };
}

test('KL sign: the k3 penalty is non-negative and increases the loss; its gradient pulls toward the reference', (t) => {
  for (const [lp, ref] of [[-1, -2], [-2, -1], [-0.5, -0.5]]) t.true(klEstimate('k3', lp, ref) >= 0);
  const inp = lossInput(40, 4, 7);
  const withKl = ppoClipLoss(inp, algorithmParamsSchema.parse({ kl: { coef: 0.5 } }), { klInLoss: true });
  const noKl = ppoClipLoss(inp, algorithmParamsSchema.parse({ kl: { coef: 0 } }), { klInLoss: true });
  t.true(withKl.kl > 0);
  t.true(withKl.loss > noKl.loss, `loss with KL ${withKl.loss} should exceed ${noKl.loss}`);
  t.true(Math.abs(withKl.loss - noKl.loss - 0.5 * withKl.kl) < 1e-9);
  // Zero advantages isolate the KL gradient: descending it moves logp toward ref.
  const zeroAdv = { ...inp, advantages: new Float32Array(40), entropy: undefined };
  const g = ppoClipLoss(zeroAdv, algorithmParamsSchema.parse({ kl: { coef: 1 } }), { klInLoss: true }).dLogprobs;
  for (let i = 0; i < 40; i++) {
    if (!inp.lossMask[i]) continue;
    const diff = inp.logprobs[i] - inp.refLogprobs![i];
    if (Math.abs(diff) > 1e-3) t.is(Math.sign(g[i]), Math.sign(diff), `token ${i}`);
  }
  // With the KL in the reward the loss ignores it.
  const inReward = ppoClipLoss(inp, algorithmParamsSchema.parse({ kl: { coef: 0.5 } }), { klInLoss: false });
  t.is(inReward.loss, noKl.loss);
});

test('PPO-clip (with dual clip, KL and entropy) gradient matches finite differences', (t) => {
  const p = algorithmParamsSchema.parse({ dualClip: 3, kl: { coef: 0.2, estimator: 'k3' }, entropyCoef: 0.01, lossAggregation: 'seq-mean-token-mean' });
  const inp = lossInput(30, 3, 11);
  const base = ppoClipLoss(inp, p, { klInLoss: true });
  const h = 1e-3;
  let checked = 0;
  for (let i = 0; i < 30; i++) {
    const up = Float32Array.from(inp.logprobs);
    const dn = Float32Array.from(inp.logprobs);
    up[i] += h;
    dn[i] -= h;
    const fd = (ppoClipLoss({ ...inp, logprobs: up }, p, { klInLoss: true }).loss - ppoClipLoss({ ...inp, logprobs: dn }, p, { klInLoss: true }).loss) / (2 * h);
    // Skip tokens sitting on a clip boundary (non-differentiable there).
    if (Math.abs(fd - base.dLogprobs[i]) > 1e-3 && Math.abs(fd) > 1e-9) {
      const r = Math.exp(inp.logprobs[i] - inp.oldLogprobs[i]);
      if (Math.abs(r - 0.8) < 0.01 || Math.abs(r - 1.2) < 0.01) continue;
    }
    t.true(Math.abs(fd - base.dLogprobs[i]) < 2e-3, `token ${i}: fd ${fd} vs ${base.dLogprobs[i]}`);
    checked++;
  }
  t.true(checked > 20);
  t.true(base.clipFraction > 0 && base.clipFraction < 1);
  t.is(getPolicyLoss('ppo-clip').compute, ppoClipLoss);
});

test('dual clip bounds the loss of negative-advantage tokens at −A·c', (t) => {
  const inp: PolicyLossInput = {
    batchSize: 1,
    responseLength: 1,
    logprobs: Float32Array.of(0 - 0.01),
    oldLogprobs: Float32Array.of(-3),
    advantages: Float32Array.of(-1),
    lossMask: Float32Array.of(1),
  };
  const plain = ppoClipLoss(inp, algorithmParamsSchema.parse({ kl: { coef: 0 }, entropyCoef: 0 }), { klInLoss: true });
  const dual = ppoClipLoss(inp, algorithmParamsSchema.parse({ kl: { coef: 0 }, entropyCoef: 0, dualClip: 3 }), { klInLoss: true });
  t.true(plain.loss > 10); // ratio ≈ e^3
  t.true(Math.abs(dual.loss - 3) < 1e-9);
  t.is(dual.dLogprobs[0], 0);
});

test('loss aggregation weights: token-mean, seq-mean-token-sum, seq-mean-token-mean', (t) => {
  const mask = Float32Array.of(1, 1, 1, 0, 1, 0, 0, 0, 0);
  const tm = aggregationWeights('token-mean', mask, 3, 3);
  t.true(Math.abs(tm[0] - 0.25) < 1e-7 && tm[3] === 0);
  const sts = aggregationWeights('seq-mean-token-sum', mask, 3, 3);
  t.true(Math.abs(sts[0] - 1 / 3) < 1e-7 && Math.abs(sts[4] - 1 / 3) < 1e-7);
  const stm = aggregationWeights('seq-mean-token-mean', mask, 3, 3);
  // Row 2 has no policy tokens but still counts in the mean over sequences.
  t.true(Math.abs(stm[0] - 1 / 9) < 1e-7 && Math.abs(stm[4] - 1 / 3) < 1e-7);
  t.true(Math.abs(stm.reduce((s, x) => s + x, 0) - 2 / 3) < 1e-6);
});

test('clipped value loss and its gradient', (t) => {
  const out = clippedValueLoss(
    { values: Float32Array.of(2, 0.1), oldValues: Float32Array.of(0, 0), returns: Float32Array.of(1, 1), lossMask: Float32Array.of(1, 1) },
    0.5,
  );
  // token 0: max((2−1)², (0.5−1)²) = 1 (unclipped branch); token 1: max(0.81, 0.81) = 0.81
  t.true(Math.abs(out.loss - 0.5 * (1 + 0.81) / 2) < 1e-6);
  t.true(Math.abs(out.dValues[0] - 0.5) < 1e-6);
});

test('filterGroups: only rows of groups with a reward difference carry advantage; all-equal groups are dropped', (t) => {
  // prompt 0: all fail, prompt 1: one success, prompt 2: all succeed
  const b = batchOf([[0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]]);
  const { advantages } = getAlgorithm('grpo').computeAdvantages(b, ctx);
  const trajs = b as unknown as Parameters<typeof informativeRows>[0];
  t.deepEqual(informativeRows({ ...trajs, advantages }), [4, 5, 6, 7]);
  t.deepEqual(informativeRows({ ...trajs, advantages: new Float32Array(advantages.length) }), []);
  t.throws(() => informativeRows({ ...trajs, advantages: undefined }), { message: /compute the batch advantages first/ });
  t.is(algorithmParamsSchema.parse({}).filterGroups, false);
});
