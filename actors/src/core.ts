/**
 * The runtime-free part of @cohort/actors: config, algorithms, trajectories,
 * staleness, state and metrics (no ONNX Runtime, no worker processes). The
 * package exports it through its index only; the tests import this file
 * directly where loading the engine and runtime is not wanted.
 */
export * from './config/schema.js';
export * from './config/config-error.js';
export * from './config/load-config.js';
export * from './config/from-scratch.js';
export * from './algorithms/types.js';
export * from './algorithms/registry.js';
export * from './algorithms/params.js';
export * from './algorithms/describe.js';
export * from './algorithms/standard-loss.js';
export * from './algorithms/kl.js';
export * from './algorithms/masked-stats.js';
export * from './algorithms/token-rewards.js';
export { GRPO_EPS, groupAdvantages } from './algorithms/grpo.js';
export { ppoParamsSchema, criticParams, type PpoParams } from './algorithms/ppo.js';
export { overlongPenalty, type DapoParams } from './algorithms/dapo.js';
export { gspoLoss, type GspoParams } from './algorithms/gspo.js';
export { truncatedImportanceSampling } from './algorithms/tis.js';
import './algorithms/builtins.js';
export * from './trajectory/group-id.js';
export * from './trajectory/trajectory.js';
export * from './trajectory/trajectory-builder.js';
export * from './trajectory/collate.js';
export * from './trajectory/filter-groups.js';
export * from './trajectory/codec.js';
export * from './staleness/staleness.js';
export * from './state/data-loader.js';
export * from './state/checkpoint.js';
export * from './metrics/metrics-writer.js';
export * from './metrics/report.js';
export * from './metrics/results-table.js';
export { summarize, studentTCdf, studentTQuantile, type SampleSummary } from './metrics/stats.js';
export { experimentSchema, loadExperiment, ExperimentError, type Experiment, type ExperimentSpec, type Trial } from './experiment/experiment-spec.js';
export { experimentResults, type ArmResults, type Comparison, type ExperimentResults, type Figure } from './experiment/experiment-results.js';
export { experimentMarkdown, EXPERIMENT_PLOTS } from './experiment/experiment-markdown.js';
export * from './metrics/seeds-report.js';
