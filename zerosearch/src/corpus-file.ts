import { createReadStream } from 'node:fs';
import type { Doc } from './corpus.js';
import { parquetRowGroups } from './parquet-read.js';

/** Lines longer than this are refused (a corpus line is one passage; this bounds memory on junk input). */
export const MAX_CORPUS_LINE_BYTES = 64 << 20;

const DOC_COLUMNS = ['id', 'contents', 'title', 'text', 'entity', 'facts', 'heldout'];
const FORMATS = 'a corpus is JSONL (one JSON document a line) or parquet, each document either wiki-18 style {"id", "contents": "\\"Title\\"\\ntext"} or {"id", "title", "text"}';

/** A document of a corpus row; `where` names the file and row/line in errors. */
export function docFromRow(r: unknown, fallbackId: number, where: string): Doc {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${where}: a document must be a JSON object; ${FORMATS}`);
  const o = r as Record<string, unknown>;
  const id = o.id == null ? String(fallbackId) : String(o.id);
  let title: string;
  let text: string;
  if (typeof o.contents === 'string') {
    // wiki-18 (FlashRAG / Search-R1): contents = "\"Title\"\nbody".
    const nl = o.contents.indexOf('\n');
    title = (nl < 0 ? '' : o.contents.slice(0, nl)).replace(/^"|"$/g, '');
    text = nl < 0 ? o.contents : o.contents.slice(nl + 1);
  } else if (typeof o.text === 'string') {
    title = typeof o.title === 'string' ? o.title : '';
    text = o.text;
  } else {
    throw new Error(`${where}: document has neither "contents" (wiki-18 style) nor "text" (with an optional "title")`);
  }
  return { id, entity: typeof o.entity === 'string' ? o.entity : '', title, text, facts: Array.isArray(o.facts) ? (o.facts as string[]) : [], heldout: o.heldout === true };
}

/** The text of one line's bytes: UTF-8, without a trailing CR, or a BOM on the first line. */
export function lineText(bytes: Uint8Array, firstLine: boolean): string {
  let s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (firstLine && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s.endsWith('\r')) s = s.slice(0, -1);
  return s;
}

/** One non-empty line: its 1-based number, text, and where its bytes are in the file. */
export interface TextLine {
  readonly line: number;
  readonly text: string;
  readonly offset: number;
  readonly bytes: number;
}

/**
 * The non-empty lines of a text file, in batches, with their 1-based line
 * numbers and byte ranges; reads 1 MiB at a time, so memory is bounded by the
 * batch and the longest line (at most `MAX_CORPUS_LINE_BYTES`).
 */
export async function* textLines(path: string, batchLines = 4096): AsyncGenerator<TextLine[]> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let lineNo = 0;
  let batch: TextLine[] = [];
  let pos = 0;
  const push = (bytes: Buffer) => {
    lineNo++;
    const s = lineText(bytes, lineNo === 1);
    if (s.trim()) batch.push({ line: lineNo, text: s, offset: pos, bytes: bytes.length });
    pos += bytes.length + 1;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(10, from); nl >= 0; nl = chunk.indexOf(10, from)) {
        const piece = chunk.subarray(from, nl);
        if (carryBytes + piece.length > MAX_CORPUS_LINE_BYTES) throw new Error(`${path}: line ${lineNo + 1} is longer than ${MAX_CORPUS_LINE_BYTES >> 20} MiB; ${FORMATS}`);
        push(carry.length ? Buffer.concat([...carry, piece]) : piece);
        carry = [];
        carryBytes = 0;
        from = nl + 1;
        if (batch.length >= batchLines) {
          yield batch;
          batch = [];
        }
      }
      const rest = chunk.subarray(from);
      carryBytes += rest.length;
      if (carryBytes > MAX_CORPUS_LINE_BYTES) throw new Error(`${path}: line ${lineNo + 1} is longer than ${MAX_CORPUS_LINE_BYTES >> 20} MiB; ${FORMATS}`);
      if (rest.length) carry.push(Buffer.from(rest));
    }
  } catch (err) {
    stream.destroy();
    const e = err as NodeJS.ErrnoException;
    if (e.code) throw new Error(`${path}: cannot read the corpus (${e.message})`);
    throw err;
  }
  if (carry.length) push(Buffer.concat(carry));
  if (batch.length) yield batch;
}

/** The document of one JSONL corpus line (`n`: its position, the id when it has none). */
export function jsonlDoc(path: string, line: number, text: string, n: number): Doc {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch {
    throw new Error(`${path}: line ${line} is not JSON; ${FORMATS}`);
  }
  return docFromRow(row, n, `${path}: line ${line}`);
}

/**
 * Streams a retrieval corpus in batches of documents: JSONL line by line, or
 * parquet row group by row group (`.parquet`), so a multi-GB corpus is read
 * with memory bounded by one batch. Errors name the file and the line (JSONL)
 * or row (parquet). Document ids default to the row's position.
 */
export async function* streamCorpus(path: string): AsyncGenerator<Doc[]> {
  let n = 0;
  if (path.endsWith('.parquet')) {
    for await (const { first, rows } of parquetRowGroups(path, { columns: DOC_COLUMNS, expect: 'a corpus parquet (columns id + contents, or id + title + text)' })) {
      yield rows.map((r, k) => docFromRow(r, first + k, `${path}: row ${first + k}`));
      n += rows.length;
    }
  } else {
    for await (const lines of textLines(path)) yield lines.map(({ line, text }) => jsonlDoc(path, line, text, n++));
  }
  if (n === 0) throw new Error(`${path}: the corpus has no documents`);
}

/** Reads a whole corpus file into memory (see streamCorpus for formats and errors). */
export async function readCorpusFile(path: string): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const batch of streamCorpus(path)) for (const d of batch) out.push(d);
  return out;
}
