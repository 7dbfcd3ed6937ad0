// The policy losses that train: each algorithm's loss is compiled by the engine (the same
// build the learners' training graph runs) and checked against an independent closed form
// or finite differences on a tiny batch.
import test from 'ava';
import { z } from 'zod';
import { PolicyLossEvaluator, type LossEvalBatch, type LossEvalResult, type PolicyLoss } from '@cohort/engine';
import {
  algorithmPolicyLoss,
  collate,
  getAlgorithm,
  listAlgorithms,
  overlongPenalty,
  paramsSchemaOf,
  parseAlgorithmParams,
  toAdvantageBatch,
  type AdvantageBatch,
  type AlgorithmParams,
} from '../../actors/src/core.js';
import { lcg, makeTrajectory } from './helpers.js';

const B = 4;
const T = 6;
const N = B * T;

/** A [4, 6] batch: ratios spread over [e^-1.2, e^1.2], mixed-sign advantages, masked positions, one empty row. */
function lossBatch(seed: number, opts: { perSequenceAdv?: boolean; emptyRow?: boolean } = {}): LossEvalBatch & { refLogprobs: Float32Array; entropy: Float32Array; rolloutLogprobs: Float32Array } {
  const rnd = lcg(seed);
  const logprobs = Float32Array.from({ length: N }, () => -0.3 - 2 * rnd());
  const seqAdv = Array.from({ length: B }, () => (rnd() - 0.5) * 4);
  return {
    batchSize: B,
    seqLength: T,
    logprobs,
    oldLogprobs: Float32Array.from(logprobs, (x) => x + (rnd() - 0.5) * 2.4),
    refLogprobs: Float32Array.from(logprobs, (x) => x + (rnd() - 0.5) * 1.5),
    rolloutLogprobs: Float32Array.from(logprobs, (x) => x + (rnd() - 0.5) * 2),
    advantages: Float32Array.from({ length: N }, (_, i) => (opts.perSequenceAdv ? seqAdv[Math.floor(i / T)] : (rnd() - 0.5) * 4)),
    // row 1 has masked positions inside; row 3 is empty unless asked otherwise
    mask: Float32Array.from({ length: N }, (_, i) => (Math.floor(i / T) === 3 && opts.emptyRow !== false ? 0 : i % 5 === 3 ? 0 : 1)),
    entropy: Float32Array.from({ length: N }, () => rnd() * 3),
  };
}

async function evaluate(loss: PolicyLoss, b: LossEvalBatch): Promise<LossEvalResult> {
  const ev = await PolicyLossEvaluator.create(loss);
  try {
    return await ev.run(b);
  } finally {
    await ev.release();
  }
}

const lossOf = (name: string, raw: Record<string, unknown>, ctx: { maxResponseTokens?: number; tisCap?: number } = {}) =>
  algorithmPolicyLoss(getAlgorithm(name), parseAlgorithmParams(name, raw), { maxResponseTokens: 10, ...ctx });

// ---- independent closed forms (plain JavaScript, per token) -------------------------------

type Agg = 'token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm';

/** Aggregation weights w such that agg(x) = Σ w_i x_i. */
function aggWeights(mode: Agg, mask: Float32Array, normTokens = 1): Float32Array {
  const w = new Float32Array(N);
  const total = mask.reduce((s, m) => s + m, 0);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let t = 0; t < T; t++) n += mask[b * T + t];
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (!mask[i]) continue;
      w[i] = mode === 'token-mean' ? 1 / total : mode === 'seq-mean-token-sum' ? 1 / B : mode === 'seq-mean-token-mean' ? 1 / (B * n) : 1 / (B * normTokens);
    }
  }
  return w;
}

function klTok(est: string, lp: number, ref: number, clamp: number): { v: number; g: number } {
  const d = lp - ref;
  const raw = est === 'k1' ? d : est === 'k2' ? 0.5 * d * d : Math.exp(-d) + d - 1;
  const grad = est === 'k1' ? 1 : est === 'k2' ? d : 1 - Math.exp(-d);
  return raw > clamp || raw < -clamp ? { v: Math.sign(raw) * clamp, g: 0 } : { v: raw, g: grad };
}

interface ClipForm {
  lo: number;
  hi: number;
  dual: number | null;
  klCoef: number;
  est: string;
  clamp: number;
  entCoef: number;
  agg: Agg;
  normTokens?: number;
  weights?: Float32Array;
}

/** PPO-clip: pg_t = max(−Aρ, −A·clip(ρ, 1−lo, 1+hi)), dual min(·, −Ac) for A<0; loss = agg(w·pg) + c·agg(KL) − e·agg(H). */
function clipClosedForm(b: LossEvalBatch & { refLogprobs: Float32Array; entropy: Float32Array }, f: ClipForm) {
  const w = aggWeights(f.agg, b.mask, f.normTokens);
  const dLogprobs = new Float32Array(N);
  const dEntropy = new Float32Array(N);
  let loss = 0;
  let pg = 0;
  let clipped = 0;
  let tokens = 0;
  for (let i = 0; i < N; i++) {
    if (!b.mask[i]) continue;
    tokens++;
    const a = b.advantages[i];
    const r = Math.exp(b.logprobs[i] - b.oldLogprobs[i]);
    const iw = f.weights ? f.weights[i] : 1;
    const l1 = -a * r;
    const rc = Math.min(1 + f.hi, Math.max(1 - f.lo, r));
    const l2 = -a * rc;
    let v = Math.max(l1, l2);
    let g = l1 >= l2 ? -a * r : rc === r ? -a * r : 0;
    if (l2 > l1) clipped++;
    if (f.dual !== null && a < 0 && -a * f.dual < v) {
      v = -a * f.dual;
      g = 0;
    }
    pg += w[i] * iw * v;
    dLogprobs[i] = w[i] * iw * g;
    const k = klTok(f.est, b.logprobs[i], b.refLogprobs[i], f.clamp);
    loss += f.klCoef * w[i] * k.v - f.entCoef * w[i] * b.entropy[i];
    dLogprobs[i] += f.klCoef * w[i] * k.g;
    dEntropy[i] = -f.entCoef * w[i];
  }
  return { loss: loss + pg, pg, clipFrac: clipped / tokens, dLogprobs, dEntropy };
}

const close = (a: number, b: number, tol = 2e-5) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

function assertGradients(t: import('ava').ExecutionContext, got: Float32Array, want: Float32Array, what: string): void {
  for (let i = 0; i < N; i++) t.true(close(got[i], want[i], 1e-4), `${what}: token ${i} graph ${got[i]} vs closed form ${want[i]}`);
}

// ---- PPO-clip (the built-in loss of reinforce, grpo, ppo, reinforce++) --------------------

test('PPO-clip in the graph equals the closed form: asymmetric and dual clip, KL k1/k2/k3 with clamp, entropy, every aggregation', async (t) => {
  const b = lossBatch(11);
  const cases: { raw: Record<string, unknown>; form: ClipForm; alg?: string; normTokens?: number }[] = [
    { raw: { clipRatio: 0.2, dualClip: 3, kl: { coef: 0.2, estimator: 'k3' }, entropyCoef: 0.01, lossAggregation: 'token-mean' }, form: { lo: 0.2, hi: 0.2, dual: 3, klCoef: 0.2, est: 'k3', clamp: 10, entCoef: 0.01, agg: 'token-mean' } },
    { raw: { clipRatio: 0.2, clipRatioHigh: 0.28, kl: { coef: 0.5, estimator: 'k1', clamp: 0.3 }, entropyCoef: 0, lossAggregation: 'seq-mean-token-sum' }, form: { lo: 0.2, hi: 0.28, dual: null, klCoef: 0.5, est: 'k1', clamp: 0.3, entCoef: 0, agg: 'seq-mean-token-sum' } },
    { raw: { clipRatio: 0.1, clipRatioLow: 0.3, dualClip: 2, kl: { coef: 1, estimator: 'k2', clamp: 0.2 }, entropyCoef: 0.05, lossAggregation: 'seq-mean-token-mean' }, form: { lo: 0.3, hi: 0.1, dual: 2, klCoef: 1, est: 'k2', clamp: 0.2, entCoef: 0.05, agg: 'seq-mean-token-mean' } },
    // Dr. GRPO's aggregation: token sums over a constant (normTokens), mean over sequences.
    { alg: 'drgrpo', raw: { clipRatio: 0.2, kl: { coef: 0.1 }, entropyCoef: 0.02, normTokens: 7 }, form: { lo: 0.2, hi: 0.2, dual: null, klCoef: 0.1, est: 'k3', clamp: 10, entCoef: 0.02, agg: 'seq-mean-token-sum-norm', normTokens: 7 } },
  ];
  for (const c of cases) {
    const r = await evaluate(lossOf(c.alg ?? 'grpo', c.raw), b);
    const e = clipClosedForm(b, c.form);
    t.true(close(r.loss, e.loss), `${JSON.stringify(c.raw)}: loss ${r.loss} vs ${e.loss}`);
    t.true(close(r.metrics.pg_loss, e.pg), `pg ${r.metrics.pg_loss} vs ${e.pg}`);
    t.true(close(r.metrics.clip_frac, e.clipFrac), `clip_frac ${r.metrics.clip_frac} vs ${e.clipFrac}`);
    t.true(e.clipFrac > 0 && e.clipFrac < 1, 'some tokens clipped, some not');
    assertGradients(t, r.dLogprobs, e.dLogprobs, JSON.stringify(c.raw));
    assertGradients(t, r.dEntropy, e.dEntropy, 'entropy');
  }
});

test('PPO-clip: the graph gradient matches finite differences of the graph loss', async (t) => {
  const b = lossBatch(5);
  const ev = await PolicyLossEvaluator.create(lossOf('grpo', { dualClip: 3, kl: { coef: 0.2 }, entropyCoef: 0.01, lossAggregation: 'seq-mean-token-mean' }));
  t.teardown(() => ev.release());
  const base = await ev.run(b);
  const h = 1e-3;
  let checked = 0;
  for (let i = 0; i < N; i++) {
    const r = Math.exp(b.logprobs[i] - b.oldLogprobs[i]);
    if (Math.abs(r - 0.8) < 0.01 || Math.abs(r - 1.2) < 0.01) continue; // on a clip boundary: not differentiable
    const at = async (v: number) => {
      const lp = Float32Array.from(b.logprobs);
      lp[i] = v;
      return (await ev.run({ ...b, logprobs: lp })).loss;
    };
    const fd = ((await at(b.logprobs[i] + h)) - (await at(b.logprobs[i] - h))) / (2 * h);
    t.true(Math.abs(fd - base.dLogprobs[i]) < 2e-3, `token ${i}: fd ${fd} vs ${base.dLogprobs[i]}`);
    checked++;
  }
  t.true(checked > 15);
});

test('KL: k3 is non-negative and adds to the loss, its gradient pulls toward the reference, kl.clamp caps it', async (t) => {
  const b = lossBatch(7);
  const noKl = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }), b);
  const withKl = await evaluate(lossOf('grpo', { kl: { coef: 0.5 }, entropyCoef: 0 }), b);
  t.true(withKl.metrics.kl_loss > 0);
  t.true(close(withKl.loss - noKl.loss, 0.5 * withKl.metrics.kl_loss), 'loss − loss(no KL) = coef · KL');
  // Zero advantages isolate the KL gradient: descending it moves logp toward ref.
  const zero = { ...b, advantages: new Float32Array(N) };
  const g = (await evaluate(lossOf('grpo', { kl: { coef: 1 }, entropyCoef: 0 }), zero)).dLogprobs;
  for (let i = 0; i < N; i++) {
    const diff = b.logprobs[i] - b.refLogprobs[i];
    if (b.mask[i] && Math.abs(diff) > 1e-3) t.is(Math.sign(g[i]), Math.sign(diff), `token ${i}`);
  }
  // A clamp below every token's estimate: the KL is the clamp, with no gradient.
  const far = { ...zero, refLogprobs: Float32Array.from(b.logprobs, (x) => x - 3) };
  const clamped = await evaluate(lossOf('grpo', { kl: { coef: 1, clamp: 0.5 }, entropyCoef: 0 }), far);
  t.true(close(clamped.metrics.kl_loss, 0.5), `kl ${clamped.metrics.kl_loss}`);
  t.true(clamped.dLogprobs.every((x) => x === 0));
  // KL in the reward (PPO's default): the loss carries none.
  const ppo = await evaluate(lossOf('ppo', { kl: { coef: 0.5 }, entropyCoef: 0 }), b);
  const ppoInLoss = await evaluate(lossOf('ppo', { kl: { coef: 0.5, inReward: false }, entropyCoef: 0 }), b);
  t.true(close(ppoInLoss.loss - ppo.loss, 0.5 * ppo.metrics.kl_loss));
});

test('dual clip bounds the loss of a negative-advantage token at −A·c with no gradient', async (t) => {
  const one = { batchSize: 1, seqLength: 1, logprobs: Float32Array.of(-0.01), oldLogprobs: Float32Array.of(-3), advantages: Float32Array.of(-1), mask: Float32Array.of(1) };
  const ev = async (raw: Record<string, unknown>) => {
    const e = await PolicyLossEvaluator.create(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0, ...raw }));
    try {
      return await e.run(one);
    } finally {
      await e.release();
    }
  };
  const plain = await ev({});
  const dual = await ev({ dualClip: 3 });
  t.true(plain.loss > 10); // ratio ≈ e^3
  t.true(close(dual.loss, 3));
  t.is(dual.dLogprobs[0], 0);
});

// ---- Dr. GRPO -------------------------------------------------------------------------

function advBatch(rewardsPerPrompt: number[][], lengths?: number[][]): AdvantageBatch {
  return toAdvantageBatch(
    collate(
      rewardsPerPrompt.flatMap((rs, p) =>
        rs.map((r, s) =>
          makeTrajectory({
            step: 1,
            promptIndex: p,
            sampleIndex: s,
            reward: r,
            segments: [
              { by: 'policy', ids: Array.from({ length: lengths?.[p]?.[s] ?? 2 + s }, (_, k) => 10 + k) },
              { by: 'env', ids: [90, 91] },
              { by: 'policy', ids: [20] },
            ],
          }),
        ),
      ),
      { padId: 0 },
    ),
  );
}

test('drgrpo: advantages r − mean_g without std; per-token gradient −A·ρ/(B·normTokens), independent of response length', async (t) => {
  const rewards = [[1, 0, 0, 0.5], [0.2, 0.6]];
  const ab = advBatch(rewards);
  const ctx = { params: parseAlgorithmParams('drgrpo', {}), options: {}, maxResponseTokens: 10 };
  const { advantages } = getAlgorithm('drgrpo').computeAdvantages(ab, ctx);
  let row = 0;
  for (const rs of rewards) {
    const mean = rs.reduce((s, x) => s + x, 0) / rs.length;
    for (const r of rs) t.true(close(advantages[row++ * ab.responseLength], r - mean, 1e-6), `row ${row - 1}`);
  }
  // On-policy (ratio 1, inside the clip): every policy token's gradient is −A/(B·N), whatever its response's length.
  const b0 = lossBatch(3, { perSequenceAdv: true });
  // Row 1 is shorter (3 policy tokens) than row 0 (5).
  const b = { ...b0, mask: Float32Array.from(b0.mask, (m, i) => (i === T + 4 || i === T + 5 ? 0 : m)) };
  const onPolicy = { ...b, oldLogprobs: b.logprobs };
  const r = await evaluate(lossOf('drgrpo', { normTokens: 9 }), onPolicy);
  for (let i = 0; i < N; i++) t.true(close(r.dLogprobs[i], b.mask[i] ? -b.advantages[i] / (B * 9) : 0, 1e-5), `token ${i}: ${r.dLogprobs[i]}`);
  // GRPO's seq-mean-token-mean would give a shorter response's tokens a larger weight; Dr. GRPO does not.
  const g = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0, lossAggregation: 'seq-mean-token-mean' }), onPolicy);
  t.false(close(g.dLogprobs[0] / b.advantages[0], g.dLogprobs[T] / b.advantages[T], 1e-3), 'rows 0 and 1 differ in length, so GRPO weighs their tokens differently');
  t.true(close(r.dLogprobs[0] / b.advantages[0], r.dLogprobs[T] / b.advantages[T], 1e-5));
  // The default normaliser is the response token budget the trainer passes.
  const byBudget = await evaluate(lossOf('drgrpo', {}, { maxResponseTokens: 9 }), onPolicy);
  assertGradients(t, byBudget.dLogprobs, r.dLogprobs, 'normTokens default');
});

// ---- DAPO ------------------------------------------------------------------------------

test('dapo: clip-higher keeps the gradient of a positive-advantage token up to ratio 1.28; token-mean loss', async (t) => {
  const two = (ratio: number, adv: number) => ({
    batchSize: 1,
    seqLength: 2,
    logprobs: Float32Array.of(Math.log(ratio) - 1, -1),
    oldLogprobs: Float32Array.of(-1, -1),
    advantages: Float32Array.of(adv, adv),
    mask: Float32Array.of(1, 1),
  });
  const dapo = async (b: LossEvalBatch) => evaluate(lossOf('dapo', {}), b);
  const grpo = async (b: LossEvalBatch) => evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }), b);
  // ratio 1.25, A > 0: inside DAPO's [0.8, 1.28], outside GRPO's [0.8, 1.2].
  const up = two(1.25, 1);
  t.true(close((await dapo(up)).dLogprobs[0], -1.25 / 2, 1e-5), 'd/dlogp(−Aρ)/2 tokens');
  t.is((await grpo(up)).dLogprobs[0], 0);
  // ratio 1.3, A > 0: clipped by both.
  t.is((await dapo(two(1.3, 1))).dLogprobs[0], 0);
  // ratio 0.75, A < 0: below 1 − ε_low (0.2): clipped by both.
  t.is((await dapo(two(0.75, -1))).dLogprobs[0], 0);
  // Closed form on the random batch: clip [0.8, 1.28], token mean, no KL, no entropy, no dual clip.
  const b = lossBatch(13);
  const r = await dapo(b);
  const e = clipClosedForm(b, { lo: 0.2, hi: 0.28, dual: null, klCoef: 0, est: 'k3', clamp: 10, entCoef: 0, agg: 'token-mean' });
  t.true(close(r.loss, e.loss));
  assertGradients(t, r.dLogprobs, e.dLogprobs, 'dapo');
});

test('dapo: the overlong penalty shapes the reward before the group normalisation', (t) => {
  // L_max 10, L_cache 4: no penalty up to 6 policy tokens, linear to −1 at 10.
  t.is(overlongPenalty(6, 10, 4, 1), 0);
  t.true(close(overlongPenalty(8, 10, 4, 1), -0.5));
  t.true(close(overlongPenalty(10, 10, 4, 1), -1));
  t.is(overlongPenalty(11, 10, 4, 1), -1);
  t.true(close(overlongPenalty(9, 10, 4, 0.5), -0.375));
  // Two samples with the same reward: lengths 3 and 8 policy tokens (+1 after the observation).
  const ab = advBatch([[1, 1]], [[2, 7]]);
  const p = parseAlgorithmParams('dapo', { overlong: { bufferTokens: 4 } });
  const { advantages } = getAlgorithm('dapo').computeAdvantages(ab, { params: p, options: {}, maxResponseTokens: 10 });
  // shaped: 1 + 0 and 1 + (6 − 8)/4 = 0.5; group-normalised: ±(0.25 / std 0.3536) = ±0.7071
  t.true(close(advantages[0], 0.7071, 1e-3), `${advantages[0]}`);
  t.true(close(advantages[ab.responseLength], -0.7071, 1e-3));
  // Off: equal rewards, no signal.
  const off = getAlgorithm('dapo').computeAdvantages(ab, { params: parseAlgorithmParams('dapo', { overlong: null }), options: {}, maxResponseTokens: 10 });
  t.true(off.advantages.every((a) => Math.abs(a) < 1e-5));
  t.throws(() => getAlgorithm('dapo').computeAdvantages(ab, { params: p, options: {} }), { message: /needs L_max/ });
});

// ---- GSPO ------------------------------------------------------------------------------

/** GSPO closed form: s_i = exp(mean_t(logp − old)), ℓ_i clipped per sequence, mean over sequences; ∂/∂logp_t = w_i·(−A_i s_i)/(|y_i| B) unclipped. */
function gspoClosedForm(b: LossEvalBatch, lo: number, hi: number, seqW?: number[]) {
  let loss = 0;
  let clipped = 0;
  let seqs = 0;
  const d = new Float32Array(N);
  for (let s = 0; s < B; s++) {
    let n = 0;
    let sumLr = 0;
    let sumA = 0;
    for (let t = 0; t < T; t++) {
      const i = s * T + t;
      if (!b.mask[i]) continue;
      n++;
      sumLr += b.logprobs[i] - b.oldLogprobs[i];
      sumA += b.advantages[i];
    }
    if (n === 0) continue;
    seqs++;
    const ratio = Math.exp(sumLr / n);
    const a = sumA / n;
    const w = seqW ? seqW[s] : 1;
    const l1 = -a * ratio;
    const rc = Math.min(1 + hi, Math.max(1 - lo, ratio));
    const l2 = -a * rc;
    loss += (w * Math.max(l1, l2)) / B;
    if (l2 > l1) clipped++;
    const g = l1 >= l2 || rc === ratio ? (w * -a * ratio) / (n * B) : 0;
    for (let t = 0; t < T; t++) if (b.mask[s * T + t]) d[s * T + t] = g;
  }
  return { loss, clipFrac: clipped / seqs, dLogprobs: d };
}

test('gspo: sequence-level length-normalised ratio and clipping; gradient equals the closed form and finite differences', async (t) => {
  const b = lossBatch(21, { perSequenceAdv: true });
  // Small per-token drifts so sequence ratios fall on both sides of a 0.1 clip.
  const drift = lcg(4);
  const near = { ...b, oldLogprobs: Float32Array.from(b.logprobs, (x) => x + (drift() - 0.5) * 0.5) };
  const raw = { clipRatioLow: 0.01, clipRatioHigh: 0.01, kl: { coef: 0 }, entropyCoef: 0 };
  const ev = await PolicyLossEvaluator.create(lossOf('gspo', raw));
  t.teardown(() => ev.release());
  const r = await ev.run(near);
  const e = gspoClosedForm(near, 0.01, 0.01);
  t.true(close(r.loss, e.loss), `loss ${r.loss} vs ${e.loss}`);
  t.true(close(r.metrics.clip_frac, e.clipFrac), `clip_frac ${r.metrics.clip_frac} vs ${e.clipFrac}`);
  t.true(e.clipFrac > 0 && e.clipFrac < 1, `some sequences clipped (${e.clipFrac})`);
  assertGradients(t, r.dLogprobs, e.dLogprobs, 'gspo');
  // Finite differences on the tokens of an unclipped sequence.
  const h = 1e-3;
  for (let i = 0; i < N; i++) {
    if (!near.mask[i] || e.dLogprobs[i] === 0) continue;
    const at = async (v: number) => {
      const lp = Float32Array.from(near.logprobs);
      lp[i] = v;
      return (await ev.run({ ...near, logprobs: lp })).loss;
    };
    const fd = ((await at(near.logprobs[i] + h)) - (await at(near.logprobs[i] - h))) / (2 * h);
    t.true(Math.abs(fd - r.dLogprobs[i]) < 2e-3, `token ${i}: fd ${fd} vs ${r.dLogprobs[i]}`);
  }
  // One token's ratio moves its whole sequence: the per-token ratio is not what is clipped.
  const grpo = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }), near);
  t.false(close(grpo.loss, r.loss, 1e-3));
});

// ---- truncated importance sampling -----------------------------------------------------

test('TIS: token weights min(exp(old − rollout), cap) scale PPO-clip; GSPO gets length-normalised sequence weights', async (t) => {
  const b = lossBatch(31, { perSequenceAdv: true });
  const cap = 1.5;
  const w = Float32Array.from({ length: N }, (_, i) => Math.min(Math.exp(b.oldLogprobs[i] - b.rolloutLogprobs[i]), cap));
  const r = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }, { tisCap: cap }), b);
  const e = clipClosedForm(b, { lo: 0.2, hi: 0.2, dual: null, klCoef: 0, est: 'k3', clamp: 10, entCoef: 0, agg: 'token-mean', weights: w });
  t.true(close(r.loss, e.loss), `loss ${r.loss} vs ${e.loss}`);
  assertGradients(t, r.dLogprobs, e.dLogprobs, 'tis');
  let wMean = 0;
  let capped = 0;
  let n = 0;
  for (let i = 0; i < N; i++) {
    if (!b.mask[i]) continue;
    n++;
    wMean += w[i];
    if (Math.exp(b.oldLogprobs[i] - b.rolloutLogprobs[i]) > cap) capped++;
  }
  t.true(close(r.metrics.tis_weight, wMean / n), `tis_weight ${r.metrics.tis_weight}`);
  t.true(close(r.metrics.tis_capped_frac, capped / n));
  t.true(capped > 0 && capped < n, 'some weights at the cap');
  // Rollout log-probs equal to the learner's: weight 1, the plain loss.
  const same = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }, { tisCap: cap }), { ...b, rolloutLogprobs: b.oldLogprobs });
  const plain = await evaluate(lossOf('grpo', { kl: { coef: 0 }, entropyCoef: 0 }), b);
  t.true(close(same.loss, plain.loss));
  // GSPO with TIS: w_i = min(exp(mean_t(old − rollout)), cap) per sequence.
  const seqW = Array.from({ length: B }, (_, s) => {
    let sum = 0;
    let k = 0;
    for (let tt = 0; tt < T; tt++) if (b.mask[s * T + tt]) (sum += b.oldLogprobs[s * T + tt] - b.rolloutLogprobs[s * T + tt]), k++;
    return k ? Math.min(Math.exp(sum / k), cap) : 1;
  });
  const raw = { clipRatioLow: 0.5, clipRatioHigh: 0.5, kl: { coef: 0 }, entropyCoef: 0 };
  const g = await evaluate(lossOf('gspo', raw, { tisCap: cap }), b);
  const ge = gspoClosedForm(b, 0.5, 0.5, seqW);
  t.true(close(g.loss, ge.loss), `gspo+tis ${g.loss} vs ${ge.loss}`);
  assertGradients(t, g.dLogprobs, ge.dLogprobs, 'gspo+tis');
  t.deepEqual(lossOf('gspo', raw, { tisCap: cap }).requires, ['rolloutLogprobs']);
});

// ---- every declared parameter reaches the graph or the advantages ----------------------

/** Parameters the Trainer and the critic read (not the policy loss or the advantages). */
const TRAINER_KEYS: Record<string, string> = {
  epochs: "the Trainer's update loop",
  filterGroups: "the Trainer's row selection (informativeRows)",
  criticLr: "the CriticActor's optimizer",
  valueClip: "the CriticActor's value loss",
};

/** A different valid value per parameter path. */
const PERTURB: Record<string, unknown> = {
  clipRatio: 0.05,
  clipRatioLow: 0.05,
  clipRatioHigh: 0.9,
  dualClip: 1.5,
  'kl.estimator': 'k1',
  'kl.coef': 0.7,
  'kl.clamp': 0.05,
  'kl.inReward': false,
  entropyCoef: 0.3,
  lossAggregation: 'seq-mean-token-sum',
  normTokens: 3,
  gamma: 0.5,
  lambda: 0.5,
  overlong: null,
  'overlong.maxTokens': 6,
  'overlong.bufferTokens': 1,
  'overlong.penalty': 3,
};

function leafPaths(schema: z.ZodType): string[] {
  const js = z.toJSONSchema(schema, { io: 'input' }) as { properties?: Record<string, { properties?: Record<string, unknown>; anyOf?: { properties?: Record<string, unknown> }[] }> };
  const out: string[] = [];
  for (const [k, v] of Object.entries(js.properties ?? {})) {
    const nested = v.properties ?? v.anyOf?.find((o) => o.properties)?.properties;
    if (nested) {
      out.push(...Object.keys(nested).map((n) => `${k}.${n}`));
      if (v.anyOf) out.push(k); // nullable section: null is a value too
    } else out.push(k);
  }
  return out;
}

function withPath(raw: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, tail] = path.split('.');
  if (!tail) return { ...raw, [head]: value };
  return { ...raw, [head]: { ...((raw[head] as object) ?? {}), [tail]: value } };
}

test('every parameter a built-in algorithm declares reaches its policy-loss graph or its advantages', async (t) => {
  const b = lossBatch(41, { perSequenceAdv: true, emptyRow: false });
  // Long, mixed-reward groups with env tokens, values and reference log-probs, for the advantage side.
  const ab = advBatch([[1, 0.2, 0.7], [0.4, 0.9, 0]], [[2, 6, 9], [4, 1, 8]]);
  const R = ab.batchSize * ab.responseLength;
  const rnd = lcg(2);
  const full: AdvantageBatch = { ...ab, values: Float32Array.from({ length: R }, () => rnd()), oldLogprobs: Float32Array.from({ length: R }, () => -1 - rnd()), refLogprobs: Float32Array.from({ length: R }, () => -1 - rnd()) };
  const builtins = ['reinforce', 'grpo', 'ppo', 'reinforce++', 'drgrpo', 'dapo', 'gspo'];
  t.deepEqual(listAlgorithms().filter((a) => builtins.includes(a.name)).length, builtins.length);
  // Base settings where each term is live (a KL coefficient, clipping that binds).
  const base: Record<string, Record<string, unknown>> = { gspo: { clipRatioLow: 0.01, clipRatioHigh: 0.01, kl: { coef: 0.2 } }, dapo: { kl: { coef: 0.2 }, overlong: { maxTokens: 10 } }, drgrpo: { kl: { coef: 0.2 } } };
  const fingerprint = async (name: string, raw: Record<string, unknown>) => {
    const params: AlgorithmParams = parseAlgorithmParams(name, raw);
    const def = getAlgorithm(name);
    const r = await evaluate(algorithmPolicyLoss(def, params, { maxResponseTokens: 12 }), b);
    const adv = def.computeAdvantages(full, { params, options: {}, maxResponseTokens: 12 });
    return [r.loss, ...r.dLogprobs, ...r.dEntropy, ...adv.advantages, ...(adv.returns ?? [])];
  };
  for (const name of builtins) {
    const raw0 = base[name] ?? { kl: { coef: 0.2 } };
    const ref = await fingerprint(name, raw0);
    for (const path of leafPaths(paramsSchemaOf(getAlgorithm(name)) as z.ZodType)) {
      if (path in TRAINER_KEYS) continue;
      t.true(path in PERTURB, `${name}: parameter "${path}" has no check here; add a perturbation (or list it in TRAINER_KEYS with where it is read)`);
      if (!(path in PERTURB)) continue;
      const got = await fingerprint(name, withPath(raw0, path, PERTURB[path]));
      t.true(got.some((v, i) => !close(v, ref[i], 1e-6)), `${name}: changing ${path} changed neither the loss graph nor the advantages`);
    }
  }
});
