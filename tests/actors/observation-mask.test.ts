// The masking ablation (issue 13): rollout.maskObservations false puts the inserted documents'
// tokens into the policy loss; the default keeps them out, as the paper does.
import test from 'ava';
import { collate, parseTrainConfig } from '../../actors/src/core.js';
import { unmaskedResponses } from '../../actors/src/trainer/stages/score.js';
import { makeTrajectory } from './helpers.js';

test('unmasked responses cover every response token, documents included, and no padding', (t) => {
  const a = makeTrajectory({ promptIndex: 0, reward: 1, segments: [{ by: 'policy', ids: [1, 2] }, { by: 'env', ids: [7, 7, 7] }, { by: 'policy', ids: [3] }] });
  const b = makeTrajectory({ promptIndex: 1, reward: 0, segments: [{ by: 'policy', ids: [4] }] });
  const batch = collate([a, b], { padId: 0 });
  t.deepEqual([...batch.lossMask], [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  t.deepEqual([...unmaskedResponses(batch)], [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
});

const base = {
  run: { name: 'm', totalSteps: 2 },
  checkpoint: { every: 0 },
  world: { kind: 'synthetic', size: 'tiny' },
  policy: { model: { config: { vocab_size: 320, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512 } }, tokenizer: { kind: 'world' } },
  simulator: { backend: 'template' },
  layout: { gpus: { kind: 'logical', count: 2 }, simulator: { bundles: 1 }, rl: { bundles: 1 } },
  eval: { splits: [{ name: 'single-hop', kind: 'single-hop' }] },
};

test('maskObservations defaults to true; false is refused with async importance correction, naming the fix', (t) => {
  t.true(parseTrainConfig(JSON.stringify(base)).rollout.maskObservations);
  t.false(parseTrainConfig(JSON.stringify({ ...base, rollout: { maskObservations: false } })).rollout.maskObservations);
  const err = t.throws(() => parseTrainConfig(JSON.stringify({ ...base, rollout: { maskObservations: false }, mode: { kind: 'async' } })));
  t.regex(err!.message, /rollout\.maskObservations: .*use mode\.kind sync/);
});
