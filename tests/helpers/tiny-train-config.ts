import { writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TinyTrainConfigOptions {
  name: string;
  seed: number;
  totalSteps: number;
  algorithm: string;
  /** Extra YAML appended verbatim (e.g. a curriculum line, or a bad key). */
  extra?: string;
  /** Replaces the `layout:` block (YAML lines after `layout:`, indented). */
  layout?: string;
}

/**
 * Writes `<dir>/<name>.yaml`: the smallest training run that still exercises every
 * stage (world, warm start, eval before/after, RL on worker processes, checkpoints),
 * with runs and the warm-start cache inside `dir`. Returns the file path.
 */
export function writeTinyTrainConfig(dir: string, o: TinyTrainConfigOptions): string {
  const file = path.join(dir, `${o.name}.yaml`);
  writeFileSync(
    file,
    `run: { name: ${o.name}, seed: ${o.seed}, outDir: ${JSON.stringify(path.join(dir, 'runs'))}, totalSteps: ${o.totalSteps} }
world: { kind: synthetic, size: tiny }
policy:
  model: { config: { vocab_size: 320, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512 } }
simulator: { backend: template, batching: { maxBatch: 8, maxWaitMs: 5 } }
layout:
${o.layout ?? `  gpus: { kind: logical, count: 3 }
  simulator: { bundles: 1, cpusPerBundle: 0.5 }
  rl: { bundles: 2, cpusPerBundle: 0.5 }`}
algorithm: { name: ${o.algorithm} }
optimizer: { lr: 1.0e-3, warmupRatio: 0 }
batch: { promptsPerStep: 2, samplesPerPrompt: 2, miniBatch: 2, microBatch: 2 }
rollout: { maxTurns: 1, topk: 3, maxNewTokensPerTurn: 4, observationTokenCap: 32, contextWindow: 400 }
warmStart: { sftSteps: 1, lr: 1.0e-3, batchSize: 2, cacheDir: ${JSON.stringify(path.join(dir, 'cache'))} }
checkpoint: { every: 2, keep: 0 }
eval:
  splits:
    - { name: single-hop, kind: single-hop, maxQuestions: 2 }
    - { name: two-hop, kind: multi-hop, maxQuestions: 2 }
${o.extra ?? ''}`,
  );
  return file;
}
