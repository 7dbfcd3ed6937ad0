import test from 'ava';
import { CausalLM, parseModelConfig, sftLoop } from '@cohort/engine';

const config = parseModelConfig({ model_type: 'qwen2', vocab_size: 40, hidden_size: 16, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32, rope_theta: 10000, rms_norm_eps: 1e-6, tie_word_embeddings: true });

test('sftLoop: one SftTrainer step per caller batch (steps numbered from 1), masked tokens learned, empty batches refused', async (t) => {
  const model = CausalLM.random(config, { seed: 2, threads: 1 });
  const row = { ids: [1, 2, 3, 4, 5, 6, 7, 8], mask: [0, 0, 1, 1, 1, 1, 1, 1] };
  const asked: number[] = [];
  const seen: number[] = [];
  const losses = await sftLoop(model, {
    steps: 12,
    batch: (step) => (asked.push(step), [row, row]),
    trainer: { optimizer: { lr: 3e-2 }, microBatchSize: 2 },
    onStep: (step) => seen.push(step),
  });
  t.deepEqual(asked, [...Array(12).keys()].map((i) => i + 1));
  t.deepEqual(seen, asked);
  t.is(losses.length, 12);
  t.true(losses[11] < losses[0] * 0.7, `${losses[0]} -> ${losses[11]}`);
  await t.throwsAsync(sftLoop(model, { steps: 1, batch: () => [], trainer: {} }), { message: /batch of step 1 is empty/ });
  await t.throwsAsync(sftLoop(model, { steps: -1, batch: () => [row], trainer: {} }), { message: /steps must be a non-negative integer/ });
  t.deepEqual(await sftLoop(model, { steps: 0, batch: () => [row], trainer: {} }), []);
  // A spent time budget starts no step.
  t.deepEqual(await sftLoop(model, { steps: 5, budgetS: 0, batch: () => [row], trainer: {} }), []);
  await model.release();
});
