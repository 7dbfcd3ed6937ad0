import { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { reshape, transpose } from '../ops/shape.js';
import { softmax } from '../ops/softmax.js';
import { rmsNorm, silu } from '../ops/nn.js';
import { gather } from '../ops/gather.js';
import { concat } from '../ops/concat-slice.js';
import type { ModelConfig } from '../io/model-config.js';
import { decoderParamSpecs } from '../io/weight-names.js';

/** Symbolic dim names used by every decoder graph. */
export const DIMS = { batch: 'batch', seq: 'seq', past: 'past', total: 'total', tokens: 'tokens', rows: 'rows' } as const;

/** Graph inputs of the decoder trunk (all prepared in JS, see model-inputs.ts). */
export interface DecoderInputs {
  /** int64 [batch·seq] (flattened row-major, so linear layers see one named `tokens` dim) */
  inputIds: Tensor;
  /** float32 [batch, 1, rep·seq, total | seq]: 0 where a query may attend a key, -1e9 elsewhere. */
  attnBias: Tensor;
  /** float32 [batch, 1, seq, head_dim] cos / sin of the rotary angles (halves duplicated). */
  ropeCos: Tensor;
  ropeSin: Tensor;
  /** Per layer past keys/values [batch, kv_heads, past, head_dim] (decode graphs only). */
  past?: { k: Tensor; v: Tensor }[];
}

/** What the trunk returns. */
export interface DecoderOutputs {
  /** Final-norm hidden states, flattened to [batch·seq, hidden]. */
  hidden: Tensor;
  /** Per layer keys/values including the new positions [batch, kv_heads, total, head_dim]. */
  present: { k: Tensor; v: Tensor }[];
}

/** Declares the model parameters (HF names, graph layout) on `g`. */
export function declareParams(g: Graph, cfg: ModelConfig): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const s of decoderParamSpecs(cfg)) m.set(s.name, g.param(s.name, [...s.shape]));
  return m;
}

/** Declares the standard decoder inputs (with past K/V inputs when `withPast`). */
export function declareDecoderInputs(g: Graph, cfg: ModelConfig, withPast: boolean): DecoderInputs {
  const D = cfg.head_dim;
  const rep = cfg.num_attention_heads / cfg.num_key_value_heads;
  const inputIds = g.input('input_ids', 'int64', [DIMS.tokens]);
  // Key axis: 'total' (= past + seq) with a KV cache, 'seq' without.
  const attnBias = g.input('attn_bias', 'float32', [DIMS.batch, 1, rep === 1 ? DIMS.seq : DIMS.rows, withPast ? DIMS.total : DIMS.seq]);
  const ropeCos = g.input('rope_cos', 'float32', [DIMS.batch, 1, DIMS.seq, D]);
  const ropeSin = g.input('rope_sin', 'float32', [DIMS.batch, 1, DIMS.seq, D]);
  let past: { k: Tensor; v: Tensor }[] | undefined;
  if (withPast) {
    past = [];
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      past.push({
        k: g.input(`past_key.${l}`, 'float32', [DIMS.batch, cfg.num_key_value_heads, DIMS.past, D]),
        v: g.input(`past_value.${l}`, 'float32', [DIMS.batch, cfg.num_key_value_heads, DIMS.past, D]),
      });
    }
  }
  return { inputIds, attnBias, ropeCos, ropeSin, past };
}

/** The D×D matrix R with x·R = rotate_half(x) = concat(-x[D/2:], x[:D/2]). */
export function rotateHalfMatrix(D: number): Float32Array {
  const r = new Float32Array(D * D);
  const h = D / 2;
  for (let j = 0; j < h; j++) r[(j + h) * D + j] = -1;
  for (let j = h; j < D; j++) r[(j - h) * D + j] = 1;
  return r;
}

/**
 * The decoder trunk: embeddings → N × (RMSNorm, GQA causal attention with RoPE, RMSNorm, SwiGLU)
 * → final RMSNorm. Linear layers run on the flattened [batch·seq, hidden] matrix so each one is
 * a single GEMM forward and backward.
 */
export function decoderTrunk(g: Graph, cfg: ModelConfig, p: Map<string, Tensor>, inp: DecoderInputs): DecoderOutputs {
  const H = cfg.hidden_size;
  const D = cfg.head_dim;
  const nH = cfg.num_attention_heads;
  const nKV = cfg.num_key_value_heads;
  const rep = nH / nKV;
  const eps = cfg.rms_norm_eps;
  const { batch: B, seq: T } = DIMS;
  void H;
  const P = (n: string): Tensor => {
    const t = p.get(n);
    if (!t) throw new Error(`decoder graph: missing parameter '${n}'`);
    return t;
  };
  const R = g.constant(rotateHalfMatrix(D), [D, D]);
  const scale = 1 / Math.sqrt(D);
  const rope = (x: Tensor): Tensor => add(mul(x, inp.ropeCos), mul(matmul(x, R), inp.ropeSin));
  const linear = (x: Tensor, name: string, bias: boolean): Tensor => {
    const y = matmul(x, P(`${name}.weight`));
    return bias ? add(y, P(`${name}.bias`)) : y;
  };

  // [B·T] → [B·T, H]
  let h = gather(P('model.embed_tokens.weight'), inp.inputIds);
  const present: { k: Tensor; v: Tensor }[] = [];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const pre = `model.layers.${l}`;
    const x = rmsNorm(h, P(`${pre}.input_layernorm.weight`), eps);
    const bias = cfg.attention_bias;
    // [B·T, n·D] → [B, T, n, D] → [B, n, T, D]
    const heads = (t: Tensor, n: number): Tensor => transpose(reshape(t, [B, T, n, D]), [0, 2, 1, 3]);
    const q = rope(heads(linear(x, `${pre}.self_attn.q_proj`, bias), nH));
    let k = rope(heads(linear(x, `${pre}.self_attn.k_proj`, bias), nKV));
    let v = heads(linear(x, `${pre}.self_attn.v_proj`, bias), nKV);
    if (inp.past) {
      // key axis 'past+seq' (a derived name) lines up with the bias' 'total'
      k = concat([inp.past[l].k, k], 2);
      v = concat([inp.past[l].v, v], 2);
    }
    present.push({ k, v });
    // Grouped-query attention without repeating K/V: fold the `rep` query heads that share a
    // KV head into the row axis: [B, nH, T, D] → [B, nKV, rep·T, D].
    const qg = rep === 1 ? q : reshape(q, [B, nKV, -1, D]);
    const scores = add(mul(matmul(qg, transpose(k, [0, 1, 3, 2])), scale), inp.attnBias);
    const ctx = matmul(softmax(scores, -1), v); // [B, nKV, rep·T, D]
    const merged = reshape(transpose(reshape(ctx, [B, nH, T, D]), [0, 2, 1, 3]), [DIMS.tokens, nH * D]);
    h = add(h, linear(merged, `${pre}.self_attn.o_proj`, false));
    const y = rmsNorm(h, P(`${pre}.post_attention_layernorm.weight`), eps);
    const gate = silu(linear(y, `${pre}.mlp.gate_proj`, false));
    const up = linear(y, `${pre}.mlp.up_proj`, false);
    h = add(h, linear(mul(gate, up), `${pre}.mlp.down_proj`, false));
  }
  const hidden = rmsNorm(h, P('model.norm.weight'), eps);
  return { hidden, present };
}

/** LM-head logits of hidden rows [n, H] → [n, V] (tied: the embedding's transpose). */
export function lmHead(cfg: ModelConfig, p: Map<string, Tensor>, hidden: Tensor): Tensor {
  if (cfg.tie_word_embeddings) return matmul(hidden, transpose(p.get('model.embed_tokens.weight')!, [1, 0]));
  return matmul(hidden, p.get('lm_head.weight')!);
}

/** Which inference graph to build. */
export type InferenceGraphKind = 'prefill' | 'decode';

/**
 * Inference graph: `prefill` (no past; outputs present K/V) or `decode` (past K/V inputs).
 * Both take `last_rows` int64 [batch] (row index b·seq + seq-1 of each sequence's last position
 * in the flattened hidden matrix) and output `logits` [batch, vocab] for those rows only, plus
 * `present_key.{l}` / `present_value.{l}`.
 */
export function buildInferenceGraph(cfg: ModelConfig, kind: InferenceGraphKind): Graph {
  const g = new Graph(`decoder_${kind}`);
  const p = declareParams(g, cfg);
  const inp = declareDecoderInputs(g, cfg, kind === 'decode');
  const lastRows = g.input('last_rows', 'int64', [DIMS.batch]);
  const { hidden, present } = decoderTrunk(g, cfg, p, inp);
  g.output('logits', lmHead(cfg, p, gather(hidden, lastRows)));
  present.forEach((kv, l) => {
    g.output(`present_key.${l}`, kv.k);
    g.output(`present_value.${l}`, kv.v);
  });
  return g;
}
