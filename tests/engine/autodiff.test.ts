import test from 'ava';
import * as ort from 'onnxruntime-node';
import {
  Graph, Tensor, gradCheck, type GradCheckCase, type GradCheckOptions,
  add, sub, mul, div, minimum, maximum, pow, neg, exp, log, sqrt, rsqrt, reciprocal, tanh, sigmoid, silu, relu, abs, sin, cos,
  softplus, where, cast, clip, matmul, reshape, transpose, unsqueeze, squeeze, expand, concat, slice, gather, takeAlongAxis,
  sum, mean, max, logSumExp, softmax, logSoftmax, rmsNorm, applyRotary, rotaryTables, greater, causalMask, maskToBias, grad, Session, cumsum, topK, square, splitSizes, maskedFill, rotateHalf, floor, logprobEntropy,
} from '../../engine/src/index.js';

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Fixture {
  readonly g: Graph;
  readonly feeds: Record<string, ort.Tensor> = {};
  readonly cases: GradCheckCase[] = [];
  private readonly rand: () => number;
  constructor(name: string, seed = 1, readonly dtype: 'float32' | 'float64' = 'float64') {
    this.g = new Graph(name);
    this.rand = rng(seed);
  }
  /** Float input (the fixture's dtype) with values in [lo, hi). */
  in(name: string, shape: number[], lo = -1, hi = 1): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const vals = Array.from({ length: n }, () => lo + (hi - lo) * this.rand());
    this.feeds[name] = this.dtype === 'float64'
      ? new ort.Tensor('float64', Float64Array.from(vals), shape)
      : new ort.Tensor('float32', Float32Array.from(vals), shape);
    return this.g.param(name, shape, this.dtype);
  }
  ids(name: string, shape: number[], vals: number[]): Tensor {
    this.feeds[name] = new ort.Tensor('int64', BigInt64Array.from(vals, BigInt), shape);
    return this.g.input(name, 'int64', shape);
  }
  /** Scalar loss = Σ y ⊙ R with a random constant R (so every output element matters). */
  check(name: string, y: Tensor, wrt: Tensor[]): void {
    const n = y.shape.reduce<number>((a, d) => a * (d as number), 1);
    const r = this.g.constant(Array.from({ length: n }, () => this.rand() * 2 - 1), y.shape as number[], this.dtype);
    this.cases.push({ name, loss: sum(mul(y, r)), wrt });
  }
}

async function assertAll(t: import('ava').ExecutionContext, f: Fixture, opts?: GradCheckOptions): Promise<void> {
  const results = await gradCheck(f.g, f.cases, f.feeds, opts);
  const bad = results.filter((r) => !r.ok);
  t.deepEqual(bad, [], bad.map((r) => `${r.case} d/d${r.wrt}: ${JSON.stringify(r.worst)}`).join('\n'));
  t.is(results.length, f.cases.reduce((a, c) => a + c.wrt.length, 0));
}

test('elementwise ops match central finite differences (float64)', async (t) => {
  const f = new Fixture('elementwise');
  const a = f.in('a', [2, 3]);
  const b = f.in('b', [2, 3]);
  const row = f.in('row', [3]);
  const col = f.in('col', [2, 1]);
  const pos = f.in('pos', [2, 3], 0.5, 2);
  f.check('add_bcast', add(a, row), [a, row]);
  f.check('sub_bcast', sub(col, a), [col, a]);
  f.check('mul_bcast', mul(a, col), [a, col]);
  f.check('div', div(a, pos), [a, pos]);
  f.check('div_scalar', div(2, pos), [pos]);
  f.check('minimum', minimum(a, b), [a, b]);
  f.check('maximum_bcast', maximum(a, row), [a, row]);
  f.check('pow', pow(pos, 2.5), [pos]);
  f.check('neg', neg(a), [a]);
  f.check('exp', exp(a), [a]);
  f.check('log', log(pos), [pos]);
  f.check('sqrt', sqrt(pos), [pos]);
  f.check('rsqrt', rsqrt(pos), [pos]);
  f.check('reciprocal', reciprocal(pos), [pos]);
  f.check('tanh', tanh(a), [a]);
  f.check('sigmoid', sigmoid(a), [a]);
  f.check('silu', silu(a), [a]);
  f.check('relu', relu(a), [a]);
  f.check('abs', abs(a), [a]);
  f.check('sin_cos', mul(sin(a), cos(b)), [a, b]);
  f.check('softplus', softplus(a), [a]);
  f.check('square', square(a), [a]);
  f.check('masked_fill', maskedFill(a, greater(b, 0), -3), [a]);
  f.check('clip', clip(a, -0.5, 0.4), [a]);
  f.check('where', where(greater(a, b), a, mul(b, 3)), [a, b]);
  f.check('reuse_accumulates', add(mul(a, a), mul(a, b)), [a, b]);
  await assertAll(t, f);
});

test('shape, reduction and softmax ops match finite differences', async (t) => {
  const f = new Fixture('shapes', 2);
  const x = f.in('x', [2, 3, 4]);
  const m = f.in('m', [3, 4]);
  const v = f.in('v', [4, 2]);
  f.check('matmul_bcast', matmul(x, v), [x, v]);
  f.check('matmul_batched', matmul(m, transpose(x, [0, 2, 1])), [m, x]);
  f.check('reshape', reshape(x, [6, -1]), [x]);
  f.check('transpose', transpose(x, [2, 0, 1]), [x]);
  f.check('unsqueeze_squeeze', squeeze(unsqueeze(m, [0, 2]), 0), [m]);
  f.check('expand', expand(unsqueeze(m, 0), [2, 3, 4]), [m]);
  f.check('concat', concat([x, unsqueeze(m, 0), x], 0), [x, m]);
  f.check('slice', slice(x, [1, -3], [3, Infinity], [1, 2]), [x]);
  f.check('slice_step', slice(x, [3], [-5], [2], [-2]), [x]);
  f.check('sum', sum(x, [0, 2]), [x]);
  f.check('sum_keep', sum(x, 1, true), [x]);
  f.check('mean', mean(x, -1), [x]);
  f.check('max', max(x, [1]), [x]);
  f.check('logsumexp', logSumExp(x, -1), [x]);
  f.check('softmax', softmax(x, 1), [x]);
  f.check('logsoftmax', logSoftmax(x, -1), [x]);
  f.check('rmsnorm', rmsNorm(x, sum(m, 0)), [x, m]);
  f.check('cumsum', cumsum(x, 1), [x]);
  f.check('cumsum_rev_excl', cumsum(x, -1, { exclusive: true, reverse: true }), [x]);
  f.check('topk', topK(x, 2, -1).values, [x]);
  f.check('split', mul(splitSizes(x, [1, 2], 1)[1], sum(splitSizes(x, [1, 2], 1)[0], -1, true)), [x]);
  f.check('rotate_half', rotateHalf(x), [x]);
  await assertAll(t, f);
});

test('gather / takeAlongAxis scatter-add gradients, with repeated ids', async (t) => {
  const f = new Fixture('gather', 3);
  const table = f.in('table', [5, 3]);
  const ids = f.ids('ids', [2, 3], [1, 4, 1, 0, 4, 4]);
  const logits = f.in('logits', [2, 3, 5]);
  const chosen = f.ids('chosen', [2, 3, 1], [0, 4, 2, 2, 2, 1]);
  f.check('gather', gather(table, ids), [table]);
  f.feeds.ids32 = new ort.Tensor('int32', Int32Array.from([3, 3, 0]), [3]);
  f.check('gather_int32', gather(table, f.g.input('ids32', 'int32', [3])), [table]);
  f.check('take_along', takeAlongAxis(logSoftmax(logits, -1), chosen, -1), [logits]);
  const fused = logprobEntropy(logits, squeeze(chosen, -1));
  f.check('fused_logprob', fused.logprobs, [logits]);
  f.check('fused_entropy', fused.entropy, [logits]);
  f.check('fused_both', add(fused.logprobs, mul(fused.entropy, 0.3)), [logits]);
  await assertAll(t, f);
});

function attentionBlock(f: Fixture): void {
  const B = 2, T = 3, D = 4, V = 5;
  const ids = f.ids('ids', [B, T], [1, 3, 4, 0, 2, 2]);
  const targets = f.ids('targets', [B, T, 1], [3, 4, 0, 2, 2, 1]);
  const pos = f.ids('pos', [T], [0, 1, 2]);
  const emb = f.in('emb', [V, D]);
  const norm = f.in('norm', [D], 0.5, 1.5);
  const wq = f.in('wq', [D, D]);
  const wk = f.in('wk', [D, D]);
  const wv = f.in('wv', [D, D]);
  const w1 = f.in('w1', [D, 6]);
  const w2 = f.in('w2', [6, D]);
  const h0 = gather(emb, ids);
  const h = rmsNorm(h0, norm);
  const { cos: c, sin: s } = rotaryTables(pos, D, 10000, f.dtype);
  const q = applyRotary(matmul(h, wq), c, s);
  const k = applyRotary(matmul(h, wk), c, s);
  const scores = div(matmul(q, transpose(k, [0, 2, 1])), Math.sqrt(D));
  const att = softmax(add(scores, maskToBias(causalMask(scores), f.dtype)), -1);
  const h1 = add(h0, matmul(att, matmul(h, wv)));
  const h2 = add(h1, matmul(silu(matmul(h1, w1)), w2));
  const logits = matmul(h2, transpose(emb, [1, 0]));
  const nll = neg(mean(takeAlongAxis(logSoftmax(logits, -1), targets, -1)));
  f.cases.push({ name: 'block', loss: nll, wrt: [emb, norm, wq, wk, wv, w1, w2] });
}

test('a tiny attention block (rmsNorm → rotary attention → SiLU MLP → logSoftmax NLL) matches finite differences', async (t) => {
  const f = new Fixture('attention', 4);
  attentionBlock(f);
  await assertAll(t, f);
});

test('the attention block also checks out in float32 (eps 1e-2, rtol 2e-2)', async (t) => {
  const f = new Fixture('attention32', 4, 'float32');
  attentionBlock(f);
  await assertAll(t, f, { eps: 1e-2, rtol: 2e-2, atol: 2e-3 });
});

test('cast passes gradients between float32 and float64', async (t) => {
  const f = new Fixture('cast', 5);
  const a = f.in('a', [2, 3], 0.5, 1.5);
  f.check('cast_roundtrip', mul(cast(cast(a, 'float32'), 'float64'), a), [a]);
  await assertAll(t, f, { eps: 1e-3, rtol: 1e-3, atol: 1e-5 });
});

test('gradients through symbolic dims (run-time broadcast reduction, mean count, reshape by name) at two sizes', async (t) => {
  for (const n of [2, 3]) {
    const f = new Fixture(`symbolic${n}`, 10 + n);
    const xv = Float64Array.from({ length: n * 2 * 3 }, (_, i) => Math.sin(i + n));
    f.feeds.x = new ort.Tensor('float64', xv, [n, 2, 3]);
    const x = f.g.input('x', 'float64', ['n', 2, 3]);
    const w = f.in('w', [3, 4]);
    const bias = f.in('bias', [4]);
    const scale = f.in('scale', [2, 1]);
    const h = add(mul(matmul(x, w), scale), bias); // [n,2,4]
    const flat = reshape(h, ['n', -1]); // [n, 8]
    const pooled = mean(mul(flat, flat), 0); // mean over a symbolic axis
    const tail = sum(softmax(slice(h, [-1], [Infinity], [1]), -1)); // slice on static dim
    const loss = add(sum(mul(pooled, pooled)), mul(tail, max(mean(h, [0, 1]), 0)));
    f.cases.push({ name: 'symbolic', loss, wrt: [x, w, bias, scale] });
    t.deepEqual(flat.shape, ['n', 8]);
    await assertAll(t, f);
  }
});

test('a loss that does not depend on an input gives zeros; int paths carry no gradient', async (t) => {
  const g = new Graph('zeros');
  const a = g.param('a', [2, 2], 'float64');
  const unused = g.param('unused', [3], 'float64');
  const ids = g.input('ids', 'int64', [2]);
  const fromIds = cast(mul(ids, 2), 'float64');
  const loss = sum(mul(gather(a, ids), unsqueeze(fromIds, 1)));
  const [ga, gu] = grad(loss, [a, unused]);
  g.output('ga', ga);
  g.output('gu', gu);
  const s = await Session.create(g);
  try {
    const r = await s.run({
      a: new ort.Tensor('float64', new Float64Array([1, 2, 3, 4]), [2, 2]),
      unused: new ort.Tensor('float64', new Float64Array(3), [3]),
      ids: new ort.Tensor('int64', new BigInt64Array([1n, 1n]), [2]),
    });
    t.deepEqual(Array.from(r.ga.data as Float64Array), [0, 0, 4, 4]);
    t.deepEqual(Array.from(r.gu.data as Float64Array), [0, 0, 0]);
  } finally {
    await s.release();
  }
});

test('second-order gradients: d/dx of (d/dx Σ x³)·v matches finite differences', async (t) => {
  const f = new Fixture('second', 21);
  const x = f.in('x', [4]);
  const y = f.in('y', [4]);
  // x feeds three consumers, so the first gradient is an accumulated Sum.
  const inner = sum(add(mul(mul(x, x), x), mul(x, y)));
  const [gx] = grad(inner, [x]);
  f.check('second_order', mul(gx, gx), [x, y]);
  await assertAll(t, f);
});

test('customGrad replaces the chain rule of a composite (straight-through floor)', async (t) => {
  const g = new Graph('custom');
  const x = g.param('x', [4], 'float64');
  const [y] = g.customGrad([x], () => [floor(mul(x, 2))], () => ([gy]) => [gy ? mul(gy, 2) : null]);
  const [gx] = grad(sum(mul(y, y)), [x]);
  g.output('y', y);
  g.output('gx', gx);
  t.is(g.tape.filter((e) => e.op === 'custom').length, 1);
  const s = await Session.create(g);
  try {
    const r = await s.run({ x: new ort.Tensor('float64', new Float64Array([0.3, 1.2, -0.7, 2.6]), [4]) });
    const ys = Array.from(r.y.data as Float64Array);
    t.deepEqual(ys, [0, 2, -2, 5]);
    // d/dx Σ y² with dy/dx := 2 → 4·y
    t.deepEqual(Array.from(r.gx.data as Float64Array), ys.map((v) => 4 * v));
  } finally {
    await s.release();
  }
});
