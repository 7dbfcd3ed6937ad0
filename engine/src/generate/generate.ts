import { z } from 'zod';
import type * as ort from 'onnxruntime-node';
import type { CausalLM } from '../model/causal-lm.js';
import { trunkFeeds } from '../model/batch.js';
import { i64, type Feeds } from '../model/model-session.js';
import { Rng } from '../random/rng.js';
import { argmax, logSoftmaxRow, sampleTopP } from './sampling.js';

/** Generation options (validated). */
export const generateOptionsSchema = z.object({
  maxNewTokens: z.number().int().positive('maxNewTokens must be >= 1'),
  /** 0 = greedy. */
  temperature: z.number().min(0).default(1),
  topP: z.number().gt(0, 'topP must be in (0, 1]').max(1).default(1),
  seed: z.number().int().default(0),
  /** Token ids that end a sequence (e.g. eos); the id is kept in the output. */
  stopTokenIds: z.array(z.number().int().nonnegative()).default([]),
  /** Strings that end a sequence once the decoded output contains them (needs `decode`). */
  stopStrings: z.array(z.string().min(1)).default([]),
  /** Pad id used for finished rows and left padding. */
  padTokenId: z.number().int().nonnegative().default(0),
  /** false: recompute the whole sequence each step (the no-cache baseline). */
  useCache: z.boolean().default(true),
});
export type GenerateOptions = z.input<typeof generateOptionsSchema> & {
  /** Turns token ids into text; required for stop strings and for `text` in the result. */
  decode?: (ids: number[]) => string;
};

/** Why a sequence ended. */
export type FinishReason = 'stop_token' | 'stop_string' | 'length';

/** One generated continuation. */
export interface GeneratedSequence {
  /** New token ids (including the stop token / the tokens completing a stop string). */
  tokens: number[];
  /** Log-prob of each new token under the sampling distribution (logits / temperature; greedy: temperature 1), before top-p truncation. */
  logprobs: number[];
  /** Decoded new text (when `decode` is given), cut right after a matched stop string. */
  text?: string;
  finishReason: FinishReason;
  /** The stop string that matched, if any. */
  stop?: string;
}

/**
 * Batched generation from prompts (ragged token-id arrays). Prompts are left-padded; the KV
 * cache path runs one prefill graph, then a one-token decode graph per step with past K/V fed
 * back in. Sampling (greedy, temperature, top-p) uses a seeded PRNG, so a seed reproduces the
 * output exactly.
 */
export async function generate(model: CausalLM, prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<GeneratedSequence[]> {
  const parsed = generateOptionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`invalid generate options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const o = parsed.data;
  const decode = options.decode;
  if (o.stopStrings.length && !decode) throw new Error('generate: stopStrings need a `decode` function (e.g. ids => tokenizer.decode(ids))');
  if (!Array.isArray(prompts) || prompts.length === 0) throw new Error('generate: prompts must be a non-empty array of token-id arrays');
  const cfg = model.config;
  const V = cfg.vocab_size;
  const B = prompts.length;
  let P = 0;
  prompts.forEach((p, b) => {
    if (p.length === 0) throw new Error(`generate: prompt ${b} is empty; give at least one token (e.g. bos)`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`generate: prompt ${b} has token id ${id} outside [0, ${V})`);
    P = Math.max(P, p.length);
  });
  const maxLen = P + o.maxNewTokens;
  if (maxLen > cfg.max_position_embeddings) {
    throw new Error(`generate: prompt (${P}) + maxNewTokens (${o.maxNewTokens}) exceeds max_position_embeddings ${cfg.max_position_embeddings}`);
  }

  // Full token / mask buffers [B, maxLen]; the first S columns are in use.
  const ids = new Int32Array(B * maxLen).fill(o.padTokenId);
  const mask = new Uint8Array(B * maxLen);
  prompts.forEach((p, b) => {
    const off = P - p.length;
    for (let t = 0; t < p.length; t++) {
      ids[b * maxLen + off + t] = p[t];
      mask[b * maxLen + off + t] = 1;
    }
  });
  const view = (S: number): { ids: Int32Array; mask: Uint8Array } => {
    const vi = new Int32Array(B * S);
    const vm = new Uint8Array(B * S);
    for (let b = 0; b < B; b++) {
      vi.set(ids.subarray(b * maxLen, b * maxLen + S), b * S);
      vm.set(mask.subarray(b * maxLen, b * maxLen + S), b * S);
    }
    return { ids: vi, mask: vm };
  };
  const lastRowsOf = (T: number): ort.Tensor => {
    const a = new BigInt64Array(B);
    for (let b = 0; b < B; b++) a[b] = BigInt(b * T + T - 1);
    return i64(a, [B]);
  };

  const rng = new Rng(o.seed);
  const out: GeneratedSequence[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' as FinishReason }));
  const done = new Uint8Array(B);
  const stopIds = new Set(o.stopTokenIds);
  const logp = new Float64Array(V);
  const order = new Int32Array(V);
  const temp = o.temperature === 0 ? 1 : o.temperature;
  const params = model.paramFeeds();
  const prefill = await model.inferenceSession('prefill');
  const decodeSess = o.useCache ? await model.inferenceSession('decode') : null;
  const presentNames = model.presentNames;
  // Device-resident KV tensors (webgpu) are freed as soon as the next step has replaced them.
  const release = (r: Record<string, ort.Tensor> | null) => {
    if (r) for (const n of presentNames) if (r[n]?.location === 'gpu-buffer') r[n].dispose();
  };

  let S = P;
  let past: Record<string, ort.Tensor> | null = null;
  let logits: Float32Array;
  {
    const v = view(S);
    const r = await prefill.run({ ...params, ...trunkFeeds(cfg, B, S, S, v.ids, v.mask), last_rows: lastRowsOf(S) }, o.useCache ? ['logits', ...presentNames] : ['logits']);
    logits = r.logits.data as Float32Array;
    past = o.useCache ? r : null;
  }
  for (let step = 0; step < o.maxNewTokens; step++) {
    const next = new Int32Array(B).fill(o.padTokenId);
    const active = done.map((d) => (d ? 0 : 1));
    for (let b = 0; b < B; b++) {
      if (!active[b]) continue;
      logSoftmaxRow(logits, b * V, V, logp, temp);
      const tok = o.temperature === 0 ? argmax(logp, V) : sampleTopP(logp, V, o.topP, rng, order);
      next[b] = tok;
      const seq = out[b];
      seq.tokens.push(tok);
      seq.logprobs.push(logp[tok]);
      if (stopIds.has(tok)) {
        seq.finishReason = 'stop_token';
        done[b] = 1;
      } else if (o.stopStrings.length) {
        const text = decode!(seq.tokens);
        for (const s of o.stopStrings) {
          const at = text.indexOf(s);
          if (at >= 0) {
            seq.finishReason = 'stop_string';
            seq.stop = s;
            seq.text = text.slice(0, at + s.length);
            done[b] = 1;
            break;
          }
        }
      }
    }
    // Append the new column (finished rows get a masked pad).
    for (let b = 0; b < B; b++) {
      ids[b * maxLen + S] = next[b];
      mask[b * maxLen + S] = active[b];
    }
    S++;
    if (done.every((d) => d === 1) || step === o.maxNewTokens - 1) break;
    if (decodeSess && past) {
      const v = view(S);
      const feeds: Feeds = { ...params, ...trunkFeeds(cfg, B, 1, S, next, v.mask), last_rows: lastRowsOf(1) };
      for (let l = 0; l < cfg.num_hidden_layers; l++) {
        feeds[`past_key.${l}`] = past[`present_key.${l}`];
        feeds[`past_value.${l}`] = past[`present_value.${l}`];
      }
      const r = await decodeSess.run(feeds, ['logits', ...presentNames]);
      logits = r.logits.data as Float32Array;
      release(past);
      past = r;
    } else {
      const v = view(S);
      const r = await prefill.run({ ...params, ...trunkFeeds(cfg, B, S, S, v.ids, v.mask), last_rows: lastRowsOf(S) }, ['logits']);
      logits = r.logits.data as Float32Array;
    }
  }
  release(past);
  if (decode) for (const seq of out) if (seq.text === undefined) seq.text = decode(seq.tokens);
  return out;
}
