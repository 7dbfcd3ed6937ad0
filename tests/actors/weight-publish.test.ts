import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, Tokenizer, parseModelConfig } from '@cohort/engine';
import { init } from '@cohort/runtime';
import { makeDataset, ZEROSEARCH_TAGS } from '@cohort/zerosearch';
import { LearnerActorClass, RolloutActorClass, SimulatorActorClass, parseAlgorithmParams, collate, getAlgorithm, optimizerSchema, sharedMemoryDir, toAdvantageBatch, WeightPublisher, toPolicyBatch } from '../../actors/src/index.js';
import { makeTrajectory } from './helpers.js';

test('learner 0 publishes versioned weights: rollouts on its node read a shared-memory file (old versions removed), the bulk path reaches the rest', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-publish-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = makeDataset({ size: 'tiny', seed: 5 });
  const tok = Tokenizer.train(ds.corpus.map((d) => d.text).slice(0, 100), { vocabSize: 300, addedTokens: [...ZEROSEARCH_TAGS] });
  const tokPath = path.join(dir, 'tokenizer.json');
  tok.save(tokPath);
  const cfg = parseModelConfig({
    model_type: 'qwen2', vocab_size: tok.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, tie_word_embeddings: true,
  });
  const modelDir = path.join(dir, 'policy');
  CausalLM.random(cfg, { seed: 3 }).save(modelDir);
  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  t.teardown(() => rt.shutdown());
  const sim = await rt.spawn(SimulatorActorClass, [{ index: 0, backend: { kind: 'template', world: { size: 'tiny', seed: 5 } }, batching: { maxBatch: 8, maxWaitMs: 5 } }], { resources: { CPU: 0.2 } });
  const learner = await rt.spawn(LearnerActorClass, [{
    rank: 0, worldSize: 1, modelDir,
    algorithm: { name: 'grpo', params: parseAlgorithmParams('grpo', { kl: { coef: 0 } }) },
    optimizer: optimizerSchema.parse({ lr: 0.05, warmupRatio: 0 }),
    totalUpdates: 4, microBatch: 4,
  }], { resources: { CPU: 0.2 } });
  const rollouts = await Promise.all([0, 1].map((i) => rt.spawn(RolloutActorClass, [{ index: i, modelDir, tokenizer: tokPath, simulators: [sim] }], { resources: { CPU: 0.2 } })));
  const trajs = [0, 1].map((s) => makeTrajectory({ step: 1, promptIndex: 0, sampleIndex: s, reward: s, prompt: [1, 2, 3], segments: [{ by: 'policy', ids: [10 + s, 11, 12] }] }));
  const b = collate(trajs, { padId: 0 });
  const adv = getAlgorithm('grpo').computeAdvantages(toAdvantageBatch(b), { params: parseAlgorithmParams('grpo', {}), options: {} }).advantages;
  const pb = toPolicyBatch(b, { advantages: adv, oldLogprobs: b.oldLogprobs });
  const update = async () => (await learner.applyGradients((await learner.gradients(pb)).grads)).version;

  const initial = await rollouts[0].paramChecksum();
  t.is(await update(), 1);
  await t.throwsAsync(learner.publishWeights(5, rollouts), { message: /holds version 1, not 5/ });
  // Same node (the local runtime has one): shared memory.
  const r1 = await learner.publishWeights(1, rollouts);
  t.like(r1, { version: 1, shm: 2, bulk: 0 });
  t.true(r1.bytes > 4 * cfg.vocab_size * cfg.hidden_size);
  const want1 = await learner.paramChecksum();
  t.not(want1, initial);
  t.deepEqual(await Promise.all(rollouts.map((r) => r.paramChecksum())), [want1, want1]);
  t.deepEqual(await Promise.all(rollouts.map((r) => r.version())), [1, 1]);
  const file1 = (await learner.closePublisher())[0];
  t.is(path.dirname(file1), sharedMemoryDir());
  t.false(existsSync(file1), 'closePublisher removes the file');
  const r1b = await learner.publishWeights(1, rollouts);
  t.is(r1b.shm, 2);
  t.true(existsSync(file1));

  // Version 2 over the bulk path (as for rollouts on other machines): the version-1 file is gone.
  t.is(await update(), 2);
  const r2 = await learner.publishWeights(2, rollouts, 'bulk');
  t.like(r2, { version: 2, shm: 0, bulk: 2 });
  const want2 = await learner.paramChecksum();
  t.deepEqual(await Promise.all(rollouts.map((r) => r.paramChecksum())), [want2, want2]);
  t.false(existsSync(file1), 'the older version was removed once every rollout had the new one');
  // A restarted rollout is brought back to the last published version from the learner.
  t.is((await learner.publishedWeights(2)).size, (await learner.weights()).size);
  await t.throwsAsync(learner.publishedWeights(1), { message: /version 1 were not the last published \(last: 2\)/ });

  // Version 3 by shared memory again; the file of a killed learner is swept by the next publisher.
  t.is(await update(), 3);
  await learner.publishWeights(3, rollouts);
  const file3 = path.join(path.dirname(file1), path.basename(file1).replace('-v1.', '-v3.'));
  t.true(existsSync(file3));
  await t.throwsAsync(rollouts[0].loadWeightsFile(2, file3), { message: /older than the loaded 3/ });
  await learner.$kill();
  const end = Date.now() + 5000;
  while ((await learner.$info())?.state !== 'dead' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const other = new WeightPublisher('next', 'local');
  t.teardown(() => other.close());
  t.false(existsSync(file3), 'the next publisher removed the file of the killed one');
});
