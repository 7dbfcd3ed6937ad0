import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AdamW } from '../../engine/src/train/adamw.js';
import { lrSchedule } from '../../engine/src/train/schedule.js';
import { clipGradNorm, globalGradNorm, GradAccumulator } from '../../engine/src/train/grad-utils.js';
import { Rng } from '../../engine/src/random/rng.js';
import { applyGradients } from '../../engine/src/train/apply-gradients.js';
import { decodeOptimizerState, encodeOptimizerState } from '../../engine/src/train/optimizer-state.js';
import { encodeSafetensors } from '../../engine/src/io/safetensors.js';

function randArr(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

test('AdamW: matches the decoupled-weight-decay, bias-corrected update computed in float64', (t) => {
  const rng = new Rng(1);
  const w0 = randArr(10, rng);
  const b0 = randArr(4, rng);
  const params = new Map([['w', Float32Array.from(w0)], ['b', Float32Array.from(b0)]]);
  const opt = new AdamW(params, { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 }, (n) => n === 'w');
  const ref = { w: Float64Array.from(w0), b: Float64Array.from(b0) };
  const m = { w: new Float64Array(10), b: new Float64Array(4) };
  const v = { w: new Float64Array(10), b: new Float64Array(4) };
  for (let step = 1; step <= 4; step++) {
    const g = { w: randArr(10, rng), b: randArr(4, rng) };
    opt.update(new Map([['w', g.w], ['b', g.b]]));
    for (const k of ['w', 'b'] as const) {
      for (let i = 0; i < ref[k].length; i++) {
        if (k === 'w') ref[k][i] *= 1 - 0.05 * 0.1;
        m[k][i] = 0.8 * m[k][i] + 0.2 * g[k][i];
        v[k][i] = 0.95 * v[k][i] + 0.05 * g[k][i] ** 2;
        const mh = m[k][i] / (1 - 0.8 ** step);
        const vh = v[k][i] / (1 - 0.95 ** step);
        ref[k][i] -= (0.05 * mh) / (Math.sqrt(vh) + 1e-6);
      }
    }
  }
  for (const k of ['w', 'b'] as const) for (let i = 0; i < ref[k].length; i++) t.true(Math.abs(params.get(k)![i] - ref[k][i]) < 1e-5);
  t.is(opt.step, 4);
  // with a zero gradient only decayed params move
  const before = { w: Float32Array.from(params.get('w')!), b: Float32Array.from(params.get('b')!) };
  const fresh = new AdamW(params, { lr: 0.1, weightDecay: 0.5 }, (n) => n === 'w');
  fresh.update(new Map([['w', new Float32Array(10)], ['b', new Float32Array(4)]]));
  t.deepEqual(params.get('b'), before.b);
  t.true(Math.abs(params.get('w')![0] - before.w[0] * 0.95) < 1e-6);
  t.throws(() => new AdamW(params, { lr: -1 }), { message: /lr must be > 0/ });
  t.throws(() => fresh.update(new Map([['nope', new Float32Array(1)]])), { message: /unknown parameter 'nope'/ });
});

test('AdamW: state saved and loaded continues exactly like an uninterrupted run', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'adamw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const rng = new Rng(2);
  const p0 = randArr(16, rng);
  const grads = Array.from({ length: 6 }, () => new Map([['p', randArr(16, rng)]]));
  const a = new Map([['p', Float32Array.from(p0)]]);
  const optA = new AdamW(a, { lr: 0.01 });
  for (const g of grads) optA.update(g);
  const b = new Map([['p', Float32Array.from(p0)]]);
  const optB = new AdamW(b, { lr: 0.01 });
  for (const g of grads.slice(0, 3)) optB.update(g);
  const file = path.join(dir, 'opt.safetensors');
  optB.save(file);
  const c = new Map([['p', Float32Array.from(b.get('p')!)]]);
  const optC = new AdamW(c, { lr: 0.01 });
  optC.load(file);
  t.is(optC.step, 3);
  for (const g of grads.slice(3)) optC.update(g);
  t.deepEqual(c.get('p'), a.get('p'));
  const st = optA.exportState();
  const d = new Map([['p', Float32Array.from(a.get('p')!)]]);
  const optD = new AdamW(d, { lr: 0.01 });
  optD.importState(st);
  t.deepEqual(optD.exportState().m.get('p'), st.m.get('p'));
  t.throws(() => optD.importState({ step: 1, m: new Map(), v: new Map() }), { message: /no moments for parameter 'p'/ });
});

test('lr schedules: linear warm-up then constant or cosine to the floor', (t) => {
  const c = lrSchedule({ lr: 1, warmupSteps: 4 });
  t.deepEqual([1, 2, 4, 5, 100].map(c), [0.25, 0.5, 1, 1, 1]);
  const cos = lrSchedule({ lr: 1, warmupSteps: 2, kind: 'cosine', totalSteps: 12, minRatio: 0.1 });
  t.is(cos(2), 1);
  t.true(Math.abs(cos(7) - 0.55) < 1e-12);
  t.true(Math.abs(cos(12) - 0.1) < 1e-12);
  t.true(cos(5) > cos(9));
  t.throws(() => lrSchedule({ lr: 1, kind: 'cosine' }), { message: /cosine schedule needs totalSteps/ });
});

test('grad-norm clipping and gradient accumulation', (t) => {
  const g = new Map([['a', Float32Array.from([3, 0])], ['b', Float32Array.from([4])]]);
  t.is(globalGradNorm(g), 5);
  t.is(clipGradNorm(g, 10), 5);
  t.deepEqual([...g.get('a')!], [3, 0]);
  t.is(clipGradNorm(g, 1), 5);
  t.true(Math.abs(globalGradNorm(g) - 1) < 1e-5);
  const acc = new GradAccumulator();
  acc.add(new Map([['x', Float32Array.from([1, 2])]]), 0.5);
  acc.add(new Map([['x', Float32Array.from([3, 4])]]), 0.5);
  t.deepEqual([...acc.grads.get('x')!], [2, 3]);
  t.is(acc.count, 2);
  acc.reset();
  t.deepEqual([...acc.grads.get('x')!], [0, 0]);
  t.throws(() => acc.add(new Map([['x', new Float32Array(3)]])), { message: /has 3 elements, expected 2/ });
});

test('applyGradients: clips to the global norm, steps AdamW at the given lr, skips a non-finite gradient untouched; a sharded gradient with the global norm gives the same update', (t) => {
  const rng = new Rng(3);
  const p0 = { a: randArr(6, rng), b: randArr(3, rng) };
  const g0 = { a: randArr(6, rng).map((x) => x * 10), b: randArr(3, rng).map((x) => x * 10) };
  const fresh = () => new Map([['a', Float32Array.from(p0.a)], ['b', Float32Array.from(p0.b)]]);
  const grads = () => new Map([['a', Float32Array.from(g0.a)], ['b', Float32Array.from(g0.b)]]);
  // Reference: clipGradNorm then AdamW.update (what every trainer did by hand).
  const ref = fresh();
  const refOpt = new AdamW(ref, { lr: 0.01 });
  const rg = grads();
  const refNorm = clipGradNorm(rg, 1);
  refOpt.update(rg, 0.02);
  const params = fresh();
  const opt = new AdamW(params, { lr: 0.01 });
  const u = applyGradients(opt, grads(), { maxGradNorm: 1, lr: 0.02 });
  t.deepEqual(u, { gradNorm: refNorm, lr: 0.02, applied: true, step: 1 });
  t.true(refNorm > 1, 'the clip was active');
  for (const k of ['a', 'b']) t.deepEqual(params.get(k), ref.get(k), k);
  // Non-finite: nothing moves, the step count stays.
  const before = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
  const bad = grads();
  bad.get('a')![2] = NaN;
  const skipped = applyGradients(opt, bad, { maxGradNorm: 1, lr: 0.02 });
  t.false(skipped.applied);
  t.is(skipped.step, 1);
  t.is(opt.step, 1);
  for (const k of ['a', 'b']) t.deepEqual(params.get(k), before.get(k), k);
  // No clip: the norm is still reported.
  const noClip = applyGradients(new AdamW(fresh(), { lr: 0.01 }), grads(), { maxGradNorm: null, lr: 0.01 });
  t.is(noClip.gradNorm, refNorm);
  // Two shards (one parameter each) with the global norm update exactly like the whole gradient.
  const sharded = fresh();
  const optS = new AdamW(sharded, { lr: 0.01 });
  const whole = grads();
  applyGradients(optS, new Map([['a', whole.get('a')!]]), { maxGradNorm: 1, lr: 0.02, gradNorm: refNorm });
  const optS2 = new AdamW(sharded, { lr: 0.01 });
  applyGradients(optS2, new Map([['b', whole.get('b')!]]), { maxGradNorm: 1, lr: 0.02, gradNorm: refNorm });
  for (const k of ['a', 'b']) t.deepEqual(sharded.get(k), ref.get(k), `shard ${k}`);
});

test('optimizer-state codec: AdamW state round-trips bit for bit through bytes with metadata; junk is refused with the reason', (t) => {
  const rng = new Rng(4);
  const params = new Map([['w', randArr(5, rng)], ['v', randArr(2, rng)]]);
  const opt = new AdamW(params, { lr: 0.01 });
  for (let i = 0; i < 3; i++) opt.update(new Map([['w', randArr(5, rng)], ['v', randArr(2, rng)]]));
  const bytes = opt.stateBytes({ version: '7' });
  const { state, metadata } = decodeOptimizerState(bytes);
  t.is(state.step, 3);
  t.is(metadata.version, '7');
  t.is(metadata.optimizer, 'adamw');
  const ex = opt.exportState();
  for (const k of ['w', 'v']) {
    t.deepEqual(state.m.get(k), ex.m.get(k));
    t.deepEqual(state.v.get(k), ex.v.get(k));
  }
  // Encoding the decoded state gives the same bytes (one format, deterministic).
  t.deepEqual(Buffer.from(encodeOptimizerState(state, { opts: metadata.opts, version: '7' })), Buffer.from(bytes));
  const other = new AdamW(new Map([['w', new Float32Array(5)], ['v', new Float32Array(2)]]), { lr: 0.01 });
  t.is(other.loadStateBytes(bytes).version, '7');
  t.is(other.step, 3);
  t.deepEqual(Buffer.from(other.stateBytes({ version: '7' })), Buffer.from(bytes));
  const notAdam = encodeSafetensors({ x: { shape: [1], data: new Float32Array(1) } }, { optimizer: 'sgd', step: '1' });
  t.throws(() => decodeOptimizerState(notAdam, 'opt.safetensors'), { message: /opt\.safetensors is not an AdamW state \(metadata\.optimizer=sgd\)/ });
  const noStep = encodeSafetensors({ x: { shape: [1], data: new Float32Array(1) } }, { optimizer: 'adamw' });
  t.throws(() => decodeOptimizerState(noStep), { message: /no valid step/ });
});
