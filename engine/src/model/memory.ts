import type { ModelConfig } from '../io/model-config.js';
import { decoderParamSpecs } from '../io/weight-names.js';

/**
 * Memory arithmetic of the decoder, in bytes, for planning what fits on a device. Every graph
 * here computes in float32 and takes float32 parameters on every provider (a bf16 checkpoint is
 * widened on load), so weights, gradients and AdamW moments are 4 bytes an element.
 * Activation figures are estimates of what the graphs keep alive, not measurements: the engine
 * bench measured the CPU process's peak RSS at 2.0–2.3× the training estimate (ORT's arena,
 * workspace and copies), see engine/README.md.
 */

/** Parameters of a config (tied embeddings counted once). */
export function paramCount(cfg: ModelConfig): number {
  return decoderParamSpecs(cfg).reduce((n, s) => n + s.shape.reduce((a, d) => a * d, 1), 0);
}

/** float32 bytes of the weights (= the gradients). */
export function weightBytes(cfg: ModelConfig): number {
  return 4 * paramCount(cfg);
}

/** AdamW state: the first and second moments, float32. */
export function adamWStateBytes(cfg: ModelConfig): number {
  return 8 * paramCount(cfg);
}

/**
 * Activations a training step (forward + backward in one graph) keeps for `batch` sequences
 * of `seq` tokens: per token and layer the norm/residual values, q/k/v and their roped copies,
 * the attention output, the MLP's gate/up/silu/product, and the attention scores and
 * probabilities (heads × seq each: the part that grows with the square of the context), plus
 * the logits path (logits, log-softmax, probabilities: 3 × vocab per token).
 */
export function activationBytes(cfg: ModelConfig, batch: number, seq: number): number {
  const tokens = batch * seq;
  const H = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const q = cfg.num_attention_heads * cfg.head_dim;
  const kv = cfg.num_key_value_heads * cfg.head_dim;
  const perLayer = 4 * H + 2 * (q + 2 * kv) + q + 4 * I + 2 * cfg.num_attention_heads * seq;
  const head = 3 * cfg.vocab_size;
  return 4 * tokens * (cfg.num_hidden_layers * perLayer + head + 2 * H);
}

/**
 * Peak activations of a forward-only pass (scoring: log-probs of every position) over `batch`
 * sequences of `seq` tokens: ONNX Runtime frees each intermediate after its last use, so one
 * layer's working set (hidden states, q/k/v, MLP, scores + probabilities) plus the logits path.
 */
export function forwardActivationBytes(cfg: ModelConfig, batch: number, seq: number, logitsRows = batch * seq): number {
  const tokens = batch * seq;
  const H = cfg.hidden_size;
  const q = cfg.num_attention_heads * cfg.head_dim;
  const kv = cfg.num_key_value_heads * cfg.head_dim;
  const layer = 4 * H + q + 2 * kv + 2 * cfg.intermediate_size + 2 * cfg.num_attention_heads * seq;
  return 4 * (tokens * layer + logitsRows * 3 * cfg.vocab_size);
}

/** KV cache of `batch` sequences of `seq` tokens: K and V per layer, [batch, kv heads, seq, head dim], float32. */
export function kvCacheBytes(cfg: ModelConfig, batch: number, seq: number): number {
  return 4 * 2 * cfg.num_hidden_layers * batch * cfg.num_key_value_heads * cfg.head_dim * seq;
}
