// @cohort/zerosearch/bench: search, simulator-serving and corpus benchmarks (used by
// `cohort bench zerosearch` and `cohort bench corpus`); kept out of the library barrel.
export { benchZeroSearch, type ZeroSearchBench } from './zerosearch-bench.js';
export { benchCorpus, type CorpusBench } from './corpus-bench.js';
