// @cohort/runtime/bench: the runtime's benchmarks (used by `cohort bench runtime` and
// `cohort bench pipeline`); kept out of the library barrel.
export { runRuntimeBench, type RuntimeBenchResult, type RuntimeBenchOptions } from './runtime-bench.js';
export { runAllreduceBench, type AllreduceBenchResult, type AllreduceBenchOptions } from './allreduce-bench.js';
export { benchScheduler, type SchedulerBenchResult } from './scheduler-bench.js';
