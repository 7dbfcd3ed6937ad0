import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, encodeSafetensors, parseModelConfig } from '@cohort/engine';
import { createCollectiveGroup, init } from '@cohort/runtime';
import { CriticActor, CriticActorClass, parseAlgorithmParams, collate, getAlgorithm, optimizerSchema, rowTokens, rowsToResponse, selectRows, toAdvantageBatch, toValueBatch } from '../../actors/src/index.js';
import { makeTrajectory } from './helpers.js';

const cfg = parseModelConfig({
  model_type: 'qwen2', vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true,
});

function batch() {
  const trajs = [0, 1].flatMap((p) =>
    [0, 1].map((s) =>
      makeTrajectory({
        step: 1, promptIndex: p, sampleIndex: s, reward: s,
        prompt: [1, 2 + p, 3],
        segments: [{ by: 'policy', ids: [10 + s, 11] }, { by: 'env', ids: [40, 41, 42] }, { by: 'policy', ids: [12, 13 + p] }],
      }),
    ),
  );
  return collate(trajs, { padId: 0 });
}

/** Token-mean squared error of values against returns on policy tokens. */
function mse(values: Float32Array, returns: Float32Array, mask: Float32Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (s += (values[i] - returns[i]) ** 2), n++;
  return s / n;
}

test('data-parallel critics in worker processes fit PPO returns on a fixed batch, stay identical through the ring, and restore from their checkpoint', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-critic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  CausalLM.random(cfg, { seed: 5 }).save(dir);
  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  t.teardown(() => rt.shutdown());
  const params = parseAlgorithmParams('ppo', { kl: { coef: 0 }, criticLr: 0.02, valueClip: 0.5, gamma: 1, lambda: 0.95 });
  const spec = (rank: number) => ({ rank, worldSize: 2, modelDir: dir, params, optimizer: optimizerSchema.parse({ weightDecay: 0 }), microBatch: 4, seed: 11 });
  const critics = await Promise.all([0, 1].map((r) => rt.spawn(CriticActorClass, [spec(r)], { resources: { CPU: 0.5, GPU: 0.5 } })));
  await createCollectiveGroup(rt, { name: 'critics', members: critics });
  const b = batch();
  const rows = rowTokens(b);
  const valuesOf = async (i = 0) => rowsToResponse(b, await critics[i].values(rows));

  // Same seed, same warm start: both critics start identical; values are per token and not all zero.
  t.is(await critics[0].paramChecksum(), await critics[1].paramChecksum());
  const v0 = await valuesOf();
  t.deepEqual(v0, await valuesOf(1));
  t.true(v0.some((v) => v !== 0));
  // Fixed PPO targets from the initial values: GAE returns on policy tokens.
  const adv = getAlgorithm('ppo').computeAdvantages({ ...toAdvantageBatch(b), values: v0 }, { params, options: {} });
  const returns = adv.returns!;
  const before = mse(v0, returns, b.lossMask);
  t.true(before > 0.05, `initial error ${before}`);

  // Uneven shards (3 rows and 1 row) so the row weighting matters.
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    const old = await valuesOf();
    const shards = [[0, 1, 2], [3]].map((r) => {
      const s = selectRows(b, r);
      return toValueBatch(s, selectRows({ ...b, returns }, r).returns!, selectRows({ ...b, values: old }, r).values!);
    });
    const res = await Promise.all(critics.map((c, r) => c.trainStep(shards[r])));
    t.deepEqual(res.map((x) => x.updates), [step + 1, step + 1]);
    t.is(res[0].rows, 4);
    t.is(res[0].valueLoss, res[1].valueLoss, 'both critics report the all-reduced loss');
    t.is(res[0].gradNorm, res[1].gradNorm, 'both critics applied the same all-reduced gradient');
    t.true(Number.isFinite(res[0].valueLoss) && res[0].lr === 0.02);
    losses.push(res[0].valueLoss);
  }
  const sums = await Promise.all(critics.map((c) => c.paramChecksum()));
  t.is(sums[0], sums[1], 'critic parameters are identical after the updates');
  const after = mse(await valuesOf(), returns, b.lossMask);
  t.log(`value error on the fixed batch ${before.toFixed(4)} -> ${after.toFixed(4)}; value loss ${losses[0].toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}`);
  t.true(after < 0.5 * before, `values move toward the returns: error ${before} -> ${after}`);
  t.true(losses.at(-1)! < losses[0], `value loss ${losses[0]} -> ${losses.at(-1)}`);

  // Checkpoint: a fresh critic restored from critic 1's files has the same weights, values and next update.
  const files = await critics[1].checkpointFiles();
  t.is(files.updates, 20);
  const restored = new CriticActor(spec(0));
  t.not(restored.paramChecksum(), sums[0]);
  t.is(restored.restore(files.critic, files.criticOptimizer), 20);
  t.is(restored.paramChecksum(), sums[0]);
  t.deepEqual(rowsToResponse(b, await restored.values(rows)), await valuesOf(1));
  // A policy file (no value head) is refused with a message that says what it is not.
  const policyOnly = encodeSafetensors(CausalLM.load(dir).hfTensors(), { format: 'pt' });
  t.throws(() => new CriticActor(spec(0)).restore(policyOnly, files.criticOptimizer), { message: /lacks 'value_head\.(weight|bias)'.*not a critic checkpoint/ });
});
