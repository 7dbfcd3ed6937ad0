import { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { reshape } from '../ops/shape.js';
import { neg } from '../ops/unary.js';
import { grad } from '../autodiff/grad.js';
import type { ModelConfig } from '../io/model-config.js';
import { DIMS, declareDecoderInputs, declareParams, decoderTrunk } from '../model/decoder-graph.js';
import { tokenLogprobs } from '../model/score-graph.js';
import { aggregate, clippedValueLoss, type BasicAggregation } from './losses.js';
import { declarePolicyLossInputs, emitPolicyLoss, type PolicyLoss } from './policy-loss.js';

/** Output name of the gradient of parameter `name`. */
export const gradName = (name: string): string => `grad.${name}`;

/** Names of the value head's parameters (not part of the LM checkpoint). */
export const VALUE_HEAD = { weight: 'value_head.weight', bias: 'value_head.bias' } as const;

function perToken(g: Graph, name: string): Tensor {
  return g.input(name, 'float32', [DIMS.batch, DIMS.seq]);
}

function emitGrads(g: Graph, loss: Tensor, params: Tensor[]): void {
  const grads = grad(loss, params);
  params.forEach((p, i) => g.output(gradName(p.name), grads[i]));
}

function finish(g: Graph, loss: Tensor, params: Tensor[]): void {
  g.output('loss', loss);
  emitGrads(g, loss, params);
}

/**
 * Policy-gradient training graph: the decoder trunk and log-prob head feed `loss` (a
 * {@link PolicyLoss}, compiled in). Inputs: trunk inputs, `targets` [B,T] (next token at each
 * position), and per-target `loss_mask`, `advantages`, `old_logprobs`, `ref_logprobs`,
 * `rollout_logprobs` [B,T]. Outputs: `loss`, the loss's scalar metrics, `logprobs`,
 * `entropy` [B,T], and `grad.<param>` for every parameter.
 */
export function buildPolicyGraph(cfg: ModelConfig, loss: PolicyLoss): Graph {
  const g = new Graph('policy_loss');
  const p = declareParams(g, cfg);
  const inp = declareDecoderInputs(g, cfg, false);
  const targets = g.input('targets', 'int64', [DIMS.batch, DIMS.seq]);
  const { hidden } = decoderTrunk(g, cfg, p, inp);
  const { logprobs, entropy } = tokenLogprobs(cfg, p, hidden, targets);
  const x = declarePolicyLossInputs(g, logprobs, entropy, [DIMS.batch, DIMS.seq]);
  const l = emitPolicyLoss(g, loss, x);
  g.output('logprobs', logprobs);
  g.output('entropy', entropy);
  emitGrads(g, l, [...p.values()]);
  return g;
}

/**
 * SFT graph: masked cross-entropy of `targets` under `loss_mask`. Outputs `loss`, `logprobs`,
 * and gradients.
 */
export function buildSftGraph(cfg: ModelConfig, aggregation: BasicAggregation = 'token-mean'): Graph {
  const g = new Graph('sft_loss');
  const p = declareParams(g, cfg);
  const inp = declareDecoderInputs(g, cfg, false);
  const targets = g.input('targets', 'int64', [DIMS.batch, DIMS.seq]);
  const mask = perToken(g, 'loss_mask');
  const { hidden } = decoderTrunk(g, cfg, p, inp);
  const { logprobs } = tokenLogprobs(cfg, p, hidden, targets);
  g.output('logprobs', logprobs);
  finish(g, aggregate(neg(logprobs), mask, aggregation), [...p.values()]);
  return g;
}

/**
 * Critic graph: the decoder trunk plus a linear value head (`value_head.weight` [H,1],
 * `value_head.bias` [1]) giving `values` [B,T]. Inputs `loss_mask`, `returns`, `old_values`
 * [B,T]. Outputs `loss` (clipped value loss), `values`, gradients (LM parameters the values
 * do not depend on, such as an untied lm_head, get zeros).
 */
export function buildValueGraph(cfg: ModelConfig, clipRange: number | null, aggregation: BasicAggregation = 'token-mean'): Graph {
  const g = new Graph('value_loss');
  const p = declareParams(g, cfg);
  const w = g.param(VALUE_HEAD.weight, [cfg.hidden_size, 1]);
  const b = g.param(VALUE_HEAD.bias, [1]);
  const inp = declareDecoderInputs(g, cfg, false);
  const mask = perToken(g, 'loss_mask');
  const returns = perToken(g, 'returns');
  const oldV = perToken(g, 'old_values');
  const { hidden } = decoderTrunk(g, cfg, p, inp);
  const values = reshape(add(matmul(hidden, w), b), [DIMS.batch, DIMS.seq]);
  g.output('values', values);
  const params = [...p.values(), w, b].filter((t) => !(cfg.tie_word_embeddings === false && t.name === 'lm_head.weight'));
  finish(g, aggregate(clippedValueLoss(values, oldV, returns, clipRange), mask, aggregation), params);
  return g;
}
