import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** How Hugging Face reads a RoPE block (`rope_parameters`, the newer layout, or the legacy `rope_scaling`). */
const ropeBlock = z.looseObject({
  rope_type: z.string().optional(),
  /** Legacy spelling of rope_type in older `rope_scaling` blocks. */
  type: z.string().optional(),
  rope_theta: z.number().positive().optional(),
});

/** Architectures whose math this engine implements, by HF `model_type`. */
export const MODEL_TYPES = ['qwen2', 'llama'] as const;

/**
 * Hugging Face `config.json` of a Qwen2/Llama-family decoder, read the way transformers reads it:
 * - `tie_word_embeddings` defaults to **false** (Qwen2Config and LlamaConfig both say so), so a
 *   checkpoint without the key has its own `lm_head.weight`;
 * - θ comes from `rope_theta`, or from `rope_parameters.rope_theta` (the newer layout), default 10000;
 * - a `rope_parameters` / `rope_scaling` block whose type is not `default` (YaRN, linear,
 *   dynamic, llama3, …) is refused, as are sliding-window layers and a partial rotary factor;
 * - qwen2's q/k/v projections always have biases (Qwen2Attention hard-codes `bias=True` and
 *   o_proj `bias=False`; `attention_bias` is not a Qwen2 field), so `attention_bias` in a qwen2
 *   config is ignored as transformers ignores it; llama's `attention_bias: true` (biases on q, k,
 *   v *and* o) and `mlp_bias: true` are refused (not implemented).
 * Keys this engine does not use are dropped (HF files carry many).
 */
export const modelConfigSchema = z
  .object({
    model_type: z.enum(MODEL_TYPES, { message: `model_type must be one of ${MODEL_TYPES.join(', ')} (the decoders this engine implements)` }).default('qwen2'),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().nullish(),
    head_dim: z.number().int().positive().nullish(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().optional(),
    rope_parameters: ropeBlock.nullish(),
    rope_scaling: ropeBlock.nullish(),
    partial_rotary_factor: z.literal(1, { message: 'partial_rotary_factor must be 1 (rotary embedding over the whole head)' }).optional(),
    max_position_embeddings: z.number().int().positive().default(2048),
    tie_word_embeddings: z.boolean().default(false),
    /** llama: biases on q/k/v/o (refused when true); qwen2: not a field, ignored. Output: whether q/k/v carry biases. */
    attention_bias: z.boolean().optional(),
    mlp_bias: z.literal(false, { message: 'mlp_bias must be false (MLP biases are not implemented)' }).optional(),
    hidden_act: z.enum(['silu'], { message: "hidden_act must be 'silu' (SwiGLU MLP); other activations are not implemented" }).default('silu'),
    use_sliding_window: z.literal(false, { message: 'use_sliding_window must be false (full causal attention only)' }).optional(),
    layer_types: z.array(z.literal('full_attention', { message: "layer_types must all be 'full_attention' (sliding-window layers are not implemented)" })).nullish(),
    bos_token_id: z.number().int().nonnegative().nullish(),
    eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish(),
    pad_token_id: z.number().int().nonnegative().nullish(),
  })
  .transform((c, ctx) => {
    const kv = c.num_key_value_heads ?? c.num_attention_heads;
    const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    if (!Number.isInteger(headDim)) {
      ctx.addIssue({ code: 'custom', message: `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}; set head_dim or change one of them` });
    }
    if (c.num_attention_heads % kv !== 0) {
      ctx.addIssue({ code: 'custom', message: `num_attention_heads ${c.num_attention_heads} must be a multiple of num_key_value_heads ${kv}` });
    }
    if (headDim % 2 !== 0) ctx.addIssue({ code: 'custom', message: `head_dim ${headDim} must be even for rotary embeddings` });
    for (const key of ['rope_parameters', 'rope_scaling'] as const) {
      const b = c[key];
      const kind = b ? (b.rope_type ?? b.type ?? 'default') : 'default';
      if (kind !== 'default') {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} type '${kind}' is not supported (plain RoPE only; YaRN, linear, dynamic and llama3 scaling are not implemented); use a checkpoint without RoPE scaling or remove the block if the model was trained without it` });
      }
    }
    const thetas = [c.rope_theta, c.rope_parameters?.rope_theta, c.rope_scaling?.rope_theta].filter((x): x is number => x !== undefined);
    if (thetas.some((x) => x !== thetas[0])) ctx.addIssue({ code: 'custom', path: ['rope_theta'], message: `rope_theta is given twice with different values (${thetas.join(' vs ')}); keep one` });
    if (c.model_type === 'llama' && c.attention_bias === true) {
      ctx.addIssue({ code: 'custom', path: ['attention_bias'], message: 'attention_bias true on a llama config means biases on q, k, v and o_proj; o_proj biases are not implemented' });
    }
    const { rope_parameters: _rp, rope_scaling: _rs, partial_rotary_factor: _pr, mlp_bias: _mb, layer_types: _lt, use_sliding_window: _sw, ...rest } = c;
    return {
      ...rest,
      num_key_value_heads: kv,
      head_dim: headDim,
      rope_theta: thetas[0] ?? 10000,
      /** Whether q/k/v projections carry biases: always for qwen2 (as transformers builds it), never for llama here. */
      attention_bias: c.model_type === 'qwen2',
    };
  });

/** A validated model config (all derived fields filled in). */
export type ModelConfig = z.output<typeof modelConfigSchema>;
/** What a caller may pass: HF `config.json` fields, optional ones defaulted. */
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/** Thrown when a config is invalid; the message lists each bad field and how to fix it. */
export class ModelConfigError extends Error {
  override readonly name = 'ModelConfigError';
}

/** Validates an HF-style config object. */
export function parseModelConfig(json: unknown, source = 'model config'): ModelConfig {
  const r = modelConfigSchema.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
    throw new ModelConfigError(`${source} is invalid:\n${lines.join('\n')}\n(expected a Hugging Face Qwen2/Llama config.json)`);
  }
  return r.data;
}

/**
 * Loads a config: a path to `config.json`, a directory containing one, a JSON string, or an object.
 */
export function loadModelConfig(src: string | object): ModelConfig {
  if (typeof src !== 'string') return parseModelConfig(src);
  const trimmed = src.trim();
  if (trimmed.startsWith('{')) {
    try {
      return parseModelConfig(JSON.parse(trimmed), 'inline model config');
    } catch (err) {
      if (err instanceof ModelConfigError) throw err;
      throw new ModelConfigError(`inline model config is not valid JSON: ${(err as Error).message}`);
    }
  }
  let file = src;
  if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'config.json');
  if (!existsSync(file)) throw new ModelConfigError(`model config ${file} does not exist; pass a config.json path or its directory`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelConfigError(`model config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseModelConfig(json, `model config ${file}`);
}

/** The tiny config used by tests (a few thousand parameters). */
export const TINY_CONFIG: ModelConfig = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
});

/** A ~5M-parameter config (the engine benchmark's model). */
export const BENCH_5M_CONFIG: ModelConfig = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 4096,
  hidden_size: 256,
  intermediate_size: 768,
  num_hidden_layers: 5,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  max_position_embeddings: 2048,
  tie_word_embeddings: true,
});

const ARCHITECTURES: Record<ModelConfig['model_type'], string> = { qwen2: 'Qwen2ForCausalLM', llama: 'LlamaForCausalLM' };
const TORCH_DTYPE = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' } as const;

/**
 * The `config.json` object transformers loads for this config (architectures, model_type,
 * torch_dtype of the stored weights, every field this engine reads). qwen2 carries no
 * `attention_bias` (not a Qwen2 field: its q/k/v biases are always there); llama gets
 * `attention_bias: false`.
 */
export function hfConfigJson(c: ModelConfig, dtype: keyof typeof TORCH_DTYPE = 'F32'): Record<string, unknown> {
  const { attention_bias: _ab, model_type, ...rest } = c;
  return {
    architectures: [ARCHITECTURES[model_type]],
    model_type,
    ...rest,
    ...(model_type === 'llama' ? { attention_bias: false, mlp_bias: false } : { use_sliding_window: false }),
    torch_dtype: TORCH_DTYPE[dtype],
  };
}
