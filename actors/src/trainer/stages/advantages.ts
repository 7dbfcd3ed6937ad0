import { responseTokenBudget } from '../../algorithms/params.js';
import { getAlgorithm } from '../../algorithms/registry.js';
import type { TrainConfig } from '../../config/schema.js';
import { informativeRows } from '../../trajectory/filter-groups.js';
import { toAdvantageBatch, type CollatedBatch } from '../../trajectory/collate.js';

/**
 * Stage "advantages": the configured algorithm's estimator fills
 * `batch.advantages` (and `batch.returns`, the critic's targets, when it has a
 * critic). Returns the rows the update uses: all of them, or only those with
 * a non-zero advantage under `algorithm.params.filterGroups`.
 */
export function advantages(config: TrainConfig, batch: CollatedBatch, withCritic: boolean): number[] {
  const def = getAlgorithm(config.algorithm.name);
  const adv = def.computeAdvantages(toAdvantageBatch(batch), { params: config.algorithm.params, options: config.algorithm.options, maxResponseTokens: responseTokenBudget(config.rollout) });
  batch.advantages = adv.advantages;
  if (withCritic) {
    if (!adv.returns) throw new Error(`algorithm "${def.name}" needs a critic but returned no returns (value targets) from computeAdvantages`);
    batch.returns = adv.returns;
  }
  return config.algorithm.params.filterGroups ? informativeRows(batch) : Array.from({ length: batch.batchSize }, (_, i) => i);
}
