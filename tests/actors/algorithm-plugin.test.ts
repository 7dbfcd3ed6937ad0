// The example in docs/ALGORITHMS.md is a real plug-in file: the doc shows it verbatim, its
// loss's gradient matches the closed form, and a learner that imports it trains with it.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, PolicyLossEvaluator, parseModelConfig } from '@cohort/engine';
import { LearnerActor, collate, getAlgorithm, listAlgorithms, optimizerSchema, paramsSchemaOf, toAdvantageBatch, toPolicyBatch, rowsToResponse, rowTokens } from '../../actors/src/index.js';
import { lcg, makeTrajectory } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const pluginFile = path.join(root, 'actors/src/algorithms/examples/cispo.ts');

test.serial('docs/ALGORITHMS.md shows the example plug-in file verbatim', (t) => {
  const doc = readFileSync(path.join(root, 'docs/ALGORITHMS.md'), 'utf8');
  const m = /<!-- example: actors\/src\/algorithms\/examples\/cispo\.ts -->\n```ts\n([\s\S]*?)```/.exec(doc);
  t.truthy(m, 'the doc has the marked example block');
  t.is(m![1], readFileSync(pluginFile, 'utf8'), 'the block is the file, byte for byte (edit the file, then paste it into the doc)');
  // The doc's table lists every built-in algorithm.
  for (const a of listAlgorithms()) if (a.name !== 'cispo' && a.name !== 'rloo') t.true(doc.includes(`| \`${a.name}\` |`), `table row for ${a.name}`);
});

const cfg = parseModelConfig({
  model_type: 'qwen2', vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true,
});

function batch() {
  const trajs = [0, 1].flatMap((p) =>
    [0, 1, 2].map((s) =>
      makeTrajectory({
        step: 1, promptIndex: p, sampleIndex: s, reward: (p + s) % 3 === 0 ? 1 : 0.25 * s,
        prompt: [1, 2 + p, 3],
        segments: [{ by: 'policy', ids: [10 + s, 11, 20 + p] }, { by: 'env', ids: [40, 41] }, { by: 'policy', ids: [12, 13 + s] }],
      }),
    ),
  );
  return collate(trajs, { padId: 0 });
}

test.serial('a learner imports the plug-in, compiles its loss, and trains with it: loss and gradient are the plug-in\'s', async (t) => {
  t.false(listAlgorithms().some((a) => a.name === 'cispo'), 'not registered before the learner needs it');
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  CausalLM.random(cfg, { seed: 9, std: 0.3 }).save(dir);
  const learner = (name: string, params: Record<string, unknown>) =>
    new LearnerActor({ rank: 0, worldSize: 1, modelDir: dir, algorithm: { name, params: params as never, plugins: [pluginFile] }, optimizer: optimizerSchema.parse({ lr: 0.01, warmupRatio: 0 }), totalUpdates: 4, microBatch: 8 });
  // The worker's path: the name is not registered, so the learner imports algorithm.plugins first.
  const cispo = learner('cispo', { epochs: 1, filterGroups: false, clipRatioHigh: 0.1, kl: { estimator: 'k3', coef: 0, clamp: 10 }, entropyCoef: 0 });
  const b = batch();
  // Old log-probs off the current policy, so some ratios pass the cap 1.1.
  const cur = rowsToResponse(b, await cispo.score(rowTokens(b)));
  const rnd = lcg(5);
  const old = Float32Array.from(cur, (x, i) => (b.lossMask[i] ? x + (rnd() - 0.5) * 0.8 : 0));
  await cispo.policyLoss();
  t.true(listAlgorithms().some((a) => a.name === 'cispo'), 'the learner registered it');
  const def = getAlgorithm('cispo');
  const params = paramsSchemaOf(def).parse({ clipRatioHigh: 0.1, kl: { coef: 0 } });
  const adv = def.computeAdvantages(toAdvantageBatch(b), { params, options: {} }).advantages;
  const pb = toPolicyBatch(b, { advantages: adv, oldLogprobs: old });
  const g = await cispo.gradients(pb);
  // Closed form of the plug-in's loss from the model's own log-probs: token-mean of −min(ρ, 1.1)·A·logp.
  let loss = 0;
  let n = 0;
  let capped = 0;
  for (let i = 0; i < cur.length; i++) {
    if (!b.lossMask[i]) continue;
    const r = Math.exp(cur[i] - old[i]);
    loss += -Math.min(r, 1.1) * adv[i] * cur[i];
    if (r > 1.1) capped++;
    n++;
  }
  t.true(Math.abs(g.loss - loss / n) < 1e-4, `learner loss ${g.loss} vs closed form ${loss / n}`);
  t.true(Math.abs(g.metrics.cispo_capped_frac - capped / n) < 1e-6, 'the plug-in\'s own metric comes back from the learner');
  t.true(capped > 0 && capped < n);
  // The same batch under GRPO's PPO-clip loss gives another gradient: the loss that trains is the plug-in's.
  const grpo = learner('grpo', { kl: { coef: 0 }, entropyCoef: 0 });
  const gg = await grpo.gradients(pb);
  const name = 'model.embed_tokens.weight';
  const diff = g.grads.get(name)!.reduce((s, x, i) => s + Math.abs(x - gg.grads.get(name)![i]), 0);
  t.true(diff > 1e-4, `gradients differ (L1 ${diff})`);
  const before = cispo.paramChecksum();
  cispo.applyGradients(g.grads);
  t.not(cispo.paramChecksum(), before);
});

test.serial('the plug-in\'s gradient: ∂loss/∂logp_t = −min(ρ_t, 1 + ε_high)·A_t / tokens, capped tokens included', async (t) => {
  const { algorithmPolicyLoss, loadAlgorithmPlugins, parseAlgorithmParams } = await import('../../actors/src/index.js');
  await loadAlgorithmPlugins([pluginFile], '/');
  const loss = algorithmPolicyLoss(getAlgorithm('cispo'), parseAlgorithmParams('cispo', { clipRatioHigh: 0.2 }));
  const rnd = lcg(8);
  const N = 12;
  const logprobs = Float32Array.from({ length: N }, () => -0.5 - rnd());
  const oldLogprobs = Float32Array.from(logprobs, (x) => x + (rnd() - 0.5));
  const advantages = Float32Array.from({ length: N }, () => rnd() - 0.5);
  const mask = Float32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? 0 : 1));
  const ev = await PolicyLossEvaluator.create(loss);
  t.teardown(() => ev.release());
  const r = await ev.run({ batchSize: 3, seqLength: 4, logprobs, oldLogprobs, advantages, mask });
  const tokens = mask.reduce((s, m) => s + m, 0);
  for (let i = 0; i < N; i++) {
    const w = Math.min(Math.exp(logprobs[i] - oldLogprobs[i]), 1.2);
    t.true(Math.abs(r.dLogprobs[i] - (mask[i] ? (-w * advantages[i]) / tokens : 0)) < 1e-6, `token ${i}`);
  }
});
