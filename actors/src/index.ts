/**
 * @cohort/actors — ZeroSearch training: the runtime-free building blocks
 * (re-exported from ./core.js) and the actors that run on @cohort/runtime.
 */
export * from './core.js';
export * from './simulator/dynamic-batcher.js';
export * from './simulator/managed-server.js';
export * from './simulator/managed-generator.js';
export * from './simulator/simulator-actor.js';
export * from './simulator/simulator-pool.js';
export * from './rollout/policy-rollout.js';
export * from './rollout/rollout-actor.js';
export * from './rollout/rollout-recovery.js';
export * from './learner/engine-batch.js';
export * from './learner/learner-actor.js';
export * from './learner/weight-publisher.js';
export * from './learner/weight-sync-bench.js';
export * from './learner/param-checksum.js';
export * from './learner/reference-actor.js';
export * from './learner/critic-actor.js';
export * from './trainer/supervised.js';
export * from './trainer/setup.js';
export * from './trainer/evaluate.js';
export * from './trainer/eval-engine.js';
export * from './trainer/trainer.js';
export { runExperiment, finishedTrial, type TrialResult, type RunExperimentOptions } from './experiment/experiment-runner.js';
export * from './trainer/base-policy.js';
export * from './trainer/plan.js';
export * from './trainer/layout.js';
export { StalenessGuard, StalenessGuardError } from './trainer/stages/staleness-guard.js';
export type { JobActors } from './trainer/job-actors.js';
export * from './trainer/gpu-inventory.js';
export * from './trainer/memory-plan.js';
