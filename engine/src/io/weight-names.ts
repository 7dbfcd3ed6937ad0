import type { ModelConfig } from './model-config.js';

/** How one parameter is named, shaped and initialised. */
export interface ParamSpec {
  /** Hugging Face tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  readonly name: string;
  /** Shape as stored in an HF checkpoint (linear weights are [out, in]). */
  readonly hfShape: readonly number[];
  /** Shape in the graph (linear weights are [in, out] so that y = x·W). */
  readonly shape: readonly number[];
  /** True when the graph layout is the transpose of the HF layout. */
  readonly transposed: boolean;
  /** Initialisation: normal(0, std), ones (norm gains) or zeros (biases). */
  readonly init: 'normal' | 'ones' | 'zeros';
  /** Whether AdamW applies weight decay (not to norms and biases). */
  readonly decay: boolean;
}

/** Parameter list of a Qwen2/Llama decoder in a stable order, keyed by HF names. */
export function decoderParamSpecs(cfg: ModelConfig): ParamSpec[] {
  const H = cfg.hidden_size;
  const D = cfg.head_dim;
  const q = cfg.num_attention_heads * D;
  const kv = cfg.num_key_value_heads * D;
  const I = cfg.intermediate_size;
  const out: ParamSpec[] = [];
  const lin = (name: string, inDim: number, outDim: number): void => {
    out.push({ name, hfShape: [outDim, inDim], shape: [inDim, outDim], transposed: true, init: 'normal', decay: true });
  };
  const vec = (name: string, n: number, init: 'ones' | 'zeros'): void => {
    out.push({ name, hfShape: [n], shape: [n], transposed: false, init, decay: false });
  };
  out.push({ name: 'model.embed_tokens.weight', hfShape: [cfg.vocab_size, H], shape: [cfg.vocab_size, H], transposed: false, init: 'normal', decay: true });
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    vec(`${p}.input_layernorm.weight`, H, 'ones');
    lin(`${p}.self_attn.q_proj.weight`, H, q);
    if (cfg.attention_bias) vec(`${p}.self_attn.q_proj.bias`, q, 'zeros');
    lin(`${p}.self_attn.k_proj.weight`, H, kv);
    if (cfg.attention_bias) vec(`${p}.self_attn.k_proj.bias`, kv, 'zeros');
    lin(`${p}.self_attn.v_proj.weight`, H, kv);
    if (cfg.attention_bias) vec(`${p}.self_attn.v_proj.bias`, kv, 'zeros');
    lin(`${p}.self_attn.o_proj.weight`, q, H);
    vec(`${p}.post_attention_layernorm.weight`, H, 'ones');
    lin(`${p}.mlp.gate_proj.weight`, H, I);
    lin(`${p}.mlp.up_proj.weight`, H, I);
    lin(`${p}.mlp.down_proj.weight`, I, H);
  }
  vec('model.norm.weight', H, 'ones');
  if (!cfg.tie_word_embeddings) lin('lm_head.weight', H, cfg.vocab_size);
  return out;
}

/** Transposes a row-major [rows, cols] matrix into a new [cols, rows] array. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[base + c];
  }
  return dst;
}
