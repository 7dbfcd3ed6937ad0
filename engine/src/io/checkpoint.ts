import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { SafetensorsError, SafetensorsReader, writeSafetensors, type FloatStoreDType, type LazyTensorInput, type SafeTensor, type SafetensorsEntry } from './safetensors.js';

/** The single-file weights of a Hugging Face model directory. */
export const SINGLE_FILE = 'model.safetensors';
/** The index of a sharded Hugging Face checkpoint. */
export const INDEX_FILE = 'model.safetensors.index.json';
/** Shard file names as transformers writes them: model-00001-of-00003.safetensors. */
const SHARD_NAME = /^model-(\d{5})-of-(\d{5})\.safetensors$/;

/** A checkpoint tensor's header entry and the file holding it. */
export interface CheckpointTensorInfo extends SafetensorsEntry {
  readonly file: string;
}

const indexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(
    z.string().min(1),
    z
      .string()
      .min(1)
      .refine((f) => !f.includes('/') && !f.includes('\\') && f !== '..' && f !== '.', { message: 'a shard must be a file name in the model directory (no path)' }),
  ),
});

/**
 * The weights of a Hugging Face model directory, read tensor by tensor: either one
 * `model.safetensors` or `model.safetensors.index.json` with its shards. Each tensor is read from
 * its file's byte range when asked for, so no shard is ever held whole. Close it when done.
 */
export class CheckpointReader {
  private constructor(
    readonly dir: string,
    readonly layout: 'single' | 'sharded',
    private readonly readers: Map<string, SafetensorsReader>,
    private readonly where: Map<string, string>,
  ) {}

  /**
   * Opens the weights in `dir`. A directory with both a single file and an index is refused
   * (which one is current is ambiguous). An index must name existing shards, every tensor it
   * maps must be in that shard, and a shard may not hold a tensor the index does not map.
   */
  static open(dir: string): CheckpointReader {
    const single = path.join(dir, SINGLE_FILE);
    const index = path.join(dir, INDEX_FILE);
    const hasSingle = existsSync(single);
    const hasIndex = existsSync(index);
    if (hasSingle && hasIndex) throw new SafetensorsError(`${dir} has both ${SINGLE_FILE} and ${INDEX_FILE}; it is ambiguous which weights are current: remove the stale one`);
    if (!hasSingle && !hasIndex) throw new SafetensorsError(`${dir} has no weights: a Hugging Face model directory holds ${SINGLE_FILE} or ${INDEX_FILE} with its shards`);
    if (hasSingle) {
      const r = SafetensorsReader.open(single);
      return new CheckpointReader(dir, 'single', new Map([[SINGLE_FILE, r]]), new Map([...r.header.entries.keys()].map((n) => [n, SINGLE_FILE])));
    }
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(index, 'utf8'));
    } catch (err) {
      throw new SafetensorsError(`${index} is not valid JSON: ${(err as Error).message}`);
    }
    const p = indexSchema.safeParse(json);
    if (!p.success) throw new SafetensorsError(`${index} is not a safetensors index: ${p.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')} (expected {"metadata": {...}, "weight_map": {tensor: shard file}})`);
    const weightMap = p.data.weight_map;
    const readers = new Map<string, SafetensorsReader>();
    try {
      for (const file of new Set(Object.values(weightMap))) {
        const f = path.join(dir, file);
        if (!existsSync(f)) throw new SafetensorsError(`${index} maps tensors to ${file}, which is not in ${dir}`);
        readers.set(file, SafetensorsReader.open(f));
      }
      const problems: string[] = [];
      for (const [name, file] of Object.entries(weightMap)) {
        if (!readers.get(file)!.header.entries.has(name)) problems.push(`"${name}" is mapped to ${file}, which does not hold it`);
      }
      for (const [file, r] of readers) {
        for (const name of r.header.entries.keys()) if (weightMap[name] !== file) problems.push(`${file} holds "${name}" but the index ${weightMap[name] ? `maps it to ${weightMap[name]}` : 'does not map it'}`);
      }
      if (problems.length) throw new SafetensorsError(`${index} does not match its shards:\n  - ${problems.slice(0, 10).join('\n  - ')}${problems.length > 10 ? `\n  … and ${problems.length - 10} more` : ''}`);
    } catch (err) {
      for (const r of readers.values()) r.close();
      throw err;
    }
    return new CheckpointReader(dir, 'sharded', readers, new Map(Object.entries(weightMap)));
  }

  /** Tensor names, in the order of the files' headers. */
  get names(): string[] {
    return [...this.where.keys()];
  }

  /** The weight files (relative to the directory). */
  get files(): string[] {
    return [...this.readers.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  /** Header entry and file of a tensor, or undefined. */
  info(name: string): CheckpointTensorInfo | undefined {
    const file = this.where.get(name);
    if (!file) return undefined;
    return { ...this.readers.get(file)!.header.entries.get(name)!, file };
  }

  /** One tensor (floats widened to Float32Array). */
  read(name: string): SafeTensor {
    const file = this.where.get(name);
    if (!file) throw new SafetensorsError(`checkpoint ${this.dir} has no tensor "${name}"`);
    return this.readers.get(file)!.read(name);
  }

  /** One tensor's bytes as stored (a BF16 / F16 tensor stays 2 bytes an element). */
  readRaw(name: string): Uint8Array {
    const file = this.where.get(name);
    if (!file) throw new SafetensorsError(`checkpoint ${this.dir} has no tensor "${name}"`);
    return this.readers.get(file)!.readRaw(name);
  }

  close(): void {
    for (const r of this.readers.values()) r.close();
  }
}

/** Options of {@link writeCheckpoint}. */
export interface WriteCheckpointOptions {
  /** Store float32 tensors as F32 (default), BF16 or F16. */
  dtype?: FloatStoreDType;
  /**
   * Largest shard in bytes (default 5 GB, transformers' `max_shard_size` default). A checkpoint
   * that fits is one `model.safetensors`; a bigger one is shards plus an index, split as
   * transformers splits them (tensors in order; a tensor larger than the limit gets a shard of its own).
   */
  maxShardBytes?: number;
  /** String metadata of every file (`format: pt` is always set). */
  metadata?: Record<string, string>;
}

/** What {@link writeCheckpoint} wrote. */
export interface WrittenCheckpoint {
  files: string[];
  /** Bytes of tensor data (the index's `metadata.total_size`). */
  totalSize: number;
}

const STORE_BYTES: Record<FloatStoreDType, number> = { F32: 4, BF16: 2, F16: 2 };

/**
 * Writes tensors into `dir` in the Hugging Face layout: one `model.safetensors`, or
 * `model-0000k-of-0000n.safetensors` shards and `model.safetensors.index.json`
 * (`metadata.total_size`, `weight_map`). Weight files of the other layout left in `dir` by an
 * earlier save are removed, so the directory is never ambiguous. Each tensor's data may be a
 * function (called once, when its shard is written).
 */
export function writeCheckpoint(dir: string, tensors: [string, LazyTensorInput][], opts: WriteCheckpointOptions = {}): WrittenCheckpoint {
  const dtype = opts.dtype ?? 'F32';
  const max = opts.maxShardBytes ?? 5e9;
  if (!(max > 0)) throw new Error(`writeCheckpoint: maxShardBytes must be > 0, got ${max}`);
  mkdirSync(dir, { recursive: true });
  const sizeOf = ([, t]: [string, LazyTensorInput]) => {
    const count = t.shape.reduce((a, d) => a * d, 1);
    const isFloat = typeof t.data === 'function' || t.data instanceof Float32Array;
    return count * (isFloat ? STORE_BYTES[dtype] : t.data.BYTES_PER_ELEMENT);
  };
  const shards: [string, LazyTensorInput][][] = [[]];
  let cur = 0;
  let total = 0;
  for (const e of tensors) {
    const b = sizeOf(e);
    if (cur > 0 && cur + b > max) {
      shards.push([]);
      cur = 0;
    }
    shards[shards.length - 1].push(e);
    cur += b;
    total += b;
  }
  const metadata = { format: 'pt', ...opts.metadata };
  const stale = (names: (f: string) => boolean) => {
    for (const f of readdirSync(dir)) if (names(f)) rmSync(path.join(dir, f), { force: true });
  };
  if (shards.length === 1) {
    writeSafetensors(path.join(dir, SINGLE_FILE), new Map(shards[0]), metadata, { floatDType: dtype });
    stale((f) => f === INDEX_FILE || SHARD_NAME.test(f));
    return { files: [SINGLE_FILE], totalSize: total };
  }
  const n = shards.length;
  const name = (k: number) => `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
  const weightMap: Record<string, string> = {};
  const files = shards.map((s, k) => {
    writeSafetensors(path.join(dir, name(k)), new Map(s), metadata, { floatDType: dtype });
    for (const [t] of s) weightMap[t] = name(k);
    return name(k);
  });
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const tmp = path.join(dir, `${INDEX_FILE}.tmp-${process.pid}`);
  writeFileSync(tmp, JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2) + '\n');
  renameSync(tmp, path.join(dir, INDEX_FILE));
  stale((f) => f === SINGLE_FILE || (SHARD_NAME.test(f) && !files.includes(f)));
  return { files: [...files, INDEX_FILE], totalSize: total };
}

/** The weight files of a model directory (for fingerprints and plans): the index and its shards, or the single file; [] when it has none. */
export function checkpointWeightFiles(dir: string): string[] {
  if (existsSync(path.join(dir, INDEX_FILE))) {
    try {
      const p = indexSchema.safeParse(JSON.parse(readFileSync(path.join(dir, INDEX_FILE), 'utf8')));
      return [INDEX_FILE, ...(p.success ? [...new Set(Object.values(p.data.weight_map))].sort() : [])];
    } catch {
      return [INDEX_FILE];
    }
  }
  return existsSync(path.join(dir, SINGLE_FILE)) ? [SINGLE_FILE] : [];
}
