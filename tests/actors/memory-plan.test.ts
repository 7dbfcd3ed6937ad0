import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { activationBytes, adamWStateBytes, forwardActivationBytes, kvCacheBytes, weightBytes } from '../../engine/src/index.js';
import { formatMemoryPlan, memoryAdvice, memoryPlan, parseTrainConfig, planModelConfig, preflight, type TrainConfig } from '../../actors/src/index.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const local = parseTrainConfig(readFileSync(path.join(ROOT, 'configs/zerosearch/local.yaml'), 'utf8'));
const GiB = 2 ** 30;

test('memory plan of local.yaml: every part from the engine formulas, per GPU of the layout', (t) => {
  const mc = planModelConfig(local)!;
  const p = memoryPlan(local, mc, { capacityBytes: 16 * GiB });
  const l = local.layout;
  t.is(p.gpus.length, l.simulator.bundles + l.rl.bundles);
  t.deepEqual(p.gpus[0].roles, ['simulator-0']);
  t.is(p.gpus[0].total_bytes, 0, 'with no simulatorConfig given the simulator model is not counted');
  const rl = p.gpus[l.simulator.bundles];
  t.deepEqual(rl.roles, ['learner-0', 'rollout-0', 'reference-0']);
  const W = weightBytes(mc);
  t.is(rl.weights_bytes, 3 * W);
  t.is(rl.grads_bytes, W);
  t.is(rl.optimizer_bytes, adamWStateBytes(mc));
  const ctx = local.rollout.contextWindow;
  const micro = local.batch.microBatch;
  const rows = Math.ceil(local.batch.promptsPerStep / l.rl.bundles) * local.batch.samplesPerPrompt;
  t.is(rl.kv_cache_bytes, kvCacheBytes(mc, rows, ctx));
  t.is(rl.activations_bytes, Math.max(activationBytes(mc, micro, ctx), forwardActivationBytes(mc, micro, ctx)) + forwardActivationBytes(mc, rows, ctx, rows) + forwardActivationBytes(mc, micro, ctx));
  t.is(rl.total_bytes, rl.weights_bytes + rl.grads_bytes + rl.optimizer_bytes + rl.activations_bytes + rl.kv_cache_bytes);
  t.true(p.gpus.every((g) => g.fits === true && g.capacity_bytes === 16 * GiB));
  t.is(p.params, W / 4);
  t.deepEqual(memoryAdvice(local, mc, p, { capacityBytes: 16 * GiB }), []);
  // Unknown capacity: nothing is judged.
  t.true(memoryPlan(local, mc).gpus.every((g) => g.fits === null));
  t.regex(formatMemoryPlan(p), /learner-0, rollout-0, reference-0/);
});

test('a layout that does not fit names the knob, and the knob it names does make it fit', (t) => {
  const mc = planModelConfig(local)!;
  const big: TrainConfig = { ...local, batch: { ...local.batch, microBatch: 8, miniBatch: Math.max(8, local.batch.miniBatch) }, rollout: { ...local.rollout } };
  const full = memoryPlan(big, mc).gpus.map((g) => g.total_bytes);
  const at = (m: number) => Math.max(...memoryPlan({ ...big, batch: { ...big.batch, microBatch: m } }, mc).gpus.map((g) => g.total_bytes));
  // A capacity between what micro-batch 2 and 3 need.
  const cap = Math.floor((at(2) + at(3)) / 2);
  t.true(Math.max(...full) > cap);
  const p = memoryPlan(big, mc, { capacityBytes: cap });
  const advice = memoryAdvice(big, mc, p, { capacityBytes: cap });
  t.is(advice.length, 1);
  t.regex(advice[0], /GPU \d \(learner-0, rollout-0, reference-0\) needs [\d.]+ GB of [\d.]+ GB .*; lower batch.microBatch to 2$/);
  // Too small for micro-batch 1 at this context: the context window is the knob.
  const cap1 = at(1) - 1;
  const a1 = memoryAdvice(big, mc, memoryPlan(big, mc, { capacityBytes: cap1 }), { capacityBytes: cap1 })[0];
  const m = /lower rollout.contextWindow to (\d+)/.exec(a1);
  t.truthy(m, a1);
  const ctx = Number(m![1]);
  const fixed: TrainConfig = { ...big, batch: { ...big.batch, microBatch: 1 }, rollout: { ...big.rollout, contextWindow: ctx, observationTokenCap: Math.min(big.rollout.observationTokenCap, ctx - 1), maxNewTokensPerTurn: Math.min(big.rollout.maxNewTokensPerTurn, ctx - 1) } };
  t.true(memoryPlan(fixed, mc, { capacityBytes: cap1 }).gpus.every((g) => g.fits));
  // Weights and optimizer state alone over capacity: more GPUs or a smaller model.
  t.regex(memoryAdvice(big, mc, memoryPlan(big, mc, { capacityBytes: 1000 }), { capacityBytes: 1000 })[0], /weights, gradients and AdamW state alone do not fit/);
});

test('RL bundles with two GPUs place their actors first-fit by share; a run refuses a layout that does not fit before it starts', (t) => {
  const mc = planModelConfig(local)!;
  const two: TrainConfig = { ...local, layout: { ...local.layout, gpus: { ...local.layout.gpus, count: 5 }, rl: { ...local.layout.rl, gpusPerBundle: 2, shares: { learner: 1, rollout: 0.5, reference: 0.5, critic: 0 } } } };
  const p = memoryPlan(two, mc);
  const rl = p.gpus.slice(two.layout.simulator.bundles);
  t.deepEqual(rl.map((g) => g.roles), [['learner-0'], ['rollout-0', 'reference-0'], ['learner-1'], ['rollout-1', 'reference-1']].slice(0, rl.length));
  t.is(rl[0].grads_bytes, weightBytes(mc));
  t.is(rl[1].grads_bytes, 0);
  // preflight uses layout.gpus.memoryGiB (here on a logical layout) and names the knob.
  const tiny: TrainConfig = { ...local, layout: { ...local.layout, gpus: { ...local.layout.gpus, memoryGiB: 0.001 } } };
  t.throws(() => preflight(tiny, { PATH: '/nonexistent' }), { message: /^the layout does not fit in GPU memory: .* needs [\d.]+ GB of 0.00 GB .*\(see cohort train CONFIG --dry-run\)$/ });
  t.notThrows(() => preflight({ ...local, layout: { ...local.layout, gpus: { ...local.layout.gpus, memoryGiB: 64 } } }, { PATH: '/nonexistent' }));
});
