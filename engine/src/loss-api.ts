/**
 * What an RL algorithm's policy loss is written with: the graph ops and loss building blocks,
 * and the {@link PolicyLoss} interface the learners compile. This entry point loads no ONNX
 * Runtime (config validation and algorithm listings import it cheaply); the same names are
 * exported from `@cohort/engine`.
 */
export { Tensor, type Dim } from './graph/tensor.js';
export { add, sub, mul, div, minimum, maximum, pow } from './ops/elementwise.js';
export { neg, exp, log, sqrt, abs, sign, square, tanh, sigmoid, softplus, stopGradient } from './ops/unary.js';
export { less, lessOrEqual, greater, greaterOrEqual, equal, and, or, not } from './ops/compare.js';
export { where, cast, clip, maskedFill } from './ops/where.js';
export { sum, mean, max, min } from './ops/reduce.js';
export { fullLike, zerosLike, onesLike } from './ops/fill.js';
export { cumsum } from './ops/scan.js';
export { aggregate, seqSum, seqMean, klPenalty, ppoClipLoss, clippedSurrogate, AGGREGATIONS, KL_TYPES, type Aggregation, type KlType, type ClipSettings } from './train/losses.js';
export {
  ppoPolicyLoss,
  withRegularizers,
  policyLossOptionsSchema,
  POLICY_LOSS_FEEDS,
  type PolicyLoss,
  type PolicyLossInputs,
  type PolicyLossOutput,
  type PolicyLossOptions,
  type PolicyLossConfig,
  type Regularizers,
} from './train/policy-loss.js';
