import test from 'ava';
import { CausalLM } from '../../engine/src/model/causal-lm.js';
import { PolicyTrainer, SftTrainer, ValueTrainer } from '../../engine/src/train/trainer.js';
import { TINY_CONFIG } from '../../engine/src/io/model-config.js';
import { Rng } from '../../engine/src/random/rng.js';
import type { Aggregation, KlType } from '../../engine/src/train/losses.js';

const model = CausalLM.random(TINY_CONFIG, { seed: 5, std: 0.2, threads: 1 });
test.after.always(() => model.release());
const rng = new Rng(77);
const ids = [[1, 5, 9, 22, 40, 41, 3, 8], [2, 60, 14, 7, 7], [30, 31, 32, 33, 34, 35]];
const lossMask = ids.map((s, b) => s.map((_, t) => (t >= 2 + b && !(b === 0 && t === 5) ? 1 : 0)));
const adv = ids.map((s) => s.map(() => rng.normal()));
const noise = () => ids.map((s) => s.map(() => 0.6 * rng.normal()));
const n1 = noise();
const n2 = noise();

function agg(x: number[][], m: number[][], mode: Aggregation): number {
  if (mode === 'token-mean') {
    let s = 0, c = 0;
    x.forEach((r, b) => r.forEach((v, t) => { s += v * m[b][t]; c += m[b][t]; }));
    return s / Math.max(c, 1);
  }
  let tot = 0;
  x.forEach((r, b) => {
    let s = 0, c = 0;
    r.forEach((v, t) => { s += v * m[b][t]; c += m[b][t]; });
    tot += mode === 'seq-mean-token-sum' ? s : s / Math.max(c, 1);
  });
  return tot / x.length;
}

function expectedPolicy(lp: number[][], ent: number[][], old: number[][], ref: number[][], o: { eps: number; dual: number | null; klCoef: number; klType: KlType; entCoef: number; mode: Aggregation }) {
  const pg = lp.map((r, b) => r.map((l, t) => {
    const A = adv[b][t];
    const ratio = Math.exp(Math.max(-20, Math.min(20, l - old[b][t])));
    const l1 = -A * ratio;
    const l2 = -A * Math.min(Math.max(ratio, 1 - o.eps), 1 + o.eps);
    let v = Math.max(l1, l2);
    if (o.dual !== null && A < 0) v = Math.min(-A * o.dual, v);
    return v;
  }));
  const kl = lp.map((r, b) => r.map((l, t) => {
    const d = l - ref[b][t];
    if (o.klType === 'k1') return d;
    if (o.klType === 'k2') return 0.5 * d * d;
    const k = Math.max(-20, Math.min(20, -d));
    return Math.max(-10, Math.min(10, Math.exp(k) - k - 1));
  }));
  const P = agg(pg, lossMask, o.mode);
  const K = agg(kl, lossMask, o.mode);
  const E = agg(ent, lossMask, o.mode);
  return { loss: P + o.klCoef * K - o.entCoef * E, pg: P, kl: K, ent: E };
}

test.serial('loss: PPO-clip / dual-clip / KL k1,k2,k3 / entropy / all aggregations equal a direct computation', async (t) => {
  const s = await model.score({ inputIds: ids });
  const lp = s.logprobs.map((a) => Array.from(a));
  const ent = s.entropy.map((a) => Array.from(a));
  const old = lp.map((r, b) => r.map((v, i) => v + n1[b][i]));
  const ref = lp.map((r, b) => r.map((v, i) => v + n2[b][i]));
  const cases = [
    { eps: 0.2, dual: 3, klCoef: 0, klType: 'low_var_kl' as KlType, entCoef: 0, mode: 'token-mean' as Aggregation },
    { eps: 0.2, dual: null, klCoef: 0.1, klType: 'k1' as KlType, entCoef: 0.01, mode: 'seq-mean-token-sum' as Aggregation },
    { eps: 0.1, dual: 2, klCoef: 0.5, klType: 'k2' as KlType, entCoef: 0, mode: 'seq-mean-token-mean' as Aggregation },
    { eps: 0.3, dual: 3, klCoef: 1.0, klType: 'k3' as KlType, entCoef: 0.05, mode: 'token-mean' as Aggregation },
  ];
  for (const c of cases) {
    const tr = new PolicyTrainer(model, { loss: { clipRatio: c.eps, dualClip: c.dual, klCoef: c.klCoef, klType: c.klType, entropyCoef: c.entCoef, aggregation: c.mode } });
    const r = await tr.gradients({ inputIds: ids, lossMask, advantages: adv, oldLogprobs: old, refLogprobs: ref });
    const e = expectedPolicy(lp, ent, old, ref, c);
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
    t.true(close(r.loss, e.loss), `${JSON.stringify(c)}: loss ${r.loss} vs ${e.loss}`);
    t.true(close(r.metrics.pg_loss, e.pg), `pg ${r.metrics.pg_loss} vs ${e.pg}`);
    t.true(close(r.metrics.kl_loss, e.kl), `kl ${r.metrics.kl_loss} vs ${e.kl}`);
    t.true(close(r.metrics.entropy_loss, e.ent), `entropy ${r.metrics.entropy_loss} vs ${e.ent}`);
    t.true(r.metrics.clip_frac > 0 && r.metrics.clip_frac < 1);
  }
});

test.serial('loss: PPO gradient (clipping and dual clip active) matches finite differences', async (t) => {
  const s = await model.score({ inputIds: ids });
  const old = s.logprobs.map((a, b) => Array.from(a, (v, i) => v + n1[b][i]));
  const ref = s.logprobs.map((a, b) => Array.from(a, (v, i) => v + n2[b][i]));
  const tr = new PolicyTrainer(model, { loss: { klCoef: 0.2, klType: 'k3', entropyCoef: 0.01 } });
  const batch = { inputIds: ids, lossMask, advantages: adv, oldLogprobs: old, refLogprobs: ref };
  const { grads } = await tr.gradients(batch);
  for (const name of ['model.layers.1.mlp.gate_proj.weight', 'model.embed_tokens.weight']) {
    const g = grads.get(name)!;
    const p = model.params.get(name)!;
    const i = [...g.keys()].sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))[0];
    const v = p[i];
    const eps = 5e-3;
    p[i] = v + eps;
    const up = (await tr.gradients(batch)).loss;
    p[i] = v - eps;
    const dn = (await tr.gradients(batch)).loss;
    p[i] = v;
    const fd = (up - dn) / (2 * eps);
    t.true(Math.abs(fd - g[i]) / Math.max(Math.abs(fd), 1e-3) < 0.05, `${name}: ${g[i]} vs ${fd}`);
  }
});

test.serial('loss: SFT masked cross-entropy and clipped value loss equal direct computations', async (t) => {
  const s = await model.score({ inputIds: ids });
  const sft = new SftTrainer(model);
  const r = await sft.gradients({ inputIds: ids, lossMask });
  const nll = s.logprobs.map((a) => Array.from(a, (v) => -v));
  t.true(Math.abs(r.loss - agg(nll, lossMask, 'token-mean')) < 1e-4);
  const sft2 = new SftTrainer(model, { aggregation: 'seq-mean-token-mean' });
  t.true(Math.abs((await sft2.gradients({ inputIds: ids, lossMask })).loss - agg(nll, lossMask, 'seq-mean-token-mean')) < 1e-4);

  const vt = new ValueTrainer(model, { value: { clipRange: 0.2 }, seed: 3 });
  const values = (await vt.values({ inputIds: ids })).map((a) => Array.from(a));
  t.is(values[1].length, ids[1].length);
  const oldValues = values.map((r) => r.map((v) => v + 0.5 * rng.normal()));
  const returns = values.map((r) => r.map(() => rng.normal()));
  const vr = await vt.gradients({ inputIds: ids, lossMask, returns, oldValues });
  const per = values.map((r, b) => r.map((v, i) => {
    const o = oldValues[b][i];
    const R = returns[b][i];
    const vc = o + Math.max(-0.2, Math.min(0.2, v - o));
    return 0.5 * Math.max((v - R) ** 2, (vc - R) ** 2);
  }));
  t.true(Math.abs(vr.loss - agg(per, lossMask, 'token-mean')) < 1e-4, `${vr.loss} vs ${agg(per, lossMask, 'token-mean')}`);
  t.true(vr.grads.get('value_head.weight')!.some((x) => x !== 0));
});

test('ValueTrainer trains a model with an untied lm_head (the head is left out: the value does not use it)', async (t) => {
  const untied = CausalLM.random({ ...TINY_CONFIG, tie_word_embeddings: false }, { seed: 6, threads: 1 });
  t.teardown(() => untied.release());
  const head = Float32Array.from(untied.params.get('lm_head.weight')!);
  const vt = new ValueTrainer(untied, { optimizer: { lr: 1e-2 }, seed: 1 });
  const returns = ids.map((s) => s.map(() => 1));
  const before = (await vt.gradients({ inputIds: ids, lossMask, returns, oldValues: returns })).loss;
  for (let i = 0; i < 5; i++) await vt.step({ inputIds: ids, lossMask, returns });
  const after = (await vt.gradients({ inputIds: ids, lossMask, returns, oldValues: returns })).loss;
  t.true(after < before, `value loss ${before} -> ${after}`);
  t.deepEqual(untied.params.get('lm_head.weight'), head, 'lm_head untouched');
});
