import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, decodeOptimizerState, decodeSafetensors, parseModelConfig } from '@cohort/engine';
import { createCollectiveGroup, init } from '@cohort/runtime';
import { pino } from 'pino';
import YAML from 'yaml';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';
import { LearnerActorClass, Trainer, loadTrainConfig, parseAlgorithmParams, collate, getAlgorithm, optimizerSchema, selectRows, toAdvantageBatch, toPolicyBatch } from '../../actors/src/index.js';
import { makeTrajectory } from './helpers.js';

const cfg = parseModelConfig({
  model_type: 'qwen2', vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true,
});

function batch() {
  const trajs = [0, 1, 2].flatMap((p) =>
    [0, 1].map((s) =>
      makeTrajectory({
        step: 1, promptIndex: p, sampleIndex: s, reward: (p + s) % 2,
        prompt: [1, 2 + p, 3],
        segments: [{ by: 'policy', ids: [10 + s, 11 + p] }, { by: 'env', ids: [40, 41] }, { by: 'policy', ids: [12, 13 + p] }],
      }),
    ),
  );
  const b = collate(trajs, { padId: 0 });
  b.advantages = getAlgorithm('grpo').computeAdvantages(toAdvantageBatch(b), { params: parseAlgorithmParams('grpo', {}), options: {} }).advantages;
  return b;
}

const maxAbs = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
};

test('ZeRO-1 learners: the same update as the all-reduce path (bit-identical without clipping, 1e-6 with), 1/N of the AdamW state each, full-state checkpoints and exact resume', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-zero-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  CausalLM.random(cfg, { seed: 4 }).save(dir);
  const rt = await init({ logLevel: 'silent', resources: { CPU: 8 } });
  t.teardown(() => rt.shutdown());
  const spec = (rank: number, world: number, group: string, zero: boolean, gradClip: number) => ({
    rank, worldSize: world, modelDir: dir, group, zero,
    algorithm: { name: 'grpo', params: parseAlgorithmParams('grpo', { kl: { coef: 0 } }) },
    optimizer: optimizerSchema.parse({ lr: 0.01, warmupRatio: 0, gradClip }),
    totalUpdates: 8, microBatch: 4,
  });
  const spawnGroup = async (name: string, world: number, zero: boolean, gradClip: number) => {
    const ls = await Promise.all(Array.from({ length: world }, (_, r) => rt.spawn(LearnerActorClass, [spec(r, world, name, zero, gradClip)], { resources: { CPU: 0.5 } })));
    await createCollectiveGroup(rt, { name, members: ls });
    return ls;
  };
  const [plain, zero, zero3] = await Promise.all([spawnGroup('plain', 2, false, 1e9), spawnGroup('zero', 2, true, 1e9), spawnGroup('zero3', 3, true, 1e-3)]);
  const b = batch();
  const pb = (rows: number[]) => (rows.length ? toPolicyBatch(selectRows(b, rows), { advantages: selectRows(b, rows).advantages!, oldLogprobs: selectRows(b, rows).oldLogprobs }) : null);
  // Uneven shards, then a learner without rows.
  const shardsOf = [[[0, 1, 2, 3], [4, 5]], [[0, 1, 2, 3, 4, 5], []]];
  for (const rows of shardsOf) {
    const [a, z] = await Promise.all([Promise.all(plain.map((l, r) => l.trainStep(pb(rows[r])))), Promise.all(zero.map((l, r) => l.trainStep(pb(rows[r]))))]);
    t.deepEqual(z.map((x) => x.version), a.map((x) => x.version));
    t.is(z[0].rows, 6);
    t.is(z[0].loss, a[0].loss);
    t.true(Math.abs(z[0].gradNorm - a[0].gradNorm) <= 1e-6 * a[0].gradNorm, `grad norm ${z[0].gradNorm} vs ${a[0].gradNorm}`);
    t.is(z[0].gradNorm, z[1].gradNorm, 'every ZeRO learner sees the same global norm');
  }
  const wPlain = await plain[0].weights();
  const wZero = await Promise.all(zero.map((l) => l.weights()));
  t.deepEqual(wZero[0], wPlain, 'no clipping: ZeRO-1 parameters are bit-identical to the all-reduce path');
  t.deepEqual(wZero[1], wPlain, 'and identical on every learner after the all-gather');
  // AdamW state: split over the learners, not copied.
  const full = await plain[0].optimizerStateBytes();
  const parts = await Promise.all(zero.map((l) => l.optimizerStateBytes()));
  t.is(full, 8 * CausalLM.random(cfg).paramCount);
  t.is(parts[0] + parts[1], full);
  for (const p of parts) t.true(Math.abs(p - full / 2) <= 8, `${p} of ${full}`);
  const parts3 = await Promise.all(zero3.map((l) => l.optimizerStateBytes()));
  t.is(parts3.reduce((a, x) => a + x, 0), full);
  for (const p of parts3) t.true(Math.abs(p - full / 3) <= 16, `${p} of ${full}`);

  // Checkpoint: learner 0 gathers the shards into the full state, in the format of the all-reduce path.
  const [ck] = await Promise.all([zero[0].checkpointFiles(), zero[1].shareOptimizerShard()]);
  const ckPlain = await plain[0].checkpointFiles();
  t.is(ck.version, 2);
  t.deepEqual(decodeSafetensors(ck.policy).tensors, decodeSafetensors(ckPlain.policy).tensors);
  const sz = decodeOptimizerState(ck.optimizer).state;
  const sp = decodeOptimizerState(ckPlain.optimizer).state;
  t.is(sz.step, sp.step);
  t.deepEqual(sz.m, sp.m);
  t.deepEqual(sz.v, sp.v);
  // Exact resume: a step, then back to the checkpoint and the same step again, gives the same weights;
  // the plain learners restored from the ZeRO checkpoint make that step too.
  const next = [pb([0, 1, 2]), pb([3, 4, 5])];
  await Promise.all(zero.map((l, r) => l.trainStep(next[r])));
  const after = await zero[0].weights();
  t.deepEqual(await Promise.all(zero.map((l) => l.restore(ck.policy, ck.optimizer))), [2, 2]);
  t.deepEqual(await zero[1].weights(), wPlain);
  await Promise.all(zero.map((l, r) => l.trainStep(next[r])));
  t.deepEqual(await zero[0].weights(), after, 'resumed ZeRO learners repeat the step exactly');
  await Promise.all(plain.map((l) => l.restore(ck.policy, ck.optimizer)));
  await Promise.all(plain.map((l, r) => l.trainStep(next[r])));
  t.deepEqual(await plain[0].weights(), after, 'the ZeRO checkpoint resumes the all-reduce path to the same weights');

  // Three learners (uneven parameter shards) with an active clip, against the same update computed in this process.
  const local = new (await import('../../actors/src/learner/learner-actor.js')).LearnerActor(spec(0, 1, 'none', false, 1e-3));
  const rows3 = [[0, 1], [2, 3, 4], [5]];
  for (let step = 0; step < 2; step++) {
    const res = await Promise.all(zero3.map((l, r) => l.trainStep(pb(rows3[r]))));
    const grads: { g: Map<string, Float32Array>; n: number }[] = [];
    for (const rows of rows3) grads.push({ g: (await local.gradients(pb(rows)!)).grads, n: rows.length }); // one at a time: they share the trainer's accumulator
    const avg = new Map([...grads[0].g].map(([k, g0]) => [k, Float32Array.from(g0, (_, i) => grads.reduce((s, x) => s + (x.n / 6) * x.g.get(k)![i], 0))]));
    const applied = local.applyGradients(avg);
    t.true(applied.gradNorm > 1e-3, `the clip is active (norm ${applied.gradNorm})`);
    t.true(Math.abs(res[0].gradNorm - applied.gradNorm) <= 1e-5 * applied.gradNorm, `step ${step}: norm ${res[0].gradNorm} vs ${applied.gradNorm}`);
  }
  const w3 = await Promise.all(zero3.map((l) => l.weights()));
  t.deepEqual(w3[1], w3[0]);
  t.deepEqual(w3[2], w3[0]);
  t.true(maxAbs(w3[0], local.weights()) < 1e-6, `max |ZeRO - reference| = ${maxAbs(w3[0], local.weights())}`);
});

test('a Trainer run with optimizer.zeroStage 1 writes full-state checkpoints and resumes exactly', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-zero-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'tiny-zero', seed: 4, totalSteps: 2, algorithm: 'grpo' });
  const y = YAML.parse(readFileSync(file, 'utf8'));
  y.optimizer.zeroStage = 1;
  y.checkpoint = { every: 1, keep: 0 };
  y.eval = { ...y.eval, before: false, after: false };
  writeFileSync(file, YAML.stringify(y));
  const { config, sha256 } = await loadTrainConfig(file);
  t.is(config.optimizer.zeroStage, 1);
  const { runDir } = await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }) }).run();
  const ckDir = path.join(runDir, 'checkpoints');
  const opt = decodeOptimizerState(readFileSync(path.join(ckDir, 'step-000002', 'optimizer.safetensors'))).state;
  const policy = decodeSafetensors(readFileSync(path.join(ckDir, 'step-000002', 'policy.safetensors')));
  let n = 0;
  for (const a of opt.m.values()) n += a.length;
  let p = 0;
  for (const x of policy.tensors.values()) p += x.data.length;
  t.is(n, p, 'the checkpoint holds the first moment of every parameter (both shards)');
  const sha = (f: string) => createHash('sha256').update(readFileSync(path.join(ckDir, 'step-000002', f))).digest('hex');
  const uninterrupted = [sha('policy.safetensors'), sha('optimizer.safetensors')];
  rmSync(path.join(ckDir, 'step-000002'), { recursive: true });
  writeFileSync(path.join(ckDir, 'latest'), 'step-000001\n');
  await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }), resume: true }).run();
  t.deepEqual([sha('policy.safetensors'), sha('optimizer.safetensors')], uninterrupted);
});
