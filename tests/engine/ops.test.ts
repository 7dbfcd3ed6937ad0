import test from 'ava';
import * as ort from 'onnxruntime-node';
import {
  Graph, Session, Tensor, matmul, softmax, logSoftmax, gather, takeAlongAxis, slice, concat, transpose, where, clip, sum, mean, max, min,
  rmsNorm, rotaryTables, applyRotary, rotaryInvFreq, cast, expand, greater, less, equal, and, not, minimum, maximum, pow, logSumExp,
  splitSizes, relu, silu, reshape, zerosLike, onesLike, maskedFill, add, argmax, cumsum, topK, logprobEntropy, squeeze,
} from '../../engine/src/index.js';

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

/** Dense row-major array with shape, used for JS reference computations. */
interface Arr { data: number[]; shape: number[] }
const at = (a: Arr, idx: number[]) => a.data[idx.reduce((o, v, i) => o * a.shape[i] + v, 0)];
function build(shape: number[], f: (idx: number[]) => number): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, flat) => {
    const idx: number[] = [];
    let r = flat;
    for (let i = shape.length - 1; i >= 0; i--) { idx[i] = r % shape[i]; r = Math.floor(r / shape[i]); }
    return f(idx);
  });
}

test('forward values of many ops match JS reference computations', async (t) => {
  const rand = rng(7);
  const g = new Graph('ops');
  const feeds: Record<string, ort.Tensor> = {};
  const arrs: Record<string, Arr> = {};
  const inp = (name: string, shape: number[]): Tensor => {
    const data = build(shape, () => Math.round((rand() * 4 - 2) * 8) / 8);
    arrs[name] = { data, shape };
    feeds[name] = new ort.Tensor('float32', Float32Array.from(data), shape);
    return g.input(name, 'float32', shape);
  };
  const a = inp('a', [2, 3, 4]);
  const b = inp('b', [4, 5]);
  const c = inp('c', [3, 4]);
  const table = inp('table', [6, 4]);
  const idsData = [5, 0, 2, 2];
  feeds.ids = new ort.Tensor('int64', BigInt64Array.from(idsData, BigInt), [2, 2]);
  const ids = g.input('ids', 'int64', [2, 2]);
  const chosenData = [3, 0, 1, 2, 3, 3];
  feeds.chosen = new ort.Tensor('int64', BigInt64Array.from(chosenData, BigInt), [2, 3, 1]);
  const chosen = g.input('chosen', 'int64', [2, 3, 1]);
  const posData = [0, 3, 7];
  feeds.pos = new ort.Tensor('int64', BigInt64Array.from(posData, BigInt), [3]);
  const pos = g.input('pos', 'int64', [3]);
  const w = inp('w', [4]);

  const outs: Record<string, [Tensor, (idx: number[]) => number]> = {};
  const A = arrs.a, B = arrs.b, C = arrs.c, W = arrs.w, TB = arrs.table;
  const sm = (row: number[]) => { const m = Math.max(...row); const e = row.map((v) => Math.exp(v - m)); const s = e.reduce((x, y) => x + y); return e.map((v) => v / s); };
  const rowA = (i: number, j: number) => [0, 1, 2, 3].map((k) => at(A, [i, j, k]));
  outs.matmul = [matmul(a, b), ([i, j, n]) => [0, 1, 2, 3].reduce((s, k) => s + at(A, [i, j, k]) * at(B, [k, n]), 0)];
  outs.softmax = [softmax(a, -1), ([i, j, k]) => sm(rowA(i, j))[k]];
  outs.logsoftmax = [logSoftmax(a, -1), ([i, j, k]) => Math.log(sm(rowA(i, j))[k])];
  outs.logsumexp = [logSumExp(a, -1), ([i, j]) => Math.log(rowA(i, j).reduce((s, v) => s + Math.exp(v), 0))];
  outs.softmax_axis1 = [softmax(a, 1), ([i, j, k]) => sm([0, 1, 2].map((jj) => at(A, [i, jj, k])))[j]];
  outs.gather = [gather(table, ids), ([i, j, k]) => at(TB, [idsData[i * 2 + j], k])];
  outs.take = [takeAlongAxis(a, chosen, -1), ([i, j]) => at(A, [i, j, chosenData[i * 3 + j]])];
  outs.slice = [slice(a, [1, 3], [3, 0], [1, 2], [1, -2]), ([i, j, k]) => at(A, [i, 1 + j, 3 - 2 * k])];
  outs.concat = [concat([c, reshape(slice(a, [1], [2], [0]), [3, 4])], 1), ([j, k]) => (k < 4 ? at(C, [j, k]) : at(A, [1, j, k - 4]))];
  outs.split = [splitSizes(a, [1, 3], -1)[1], ([i, j, k]) => at(A, [i, j, k + 1])];
  outs.transpose = [transpose(a, [2, 0, 1]), ([k, i, j]) => at(A, [i, j, k])];
  outs.where = [where(greater(a, c), a, 0.5), (x) => (at(A, x) > at(C, x.slice(1)) ? at(A, x) : 0.5)];
  outs.clip = [clip(a, -0.5, 1), (x) => Math.min(1, Math.max(-0.5, at(A, x)))];
  outs.min_max = [maximum(minimum(a, c), -0.25), (x) => Math.max(Math.min(at(A, x), at(C, x.slice(1))), -0.25)];
  outs.sum = [sum(a, [0, 2]), ([j]) => [0, 1].reduce((s, i) => s + rowA(i, j).reduce((x, y) => x + y), 0)];
  outs.mean_keep = [mean(a, 1, true), ([i, , k]) => [0, 1, 2].reduce((s, j) => s + at(A, [i, j, k]), 0) / 3];
  outs.max = [max(a, -1), ([i, j]) => Math.max(...rowA(i, j))];
  outs.min = [min(a), () => Math.min(...A.data)];
  outs.pow = [pow(clip(a, 0.1, 10), 3), (x) => Math.max(0.1, at(A, x)) ** 3];
  outs.relu_silu = [add(relu(a), silu(a)), (x) => Math.max(0, at(A, x)) + at(A, x) / (1 + Math.exp(-at(A, x)))];
  outs.rmsnorm = [rmsNorm(a, w, 1e-5), ([i, j, k]) => at(A, [i, j, k]) / Math.sqrt(rowA(i, j).reduce((s, v) => s + v * v, 0) / 4 + 1e-5) * W.data[k]];
  const inv = rotaryInvFreq(4, 100);
  const { cos, sin } = rotaryTables(pos, 4, 100);
  outs.rotary = [applyRotary(c, cos, sin), ([p, k]) => {
    const ang = posData[p] * inv[k % 2];
    const rot = k < 2 ? -at(C, [p, k + 2]) : at(C, [p, k - 2]);
    return at(C, [p, k]) * Math.cos(ang) + rot * Math.sin(ang);
  }];
  outs.logic = [cast(and(not(less(a, 0)), equal(a, a)), 'float32'), (x) => (at(A, x) >= 0 ? 1 : 0)];
  outs.expand = [expand(w, [3, 4]), ([, k]) => W.data[k]];
  outs.fill = [add(zerosLike(c), onesLike(c)), () => 1];
  outs.masked = [maskedFill(c, greater(c, 0), -9), (x) => (at(C, x) > 0 ? at(C, x) : -9)];
  const le = logprobEntropy(a, squeeze(chosen, -1));
  outs.fused_logprob = [le.logprobs, ([i, j]) => Math.log(sm(rowA(i, j))[chosenData[i * 3 + j]])];
  outs.fused_entropy = [le.entropy, ([i, j]) => -sm(rowA(i, j)).reduce((s, q) => s + q * Math.log(q), 0)];
  outs.argmax = [cast(argmax(a, -1), 'float32'), ([i, j]) => rowA(i, j).indexOf(Math.max(...rowA(i, j)))];
  outs.cumsum = [cumsum(a, 1), ([i, j, k]) => [0, 1, 2].filter((jj) => jj <= j).reduce((s, jj) => s + at(A, [i, jj, k]), 0)];
  outs.cumsum_excl_rev = [cumsum(a, -1, { exclusive: true, reverse: true }), ([i, j, k]) => rowA(i, j).slice(k + 1).reduce((s, v) => s + v, 0)];
  const top = topK(a, 2, -1, false);
  const sortedRow = (i: number, j: number) => rowA(i, j).map((v, k) => [v, k]).sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  outs.topk_values = [top.values, ([i, j, k]) => sortedRow(i, j)[k][0]];
  outs.topk_indices = [cast(top.indices, 'float32'), ([i, j, k]) => sortedRow(i, j)[k][1]];
  for (const [name, [tensor]] of Object.entries(outs)) g.output(name, tensor);

  const s = await Session.create(g);
  try {
    const r = await s.run(feeds);
    for (const [name, [tensor, ref]] of Object.entries(outs)) {
      const shape = tensor.shape as number[];
      t.deepEqual(r[name].dims, shape, `${name} shape`);
      const got = r[name].data as Float32Array;
      const want = build(shape, ref);
      const bad = want.findIndex((v, i) => Math.abs(v - got[i]) > 1e-4 * (1 + Math.abs(v)));
      t.is(bad, -1, `${name}: element ${bad} is ${got[bad]}, expected ${want[bad]}`);
    }
  } finally {
    await s.release();
  }
});

