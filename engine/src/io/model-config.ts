import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Hugging Face–style `config.json` of a Qwen2/Llama-family decoder, validated.
 * Unknown keys are kept out (HF files carry many; only these matter here).
 */
export const modelConfigSchema = z
  .object({
    model_type: z.string().default('qwen2'),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    head_dim: z.number().int().positive().optional(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    max_position_embeddings: z.number().int().positive().default(2048),
    tie_word_embeddings: z.boolean().default(true),
    /** Qwen2 puts biases on q/k/v projections; Llama does not. Default: true for qwen2, false otherwise. */
    attention_bias: z.boolean().optional(),
    hidden_act: z.enum(['silu'], { message: "hidden_act must be 'silu' (SwiGLU MLP); other activations are not implemented" }).default('silu'),
    /** Not implemented: present and non-null is an error rather than silently wrong positions. */
    rope_scaling: z.null({ message: 'rope_scaling is not supported (plain RoPE only); set it to null or remove it' }).optional(),
    use_sliding_window: z.literal(false, { message: 'use_sliding_window must be false (full causal attention only)' }).optional(),
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
    return {
      ...c,
      num_key_value_heads: kv,
      head_dim: headDim,
      attention_bias: c.attention_bias ?? c.model_type === 'qwen2',
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
