// @cohort/engine/bench: the engine's benchmarks (used by `cohort bench engine`); kept out of the
// library barrel.
export { runEngineBench, benchAdamWUpdate, engineBenchOptionsSchema, type EngineBenchOptions, type EngineBenchReport, type GemmResult } from './engine-bench.js';
export { benchParamFeeding, type ParamFeedingReport } from './param-feed-bench.js';
