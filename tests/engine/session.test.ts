import test from 'ava';
import * as ort from 'onnxruntime-node';
import { Graph, Session, parseSessionOptions, threadsFromEnv, add, matmul, softmax, reshape } from '../../engine/src/index.js';

function model(): Graph {
  const g = new Graph('session');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.param('w', [3, 2]);
  const b = g.input('b', 'float32', ['batch', 2]);
  g.output('y', add(matmul(x, w), b));
  g.output('p', softmax(matmul(x, w), -1));
  return g;
}

const f32 = (vals: number[], dims: number[]) => new ort.Tensor('float32', Float32Array.from(vals), dims);

test('options are validated with errors naming the problem and the supported values', async (t) => {
  t.throws(() => parseSessionOptions({ executionProvider: 'tpu' }), {
    message: /executionProvider: unknown execution provider; supported: 'cpu', 'webgpu', 'cuda' .*CUDA/,
  });
  t.throws(() => parseSessionOptions({ threads: 0 }), { message: /threads/ });
  t.throws(() => parseSessionOptions({ thread: 2 }), { message: /thread/ });
  t.throws(() => parseSessionOptions({ graphOptimization: 'max' }), { message: /graphOptimization/ });
  await t.throwsAsync(Session.create(model(), { executionProvider: 'gpu' as never }), { message: /invalid session options/ });
  t.deepEqual(parseSessionOptions({ executionProvider: 'cpu', threads: 1 }), { executionProvider: 'cpu', threads: 1 });
});

test('the webgpu provider either works or fails with a clear error', async (t) => {
  try {
    const s = await Session.create(model(), { executionProvider: 'webgpu' });
    await s.release();
    t.pass();
  } catch (err) {
    t.regex((err as Error).message, /'webgpu' execution provider failed .*GPU adapter/);
  }
});

test('a session is reused across runs and sizes, with fetch subsets; options change nothing numerically', async (t) => {
  const g = model();
  const bytes = g.toOnnx();
  const s1 = await Session.create(g, { threads: 1 });
  const s2 = await Session.create(bytes, { graphOptimization: 'none' });
  try {
    t.deepEqual(s1.inputNames, ['x', 'w', 'b']);
    t.deepEqual(s1.outputNames, ['y', 'p']);
    const w = f32([1, 0, 0, 1, 1, 1], [3, 2]);
    for (const batch of [1, 3]) {
      const x = f32(Array.from({ length: batch * 3 }, (_, i) => i), [batch, 3]);
      const b = f32(Array.from({ length: batch * 2 }, (_, i) => -i), [batch, 2]);
      const r1 = await s1.run({ x, w, b });
      const r2 = await s2.run({ x, w, b }, ['y']);
      t.deepEqual(Object.keys(r2), ['y']);
      t.deepEqual(r1.y.dims, [batch, 2]);
      const xs = x.data as Float32Array;
      const expected = Array.from({ length: batch * 2 }, (_, k) => {
        const i = Math.floor(k / 2), j = k % 2;
        return (j === 0 ? xs[i * 3] + xs[i * 3 + 2] : xs[i * 3 + 1] + xs[i * 3 + 2]) - k;
      });
      t.deepEqual(Array.from(r1.y.data as Float32Array), expected);
      t.deepEqual(Array.from(r2.y.data as Float32Array), expected);
    }
  } finally {
    await s1.release();
    await s2.release();
  }
});

test('feeds are checked against the graph inputs before running', async (t) => {
  const s = await Session.create(model());
  const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  const w = f32([1, 2, 3, 4, 5, 6], [3, 2]);
  const b = f32([1, 2, 3, 4], [2, 2]);
  await t.throwsAsync(s.run({ x, w }), { message: /missing feeds 'b'; the graph inputs are x, w, b/ });
  await t.throwsAsync(s.run({ x, w, b, z: b }), { message: /unknown feeds 'z'/ });
  await t.throwsAsync(s.run({ x, w: new ort.Tensor('float64', new Float64Array(6), [3, 2]), b }), { message: /feed 'w' must be float32, got float64/ });
  await t.throwsAsync(s.run({ x, w: f32([1, 2, 3, 4, 5, 6], [2, 3]), b }), { message: /feed 'w' must have shape \[3,2\], got \[2,3\]/ });
  await t.throwsAsync(s.run({ x, w, b: f32([1, 2], [1, 2]) }), { message: /symbolic dim 'batch' is 2 in feed 'x' but 1 in feed 'b'/ });
  await t.throwsAsync(s.run({ x, w, b }, ['nope']), { message: /unknown fetch 'nope'; outputs are y, p/ });
  const ok = await s.run({ x, w, b });
  t.deepEqual(ok.y.dims, [2, 2]);
  await s.release();
  await t.throwsAsync(s.run({ x, w, b }), { message: /released/ });
});

test('a run-time failure names the failing node with its static shapes', async (t) => {
  const g = new Graph('runtime_error');
  const x = g.input('x', 'float32', ['n']);
  const shape = g.input('shape', 'int64', [2]);
  g.output('y', add(reshape(x, shape), 1));
  const s = await Session.create(g);
  try {
    await t.throwsAsync(
      s.run({ x: f32([1, 2, 3, 4, 5, 6], [6]), shape: new ort.Tensor('int64', new BigInt64Array([4n, 2n]), [2]) }),
      { message: /Session\.run: .*cannot be reshaped.*\n  in graph 'runtime_error', node n\d+_Reshape: Reshape\(x: float32\[n\], shape: int64\[2\]\) -> reshape_\d+: float32\[\?\d+,\?\d+\]/s },
    );
    const ok = await s.run({ x: f32([1, 2, 3, 4, 5, 6], [6]), shape: new ort.Tensor('int64', new BigInt64Array([3n, 2n]), [2]) });
    t.deepEqual(Array.from(ok.y.data as Float32Array), [2, 3, 4, 5, 6, 7]);
  } finally {
    await s.release();
  }
});

test('COHORT_ORT_THREADS sets the default intra-op threads and a bad value says what is expected', (t) => {
  t.is(threadsFromEnv({}), undefined);
  t.is(threadsFromEnv({ COHORT_ORT_THREADS: '' }), undefined);
  t.is(threadsFromEnv({ COHORT_ORT_THREADS: '1' }), 1);
  t.is(threadsFromEnv({ COHORT_ORT_THREADS: '3' }), 3);
  for (const bad of ['0', '-2', '1.5', 'two']) {
    t.throws(() => threadsFromEnv({ COHORT_ORT_THREADS: bad }), { message: new RegExp(`COHORT_ORT_THREADS must be an integer from 1 to 1024.*got "${bad}"`) });
  }
});
