import type { PublishResult } from '../../learner/weight-publisher.js';
import type { JobActors } from '../job-actors.js';

/**
 * Stage "sync weights": learner 0 publishes `version` to the rollouts itself
 * (one shared-memory file for those on its node, the tensors over the bulk
 * path to the others); the driver only says which version and to whom.
 */
export async function syncWeights(actors: JobActors, version: number): Promise<PublishResult & { wallS: number }> {
  const t0 = performance.now();
  const r = await actors.learners[0].publishWeights(version, actors.rollouts);
  return { ...r, wallS: (performance.now() - t0) / 1000 };
}
