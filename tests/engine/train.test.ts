import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM } from '../../engine/src/model/causal-lm.js';
import { PolicyTrainer, SftTrainer } from '../../engine/src/train/trainer.js';
import { TINY_CONFIG } from '../../engine/src/io/model-config.js';

const seqs = Array.from({ length: 8 }, (_, i) => Array.from({ length: 12 }, (_, t) => (i * 7 + t * (i + 3) + 1) % 64));

test('train: a tiny model overfits 8 sequences to near-zero loss (SFT, AdamW, warm-up)', async (t) => {
  const m = CausalLM.random(TINY_CONFIG, { seed: 1, threads: 1 });
  t.teardown(() => m.release());
  const tr = new SftTrainer(m, { optimizer: { lr: 1e-2, weightDecay: 0 }, schedule: { lr: 1e-2, warmupSteps: 5 } });
  const first = await tr.step({ inputIds: seqs });
  t.true(first.loss > 3.5);
  t.is(first.tokens, 8 * 11);
  let last = first;
  for (let s = 0; s < 120; s++) last = await tr.step({ inputIds: seqs });
  t.true(last.loss < 0.02, `final loss ${last.loss}`);
  t.is(tr.globalStep, 121);
  // and greedy decoding now reproduces the training sequences from their first 3 tokens
  const { generate } = await import('../../engine/src/generate/generate.js');
  const out = await generate(m, seqs.map((s) => s.slice(0, 3)), { maxNewTokens: 9, temperature: 0 });
  t.deepEqual(out.map((o) => o.tokens), seqs.map((s) => s.slice(3)));
});

test('train: gradient accumulation over micro-batches equals one full batch', async (t) => {
  const a = CausalLM.random(TINY_CONFIG, { seed: 2, threads: 1 });
  const b = CausalLM.random(TINY_CONFIG, { seed: 2, threads: 1 });
  t.teardown(async () => { await a.release(); await b.release(); });
  const batch = { inputIds: seqs.slice(0, 4) };
  const ra = await new SftTrainer(a, { microBatchSize: 4 }).step(batch);
  const rb = await new SftTrainer(b, { microBatchSize: 1 }).step(batch);
  t.is(ra.microBatches, 1);
  t.is(rb.microBatches, 4);
  t.true(Math.abs(ra.loss - rb.loss) < 1e-5);
  t.true(Math.abs(ra.gradNorm - rb.gradNorm) < 1e-4 * ra.gradNorm);
  let maxDiff = 0;
  for (const [k, p] of a.params) {
    const q = b.params.get(k)!;
    for (let i = 0; i < p.length; i++) maxDiff = Math.max(maxDiff, Math.abs(p[i] - q[i]));
  }
  t.true(maxDiff < 1e-5, `max param difference ${maxDiff}`);
});

test('train: policy-gradient steps raise the log-prob of positive-advantage tokens and lower negative ones', async (t) => {
  const m = CausalLM.random(TINY_CONFIG, { seed: 3, threads: 1 });
  t.teardown(() => m.release());
  const ids = [seqs[0], seqs[1]];
  const lossMask = ids.map((s) => s.map((_, i) => (i >= 4 ? 1 : 0)));
  const advantages = [ids[0].map(() => 1), ids[1].map(() => -1)];
  const before = await m.score({ inputIds: ids });
  const tr = new PolicyTrainer(m, { optimizer: { lr: 3e-3 }, loss: { clipRatio: 0.2 } });
  const old = before.logprobs.map((a) => Array.from(a));
  let r;
  for (let s = 0; s < 4; s++) r = await tr.step({ inputIds: ids, lossMask, advantages, oldLogprobs: old });
  t.true(r!.clip_frac >= 0);
  const after = await m.score({ inputIds: ids });
  const sum = (a: Float32Array, mask: number[]) => a.reduce((s, v, i) => s + v * mask[i], 0);
  t.true(sum(after.logprobs[0], lossMask[0]) > sum(before.logprobs[0], lossMask[0]));
  t.true(sum(after.logprobs[1], lossMask[1]) < sum(before.logprobs[1], lossMask[1]));
  await t.throwsAsync(new PolicyTrainer(m, { loss: { klCoef: 0.1 } }).step({ inputIds: ids, lossMask, advantages }), { message: /needs batch\.refLogprobs/ });
  t.throws(() => new PolicyTrainer(m, { loss: { dualClip: 0.5 } }), { message: /dualClip must be > 1/ });
});

test('train: a checkpoint (params + AdamW state) resumes exactly', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ckpt-'));
  const a = CausalLM.random(TINY_CONFIG, { seed: 4, threads: 1 });
  const b = CausalLM.random(TINY_CONFIG, { seed: 99, threads: 1 });
  t.teardown(async () => { await a.release(); await b.release(); rmSync(dir, { recursive: true, force: true }); });
  const batch = { inputIds: seqs };
  const ta = new SftTrainer(a, { optimizer: { lr: 5e-3 } });
  for (let s = 0; s < 3; s++) await ta.step(batch);
  ta.save(dir);
  for (let s = 0; s < 2; s++) await ta.step(batch);
  const tb = new SftTrainer(b, { optimizer: { lr: 5e-3 } });
  tb.load(dir);
  t.is(tb.globalStep, 3);
  for (let s = 0; s < 2; s++) await tb.step(batch);
  for (const [k, p] of a.params) t.deepEqual(Buffer.from(b.params.get(k)!.buffer), Buffer.from(p.buffer), k);
});

test('train: steps are logged through a pino child logger carrying the trainer and step', async (t) => {
  const { pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const m = CausalLM.random(TINY_CONFIG, { seed: 5, threads: 1 });
  t.teardown(() => m.release());
  const tr = new SftTrainer(m, { logger: pino({ level: 'debug' }, sink) });
  await tr.step({ inputIds: seqs.slice(0, 2) });
  await new Promise((r) => setImmediate(r));
  const rec = lines.map((l) => JSON.parse(l)).find((r) => r.msg === 'train step');
  t.truthy(rec);
  t.is(rec.component, 'SftTrainer');
  t.is(rec.step, 1);
  t.true(rec.loss > 0);
  t.throws(() => new SftTrainer(m, { microBatchSize: 0 }), { message: /invalid trainer options: microBatchSize/ });
});
