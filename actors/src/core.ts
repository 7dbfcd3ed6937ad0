/**
 * The runtime-free part of @cohort/actors: config, algorithms, trajectories,
 * staleness, state and metrics (no ONNX Runtime, no worker processes). Import
 * this module directly where loading the engine and runtime is not wanted.
 */
export * from './config/schema.js';
export * from './config/config-error.js';
export * from './config/load-config.js';
export * from './algorithms/types.js';
export * from './algorithms/registry.js';
export * from './algorithms/kl.js';
export * from './algorithms/masked-stats.js';
export * from './algorithms/token-rewards.js';
export * from './algorithms/loss-aggregation.js';
export * from './algorithms/policy-loss.js';
export { GRPO_EPS } from './algorithms/grpo.js';
import './algorithms/builtins.js';
export * from './trajectory/group-id.js';
export * from './trajectory/trajectory.js';
export * from './trajectory/trajectory-builder.js';
export * from './trajectory/collate.js';
export * from './trajectory/filter-groups.js';
export * from './trajectory/codec.js';
export * from './staleness/staleness.js';
export * from './state/prng.js';
export * from './state/data-loader.js';
export * from './state/checkpoint.js';
export * from './metrics/metrics-writer.js';
export * from './metrics/report.js';
export * from './metrics/results-table.js';
