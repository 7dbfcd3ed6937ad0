import test from 'ava';
import * as ort from 'onnxruntime-node';
import onnxPkg from 'onnx-proto';
import {
  Graph, Session, OPSET_VERSION, add, mul, matmul, reshape, transpose, concat, softmax, sum, cast, gather, where, slice,
  causalMask, maskToBias, unsqueeze, expand, dimSize, shapeOf, squeeze, grad, max, rmsNorm, neg, mean, takeAlongAxis, logSoftmax,
} from '../../engine/src/index.js';

const { onnx } = onnxPkg;

test('shape inference catches mistakes at build time with clear errors', (t) => {
  const g = new Graph('errors');
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  const i = g.input('i', 'int64', [2, 3]);
  t.throws(() => matmul(a, b), { message: /matmul: inner dims differ: \[2,3\] x \[4,5\]/ });
  t.throws(() => add(a, b), { message: /add: shapes \[2,3\] and \[4,5\] do not broadcast/ });
  const bs = g.input('bs', 'float32', ['batch', 'seq']);
  const sb = g.input('sb', 'float32', ['seq', 'batch']);
  t.throws(() => mul(bs, sb), { message: /mul: shapes \[batch,seq\] and \[seq,batch\] pair dims 'batch' and 'seq'.*reshape/ });
  t.throws(() => add(a, i), { message: /add: dtype mismatch float32 .* vs int64 .*cast/ });
  t.throws(() => reshape(a, [4, 2]), { message: /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/ });
  t.throws(() => transpose(a, [0, 0]), { message: /transpose: perm/ });
  t.throws(() => concat([a, b], 0), { message: /concat: dim 1 differs/ });
  t.throws(() => softmax(i), { message: /softmax: needs a float tensor, got int64/ });
  t.throws(() => sum(a, 2), { message: /axis 2 out of range for rank 2/ });
  t.throws(() => g.input('a', 'float32', [1]), { message: /name 'a' is already used/ });
  t.throws(() => g.input('c', 'float16' as never, [1]), { message: /unknown dtype 'float16'/ });
  t.throws(() => g.input('d', 'float32', [-1]), { message: /bad dim -1/ });
  t.throws(() => g.param('p', [0, 2]), { message: /must be positive integers/ });
  t.throws(() => g.constant([1, 2, 3], [2, 2]), { message: /3 values do not fill shape \[2,2\]/ });
  t.throws(() => squeeze(a, 0), { message: /squeeze: dim 0 .* is 2, not 1/ });
  const other = new Graph('other');
  const o = other.input('o', 'float32', [2, 3]);
  t.throws(() => add(a, o), { message: /different graphs/ });
  t.throws(() => grad(sum(cast(i, 'float32')), [i]), { message: /cannot differentiate with respect to int64/ });
  t.throws(() => new Graph('empty').toOnnx(), { message: /has no outputs/ });
});

test('symbolic dims propagate through reshape, transpose, concat and matmul', (t) => {
  const g = new Graph('symbolic');
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const past = g.input('past', 'float32', ['batch', 2, 'past', 4]);
  const heads = transpose(reshape(x, [0, 0, 2, 4]), [0, 2, 1, 3]);
  t.deepEqual(heads.shape, ['batch', 2, 'seq', 4]);
  const keys = concat([past, heads], 2);
  t.deepEqual(keys.shape, ['batch', 2, 'past+seq', 4]);
  const scores = matmul(heads, transpose(keys, [0, 1, 3, 2]));
  t.deepEqual(scores.shape, ['batch', 2, 'seq', 'past+seq']);
  t.deepEqual(sum(scores, [1, 3]).shape, ['batch', 'seq']);
  t.deepEqual(slice(x, [-1], [Infinity], [1]).shape, ['batch', 1, 8]);
  t.deepEqual(gather(g.param('emb', [10, 8]), g.input('ids', 'int64', ['batch', 'seq'])).shape, ['batch', 'seq', 8]);
  const flat = reshape(x, ['batch', -1]);
  t.is(flat.shape[0], 'batch');
  t.is(typeof flat.shape[1], 'string');
  t.deepEqual(add(x, g.input('b', 'float32', [8])).shape, ['batch', 'seq', 8]);
});

test('toOnnx emits a ModelProto with opset, typed inputs (dim_param), initializers and outputs', (t) => {
  const g = new Graph('emit');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.param('w', [3, 2]);
  const y = add(matmul(x, w), g.constant(new Float32Array([0.5, -0.5]), [2]));
  g.output('y', y);
  g.output('w_out', w);
  const m = onnx.ModelProto.decode(g.toOnnx());
  const gr = m.graph!;
  t.is(Number(m.opsetImport![0].version), OPSET_VERSION);
  t.is(gr.name, 'emit');
  t.deepEqual(gr.input!.map((i) => i.name), ['x', 'w']);
  const xDims = gr.input![0].type!.tensorType!.shape!.dim!;
  t.is(xDims[0].dimParam, 'batch');
  t.is(Number(xDims[1].dimValue), 3);
  t.deepEqual(gr.output!.map((o) => o.name), ['y', 'w_out']);
  t.deepEqual(gr.node!.map((n) => n.opType), ['MatMul', 'Add', 'Identity', 'Identity']);
  t.is(gr.initializer!.length, 1);
  t.deepEqual(Array.from(new Float32Array(new Uint8Array(gr.initializer![0].rawData!).buffer)), [0.5, -0.5]);
  t.deepEqual(g.params.map((p) => p.name), ['w']);
});

test('toOnnx drops nodes and initializers no output depends on (e.g. gradients of constants)', (t) => {
  const g = new Graph('dce');
  const x = g.param('x', [3]);
  const c = g.constant([1, 2, 3]);
  g.constant([7, 7]); // never used
  const [gx] = grad(sum(mul(x, c)), [x]);
  g.output('gx', gx);
  const nodes = onnx.ModelProto.decode(g.toOnnx()).graph!.node!;
  // mul's backward also builds d/dc = gy·x, which nothing needs.
  t.true(g.nodes.filter((n) => n.opType === 'Mul').length >= 3);
  t.is(nodes.filter((n) => n.opType === 'Mul').length, 1);
  t.false(nodes.some((n) => n.opType === 'ReduceSum'));
  const inits = onnx.ModelProto.decode(g.toOnnx()).graph!.initializer!;
  t.false(inits.some((i) => Number(i.dims![0]) === 2));
});

test('forward and backward use only default-domain ONNX ops', (t) => {
  const g = new Graph('domains');
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const ids = g.input('ids', 'int64', ['batch', 'seq', 1]);
  const w = g.param('w', [8, 8]);
  const emb = g.param('emb', [4, 8]);
  const h = rmsNorm(add(matmul(x, w), gather(emb, squeeze(ids, 2))), g.param('n', [8]));
  const s = softmax(add(matmul(h, transpose(h, [0, 2, 1])), maskToBias(causalMask(h, 1, 1))), -1);
  const loss = neg(mean(takeAlongAxis(logSoftmax(matmul(s, h), -1), ids, -1)));
  grad(loss, [w, emb]).forEach((gt, i) => g.output(`g${i}`, gt));
  const nodes = onnx.ModelProto.decode(g.toOnnx()).graph!.node!;
  t.true(nodes.length > 40);
  t.deepEqual(nodes.filter((n) => n.domain).map((n) => `${n.domain}:${n.opType}`), []);
});

test('one session runs symbolic graphs at several sizes (KV-cache-style concat, causal mask, runtime reshape)', async (t) => {
  const g = new Graph('kv');
  const q = g.input('q', 'float32', ['batch', 'seq', 4]);
  const pastK = g.input('past_k', 'float32', ['batch', 'past', 4]);
  const keys = concat([pastK, q], 1);
  const scores = matmul(q, transpose(keys, [0, 2, 1]));
  const mask = causalMask(scores);
  const probs = softmax(add(scores, maskToBias(mask)), -1);
  g.output('mask', mask);
  g.output('probs', probs);
  g.output('flat', reshape(probs, ['batch', -1]));
  g.output('tk', dimSize(keys, 1));
  g.output('shape', shapeOf(keys));
  g.output('expanded', expand(unsqueeze(max(q, -1), 1), ['batch', 'past', 'seq']));
  g.output('selected', where(mask, 1, cast(mask, 'float32')));
  const byTensor = reshape(q, shapeOf(transpose(q, [0, 2, 1])));
  g.output('by_tensor', byTensor);
  g.output('expand_by_tensor', expand(unsqueeze(dimSize(q, 1), 0), shapeOf(pastK)));
  const s = await Session.create(g);
  try {
    for (const [B, P, T] of [[1, 2, 1], [2, 0, 3], [2, 3, 2]]) {
      const qv = Float32Array.from({ length: B * T * 4 }, (_, i) => Math.sin(i));
      const pv = Float32Array.from({ length: B * P * 4 }, (_, i) => Math.cos(i));
      const r = await s.run({ q: new ort.Tensor('float32', qv, [B, T, 4]), past_k: new ort.Tensor('float32', pv, [B, P, 4]) });
      t.deepEqual(r.mask.dims, [T, P + T]);
      const m = r.mask.data as Uint8Array;
      for (let i = 0; i < T; i++) for (let j = 0; j < P + T; j++) t.is(Boolean(m[i * (P + T) + j]), j <= i + P, `mask ${i},${j} P=${P}`);
      const probs = r.probs.data as Float32Array;
      for (let row = 0; row < B * T; row++) {
        const i = row % T;
        let tot = 0;
        for (let j = 0; j < P + T; j++) {
          const p = probs[row * (P + T) + j];
          if (j > i + P) t.true(p < 1e-6);
          tot += p;
        }
        t.true(Math.abs(tot - 1) < 1e-5);
      }
      t.deepEqual(r.flat.dims, [B, T * (P + T)]);
      t.is(Number((r.tk.data as BigInt64Array)[0]), P + T);
      t.deepEqual(Array.from(r.shape.data as BigInt64Array, Number), [B, P + T, 4]);
      t.deepEqual(r.expanded.dims, [B, P, T]);
      t.deepEqual(r.selected.dims, [T, P + T]);
      t.deepEqual(r.by_tensor.dims, [B, 4, T]);
      t.deepEqual(Array.from(r.by_tensor.data as Float32Array), Array.from(qv));
      t.deepEqual(r.expand_by_tensor.dims, [B, P, 4]);
      t.true(Array.from(r.expand_by_tensor.data as BigInt64Array).every((v) => Number(v) === T));
    }
  } finally {
    await s.release();
  }
});
