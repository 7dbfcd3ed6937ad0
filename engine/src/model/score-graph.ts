import { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { div } from '../ops/elementwise.js';
import { reshape } from '../ops/shape.js';
import { logprobEntropy } from '../ops/logprob-entropy.js';
import type { ModelConfig } from '../io/model-config.js';
import { DIMS, declareDecoderInputs, declareParams, decoderTrunk, lmHead } from './decoder-graph.js';

/**
 * Per-position log-prob of `targets` [B, T] (int64) and entropy of the predictive distribution,
 * both [B, T], from flattened final hidden states [B·T, H]. Logits are divided by `temperature`.
 */
export function tokenLogprobs(cfg: ModelConfig, p: Map<string, Tensor>, hidden: Tensor, targets: Tensor, temperature = 1): { logprobs: Tensor; entropy: Tensor; logp: Tensor } {
  let logits = lmHead(cfg, p, hidden); // [N, V]
  if (temperature !== 1) logits = div(logits, temperature);
  // fused log-prob + entropy (one backward expression instead of the chain rule through each op)
  const r = logprobEntropy(logits, reshape(targets, [DIMS.tokens]));
  return { logprobs: reshape(r.logprobs, [DIMS.batch, DIMS.seq]), entropy: reshape(r.entropy, [DIMS.batch, DIMS.seq]), logp: r.logp };
}

/**
 * Scoring graph: inputs of the trunk plus `targets` [batch, seq] (the next token at each
 * position); outputs `logprobs` and `entropy` [batch, seq].
 */
export function buildScoreGraph(cfg: ModelConfig, temperature = 1): Graph {
  const g = new Graph('decoder_score');
  const p = declareParams(g, cfg);
  const inp = declareDecoderInputs(g, cfg, false);
  const targets = g.input('targets', 'int64', [DIMS.batch, DIMS.seq]);
  const { hidden } = decoderTrunk(g, cfg, p, inp);
  const { logprobs, entropy } = tokenLogprobs(cfg, p, hidden, targets, temperature);
  g.output('logprobs', logprobs);
  g.output('entropy', entropy);
  return g;
}
