// @cohort/cluster/bench: cluster benchmarks (used by `cohort bench cluster` and
// `cohort bench ports`) and their target actor; kept out of the library barrel.
export { runClusterBench, type ClusterBenchResult, type ClusterBenchOptions } from './cluster-bench.js';
export { runPortJunkBench, type PortJunkResult, type PortJunkRow, type PortJunkOptions } from './port-junk-bench.js';
export { ClusterBenchTarget, ClusterBenchTargetActor } from './bench-actors.js';
