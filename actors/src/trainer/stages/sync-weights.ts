import type { PublishResult } from '../../learner/weight-publisher.js';
import type { Job } from '../job-actors.js';

/**
 * Stage "sync weights": learner 0 publishes `version` to the rollouts itself
 * (one shared-memory file for those on its node, the tensors over the bulk
 * path to the others); the driver only says which version and to whom. A
 * rollout that died meanwhile misses it and is caught up before it generates.
 */
export async function syncWeights(job: Job, version: number): Promise<PublishResult & { wallS: number }> {
  const t0 = performance.now();
  const r = await job.learners.one('weight sync', 0, (le) => le.publishWeights(version, job.actors.rollouts));
  return { ...r, wallS: (performance.now() - t0) / 1000 };
}
