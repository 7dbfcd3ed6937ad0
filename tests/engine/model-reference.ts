// A direct float64 JavaScript implementation of the Qwen2 decoder (one unpadded sequence),
// written from the HF modeling code's equations, to check the ONNX graphs against.
import type { ModelConfig } from '../../engine/src/io/model-config.js';

type P = Map<string, Float32Array>;

function linear(x: Float64Array[], w: Float32Array, inDim: number, outDim: number, b?: Float32Array): Float64Array[] {
  // w is in graph layout [in, out]
  return x.map((row) => {
    const y = new Float64Array(outDim);
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += row[i] * w[i * outDim + o];
      y[o] = s;
    }
    return y;
  });
}

function rms(x: Float64Array[], w: Float32Array, eps: number): Float64Array[] {
  return x.map((row) => {
    let ms = 0;
    for (const v of row) ms += v * v;
    const k = 1 / Math.sqrt(ms / row.length + eps);
    return row.map((v, i) => v * k * w[i]);
  });
}

/** Logits [T][V] of one sequence (positions 0..T-1). */
export function referenceLogits(cfg: ModelConfig, p: P, ids: number[]): Float64Array[] {
  const H = cfg.hidden_size;
  const D = cfg.head_dim;
  const nH = cfg.num_attention_heads;
  const nKV = cfg.num_key_value_heads;
  const rep = nH / nKV;
  const I = cfg.intermediate_size;
  const T = ids.length;
  const E = p.get('model.embed_tokens.weight')!;
  let x = ids.map((id) => Float64Array.from(E.subarray(id * H, id * H + H)));
  const half = D / 2;
  const rope = (v: Float64Array, off: number, pos: number): void => {
    const orig = v.slice(off, off + D);
    for (let i = 0; i < D; i++) {
      const f = pos / cfg.rope_theta ** ((2 * (i % half)) / D);
      const rot = i < half ? -orig[i + half] : orig[i - half];
      v[off + i] = orig[i] * Math.cos(f) + rot * Math.sin(f);
    }
  };
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const pre = `model.layers.${l}`;
    const xn = rms(x, p.get(`${pre}.input_layernorm.weight`)!, cfg.rms_norm_eps);
    const b = (n: string) => (cfg.attention_bias ? p.get(`${pre}.self_attn.${n}.bias`) : undefined);
    const q = linear(xn, p.get(`${pre}.self_attn.q_proj.weight`)!, H, nH * D, b('q_proj'));
    const k = linear(xn, p.get(`${pre}.self_attn.k_proj.weight`)!, H, nKV * D, b('k_proj'));
    const v = linear(xn, p.get(`${pre}.self_attn.v_proj.weight`)!, H, nKV * D, b('v_proj'));
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < nH; h++) rope(q[t], h * D, t);
      for (let h = 0; h < nKV; h++) rope(k[t], h * D, t);
    }
    const ctx = Array.from({ length: T }, () => new Float64Array(nH * D));
    for (let h = 0; h < nH; h++) {
      const kv = Math.floor(h / rep);
      for (let t = 0; t < T; t++) {
        const sc = new Float64Array(t + 1);
        let mx = -Infinity;
        for (let s = 0; s <= t; s++) {
          let d = 0;
          for (let i = 0; i < D; i++) d += q[t][h * D + i] * k[s][kv * D + i];
          sc[s] = d / Math.sqrt(D);
          mx = Math.max(mx, sc[s]);
        }
        let z = 0;
        for (let s = 0; s <= t; s++) z += (sc[s] = Math.exp(sc[s] - mx));
        for (let s = 0; s <= t; s++) for (let i = 0; i < D; i++) ctx[t][h * D + i] += (sc[s] / z) * v[s][kv * D + i];
      }
    }
    const o = linear(ctx, p.get(`${pre}.self_attn.o_proj.weight`)!, nH * D, H);
    x = x.map((row, t) => row.map((val, i) => val + o[t][i]));
    const y = rms(x, p.get(`${pre}.post_attention_layernorm.weight`)!, cfg.rms_norm_eps);
    const gt = linear(y, p.get(`${pre}.mlp.gate_proj.weight`)!, H, I);
    const up = linear(y, p.get(`${pre}.mlp.up_proj.weight`)!, H, I);
    const act = gt.map((row, t) => row.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[t][i]));
    const down = linear(act, p.get(`${pre}.mlp.down_proj.weight`)!, I, H);
    x = x.map((row, t) => row.map((val, i) => val + down[t][i]));
  }
  const hN = rms(x, p.get('model.norm.weight')!, cfg.rms_norm_eps);
  const V = cfg.vocab_size;
  return hN.map((row) => {
    const out = new Float64Array(V);
    for (let vv = 0; vv < V; vv++) {
      let s = 0;
      if (cfg.tie_word_embeddings) for (let i = 0; i < H; i++) s += row[i] * E[vv * H + i];
      else {
        const W = p.get('lm_head.weight')!;
        for (let i = 0; i < H; i++) s += row[i] * W[i * V + vv];
      }
      out[vv] = s;
    }
    return out;
  });
}

/** log-softmax of a row. */
export function logSoftmax(row: Float64Array): Float64Array {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  let z = 0;
  for (const v of row) z += Math.exp(v - mx);
  const lse = mx + Math.log(z);
  return row.map((v) => v - lse);
}

/** Per-token log-probs (entry 0 = 0) and entropies of one sequence under the reference model. */
export function referenceScores(cfg: ModelConfig, p: P, ids: number[]): { logprobs: number[]; entropy: number[] } {
  const logits = referenceLogits(cfg, p, ids);
  const logprobs = [0];
  const entropy = [0];
  for (let t = 1; t < ids.length; t++) {
    const lp = logSoftmax(logits[t - 1]);
    logprobs.push(lp[ids[t]]);
    let e = 0;
    for (const v of lp) e -= Math.exp(v) * v;
    entropy.push(e);
  }
  return { logprobs, entropy };
}
