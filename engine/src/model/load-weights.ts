import type { Logger } from 'pino';
import type { ModelConfig } from '../io/model-config.js';
import { decoderParamSpecs, transpose2d } from '../io/weight-names.js';
import type { SafeTensor, SafetensorsDType, SafetensorsFile } from '../io/safetensors.js';

/** Where checkpoint tensors come from: a decoded file in memory or a {@link CheckpointReader} over a directory. */
export interface TensorSource {
  readonly names: readonly string[];
  info(name: string): { dtype: SafetensorsDType; shape: readonly number[] } | undefined;
  read(name: string): SafeTensor;
}

/** A decoded safetensors file as a {@link TensorSource}. */
export function fileSource(file: SafetensorsFile): TensorSource {
  return { names: [...file.tensors.keys()], info: (n) => file.tensors.get(n), read: (n) => file.tensors.get(n)! };
}

/** A checkpoint tensor the model does not use, and why it may be left out. */
export interface IgnoredTensor {
  name: string;
  reason: string;
}

/** Parameters read from a checkpoint, plus the tensors left out (each with its reason). */
export interface LoadedWeights {
  params: Map<string, Float32Array>;
  ignored: IgnoredTensor[];
  /** Stored dtypes of the parameters read (e.g. { BF16: 434 }). */
  dtypes: Partial<Record<SafetensorsDType, number>>;
}

const ROTARY_BUFFER = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;
const FLOAT: ReadonlySet<SafetensorsDType> = new Set(['F32', 'F16', 'BF16', 'F64']);

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/**
 * Reads a model's parameters from HF-named tensors (linear weights transposed from HF's
 * [out, in] to [in, out]; F16 / BF16 / F64 widened to float32). Missing or mis-shaped parameters
 * are errors, and so is any tensor of the checkpoint the model would not use — except those
 * that may be left out safely, which are returned in `ignored` and logged as a warning:
 * `rotary_emb.inv_freq` buffers (recomputed from rope_theta) and, with tied embeddings, an
 * `lm_head.weight` equal to the embedding. A distinct `lm_head.weight` under
 * `tie_word_embeddings: true` is refused: the config and the checkpoint disagree.
 */
export function loadWeights(config: ModelConfig, src: TensorSource, opts: { where?: string; logger?: Logger } = {}): LoadedWeights {
  const where = opts.where ?? 'checkpoint';
  const specs = decoderParamSpecs(config);
  const wanted = new Set(specs.map((s) => s.name));
  const params = new Map<string, Float32Array>();
  const problems: string[] = [];
  const dtypes: Partial<Record<SafetensorsDType, number>> = {};
  for (const s of specs) {
    const info = src.info(s.name);
    if (!info) {
      problems.push(`missing '${s.name}' [${s.hfShape}]`);
      continue;
    }
    if (info.shape.length !== s.hfShape.length || info.shape.some((d, i) => d !== s.hfShape[i])) {
      problems.push(`'${s.name}' has shape [${info.shape}], config needs [${s.hfShape}]`);
      continue;
    }
    if (!FLOAT.has(info.dtype)) {
      problems.push(`'${s.name}' has dtype ${info.dtype}; expected a float type (F32, F16, BF16, F64)`);
      continue;
    }
    const data = src.read(s.name).data as Float32Array;
    dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
    params.set(s.name, s.transposed ? transpose2d(data, s.hfShape[0], s.hfShape[1]) : data);
  }
  const ignored: IgnoredTensor[] = [];
  const unused: string[] = [];
  for (const name of src.names) {
    if (wanted.has(name)) continue;
    if (ROTARY_BUFFER.test(name)) {
      ignored.push({ name, reason: 'a rotary inv_freq buffer; recomputed from rope_theta' });
    } else if (name === 'lm_head.weight' && config.tie_word_embeddings) {
      const embed = params.get('model.embed_tokens.weight');
      const head = src.read(name).data;
      if (embed && head instanceof Float32Array && sameValues(head, embed)) ignored.push({ name, reason: 'tie_word_embeddings is true and it equals model.embed_tokens.weight' });
      else problems.push(`'lm_head.weight' differs from model.embed_tokens.weight but config.json says tie_word_embeddings: true; set tie_word_embeddings to false if the checkpoint has its own LM head`);
    } else {
      unused.push(name);
    }
  }
  if (unused.length) {
    problems.push(
      `${unused.length} tensor(s) the model would not use: ${unused.slice(0, 8).map((n) => `'${n}'`).join(', ')}${unused.length > 8 ? ', …' : ''} (config.json does not describe this checkpoint: check tie_word_embeddings, num_hidden_layers, model_type)`,
    );
  }
  if (problems.length) {
    throw new Error(`${where} does not match the model config:\n  - ${problems.slice(0, 10).join('\n  - ')}${problems.length > 10 ? `\n  … and ${problems.length - 10} more` : ''}\n(check num_hidden_layers / hidden_size / tie_word_embeddings in config.json)`);
  }
  if (ignored.length) opts.logger?.warn({ checkpoint: where, ignored }, `${ignored.length} checkpoint tensor(s) not loaded`);
  return { params, ignored, dtypes };
}
