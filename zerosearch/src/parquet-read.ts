import { open, type FileHandle } from 'node:fs/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type Compressors, type FileMetaData } from 'hyparquet';
import { compressors as bundled } from 'hyparquet-compressors';

const CODEC_HINT = 'Cohort reads UNCOMPRESSED, SNAPPY, GZIP, BROTLI, ZSTD, LZ4 (Hadoop framing or a bare block) and LZ4_RAW; rewrite the file with one of them (e.g. pyarrow: pq.write_table(t, path, compression="zstd"))';

function sized(codec: string, out: Uint8Array, expected: number): Uint8Array {
  if (out.length !== expected) throw new Error(`${codec} page decompressed to ${out.length} bytes, the page header says ${expected}`);
  return out;
}

/**
 * Decompressors for every codec the parquet writers in use produce: pyarrow
 * (Snappy default), polars (ZSTD default), datasets, fastparquet, parquet-mr.
 * GZIP and Brotli use Node's zlib; ZSTD, Snappy and both LZ4 framings come
 * from hyparquet-compressors (pure JS / WASM, no install step).
 */
export const PARQUET_COMPRESSORS: Compressors = {
  SNAPPY: bundled.SNAPPY,
  GZIP: (input, length) => sized('GZIP', gunzipSync(input), length),
  BROTLI: (input, length) => sized('BROTLI', brotliDecompressSync(input), length),
  ZSTD: (input, length) => sized('ZSTD', bundled.ZSTD!(input, length), length),
  // LZ4 (codec 5): the Hadoop framing, falling back to a bare block as Arrow does.
  LZ4: bundled.LZ4,
  LZ4_RAW: bundled.LZ4_RAW,
};

/** A parquet file opened for reading by byte ranges (positional reads, no whole-file buffer). */
export interface ParquetFile {
  readonly path: string;
  readonly metadata: FileMetaData;
  /** Top-level column names. */
  readonly columns: readonly string[];
  readonly numRows: number;
  /** Row ranges [start, end) of the row groups, in file order. */
  readonly rowGroups: readonly { start: number; end: number }[];
  /** Decodes rows [start, end) as objects (only `columns` when given). */
  read(start: number, end: number, columns?: readonly string[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

function fileBuffer(fh: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      const buf = new Uint8Array(Math.max(0, end - start));
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done} (file is ${size} bytes)`);
        done += bytesRead;
      }
      return buf.buffer;
    },
  };
}

function describe(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  return /compression codec/i.test(msg) ? `${msg}. ${CODEC_HINT}` : msg;
}

/**
 * Opens a parquet file: reads its footer only. Errors name the file; a file
 * that is not parquet says so. Row groups are then read one at a time, so a
 * large file costs the memory of its largest row group, not of the file.
 */
export async function openParquet(path: string, expect = 'a parquet file'): Promise<ParquetFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read file (${(err as Error).message})`);
  }
  try {
    const size = (await fh.stat()).size;
    const file = fileBuffer(fh, size);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (err) {
      throw new Error(`${path}: not a parquet file (${(err as Error).message}); expected ${expect}`);
    }
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    const rowGroups: { start: number; end: number }[] = [];
    let at = 0;
    for (const rg of metadata.row_groups) {
      const n = Number(rg.num_rows);
      rowGroups.push({ start: at, end: at + n });
      at += n;
    }
    return {
      path,
      metadata,
      columns,
      numRows: Number(metadata.num_rows),
      rowGroups,
      async read(start, end, cols) {
        try {
          return (await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, columns: cols ? [...cols] : undefined, compressors: PARQUET_COMPRESSORS })) as Record<string, unknown>[];
        } catch (err) {
          throw new Error(`${path}: cannot decode rows ${start}..${end - 1} (${describe(err)})`);
        }
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/**
 * Streams a parquet file's rows one row group at a time (each batch with the
 * row number of its first row). Only `columns` are decoded when given.
 */
export async function* parquetRowGroups(path: string, opts: { columns?: readonly string[]; expect?: string } = {}): AsyncGenerator<{ first: number; rows: Record<string, unknown>[] }> {
  const pf = await openParquet(path, opts.expect);
  try {
    const cols = opts.columns?.filter((c) => pf.columns.includes(c));
    for (const g of pf.rowGroups) {
      if (g.end > g.start) yield { first: g.start, rows: await pf.read(g.start, g.end, cols) };
    }
  } finally {
    await pf.close();
  }
}
