import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, Tokenizer, parseModelConfig } from '@cohort/engine';
import { init } from '@cohort/runtime';
import { makeDataset, CORRECTIVE_MESSAGE, ZEROSEARCH_TAGS } from '@cohort/zerosearch';
import { RolloutActorClass, SimulatorActorClass, checkGroups, collate, decodeTrajectories, rolloutWithRecovery } from '../../actors/src/index.js';

test('rollout actor in a worker: trajectories with masks, versions and unique groups; new weights reach it by version', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-rollout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = makeDataset({ size: 'tiny', seed: 5 });
  const tok = Tokenizer.train(ds.corpus.map((d) => d.text).slice(0, 200), { vocabSize: 400, addedTokens: [...ZEROSEARCH_TAGS] });
  const tokPath = path.join(dir, 'tokenizer.json');
  tok.save(tokPath);
  const cfg = parseModelConfig({
    model_type: 'qwen2', vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
    num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 1024, tie_word_embeddings: true,
  });
  const model = CausalLM.random(cfg, { seed: 1 });
  const modelDir = path.join(dir, 'policy');
  model.save(modelDir);

  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  t.teardown(() => rt.shutdown());
  const sim = await rt.spawn(SimulatorActorClass, [{ index: 0, backend: { kind: 'template', world: { size: 'tiny', seed: 5 } }, batching: { maxBatch: 8, maxWaitMs: 5 } }], { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: 64 });
  const rollout = await rt.spawn(RolloutActorClass, [{ index: 0, modelDir, tokenizer: tokPath, simulators: [sim] }], { resources: { CPU: 0.5, GPU: 0.3 }, maxRestarts: 2 });
  const prompts = ds.train.slice(0, 2).map((q, i) => ({ promptIndex: i, question: q.question, answers: [...q.goldenAnswers], dataSource: `hops-${q.steps.length}` }));
  const opts = { step: 4, samplesPerPrompt: 2, maxTurns: 1, maxNewTokensPerTurn: 6, observationTokenCap: 64, contextWindow: 512, temperature: 1, topP: 0.95, noiseP: 0.5, seed: 9 };
  const first = await rollout.rollout(prompts, opts);
  const trajs = decodeTrajectories(first.trajectories);
  t.is(trajs.length, 4);
  t.deepEqual(trajs.map((x) => x.groupId), ['4:0', '4:0', '4:1', '4:1']);
  t.is(new Set(trajs.map((x) => x.id)).size, 4);
  t.notThrows(() => checkGroups(trajs));
  const corrective = tok.encode(CORRECTIVE_MESSAGE);
  for (const x of trajs) {
    for (let i = 0; i < x.responseIds.length; i++) {
      if (x.lossMask[i] === 1) t.is(x.policyVersions[i], 0);
      else t.is(x.policyVersions[i], -1);
    }
    t.is(x.lossMask[x.lossMask.length - 1], 1, 'the response ends on a policy token (the reward token)');
    // A random policy gives no valid action, so a corrective message (environment tokens) follows its first turn.
    if (!x.answered && x.turns === 2) {
      const envIds = Array.from(x.responseIds).filter((_, i) => x.lossMask[i] === 0);
      t.deepEqual(envIds.slice(0, corrective.length), corrective);
    }
    t.true(x.reward! >= 0 && x.reward! <= 1);
  }
  const batch = collate(trajs, { padId: tok.padTokenId ?? 0 });
  t.is(batch.batchSize, 4);

  // Publish version 3 weights: the next rollout records version 3 on every policy token.
  const fresh = CausalLM.random(cfg, { seed: 2 });
  t.is(await rollout.setWeights(3, fresh.params), 3);
  const second = decodeTrajectories((await rollout.rollout(prompts.slice(0, 1), { ...opts, step: 5, samplesPerPrompt: 1 })).trajectories);
  t.true(second.every((x) => Array.from(x.policyVersions).every((v, i) => (x.lossMask[i] ? v === 3 : v === -1))));
  await t.throwsAsync(rollout.setWeights(2, fresh.params), { message: /older than the loaded 3/ });

  // A rollout worker killed mid-call is restarted; its prompts are redone with the current weights,
  // and no trajectory is lost or counted twice.
  const retries: string[] = [];
  // A long call (two turns of up to 64 tokens), killed soon after it was sent, so the kill always lands mid-call.
  const call = rolloutWithRecovery(rollout, prompts, { ...opts, step: 6, maxTurns: 2, maxNewTokensPerTurn: 64 }, { version: 3, weights: async () => fresh.params, onRetry: (r) => retries.push(r) });
  await new Promise((r) => setTimeout(r, 30));
  await rollout.$kill({ noRestart: false });
  const redone = decodeTrajectories((await call).trajectories);
  t.deepEqual(redone.map((x) => x.id).sort(), ['6:0#0', '6:0#1', '6:1#0', '6:1#1']);
  t.notThrows(() => checkGroups(redone));
  t.true(redone.every((x) => Array.from(x.policyVersions).every((v, i) => (x.lossMask[i] ? v === 3 : v === -1))));
  t.true((await rollout.$info())!.restarts >= 1, 'the worker was restarted');
  t.true(retries.length >= 1, 'the rollout was redone');
});
