import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Bm25Builder, Bm25Index, type Bm25Options } from './bm25.js';
import type { Doc } from './corpus.js';
import { jsonlDoc, lineText, textLines } from './corpus-file.js';
import type { ScoredRetriever } from './retriever-server.js';

/**
 * A BM25 index over a JSONL corpus that keeps only each line's byte range in
 * memory (12 bytes a document) and reads the documents a query returns back
 * from the file (positional reads; the page cache makes repeats cheap). Built
 * from the stream in one pass. For serving corpora too large to hold as
 * strings (wiki-18); the BM25 index itself stays in memory. The file must not
 * change while the index is open (size and mtime are checked on each read).
 */
export class JsonlCorpusIndex implements ScoredRetriever {
  readonly topk: number;
  private fd: number | null;
  private readonly stamp: string;

  private constructor(
    readonly path: string,
    private readonly index: Bm25Index,
    private readonly offsets: Float64Array,
    private readonly lengths: Int32Array,
    private readonly lines: Int32Array,
    topk: number,
  ) {
    this.topk = topk;
    this.fd = openSync(path, 'r');
    this.stamp = JsonlCorpusIndex.stampOf(path);
  }

  private static stampOf(path: string): string {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  }

  /** Streams `path` (JSONL, see streamCorpus for the document forms) into the index. */
  static async build(path: string, opts: Bm25Options & { topk?: number } = {}, onBatch?: (docsSoFar: number) => void): Promise<JsonlCorpusIndex> {
    const topk = opts.topk ?? 5;
    if (!Number.isInteger(topk) || topk < 1) throw new Error(`topk must be a positive integer, got ${opts.topk}`);
    const builder = new Bm25Builder(opts);
    let offsets = new Float64Array(1 << 16);
    let lengths = new Int32Array(1 << 16);
    let lines = new Int32Array(1 << 16);
    let n = 0;
    for await (const batch of textLines(path)) {
      for (const l of batch) {
        const d = jsonlDoc(path, l.line, l.text, n);
        if (n === offsets.length) {
          const grow = <T extends Float64Array | Int32Array>(a: T): T => {
            const b = new (a.constructor as new (n: number) => T)(a.length * 2);
            b.set(a);
            return b;
          };
          offsets = grow(offsets);
          lengths = grow(lengths);
          lines = grow(lines);
        }
        offsets[n] = l.offset;
        lengths[n] = l.bytes;
        lines[n] = l.line;
        builder.add(`${d.title} ${d.text}`);
        n++;
      }
      onBatch?.(n);
    }
    if (n === 0) throw new Error(`${path}: the corpus has no documents`);
    return new JsonlCorpusIndex(path, new Bm25Index(builder), offsets.slice(0, n), lengths.slice(0, n), lines.slice(0, n), topk);
  }

  get size(): number {
    return this.index.size;
  }

  private check(): number {
    if (this.fd === null) throw new Error(`${this.path}: the corpus index is closed`);
    if (JsonlCorpusIndex.stampOf(this.path) !== this.stamp) throw new Error(`${this.path} changed after it was indexed; restart to index it again`);
    return this.fd;
  }

  /** Document `i` (in file order), read back from the file. */
  doc(i: number): Doc {
    if (!(i >= 0 && i < this.size)) throw new Error(`document ${i} is out of range (0..${this.size - 1})`);
    return this.read(this.check(), i);
  }

  private read(fd: number, i: number): Doc {
    const buf = Buffer.allocUnsafe(this.lengths[i]);
    let done = 0;
    while (done < buf.length) {
      const got = readSync(fd, buf, done, buf.length - done, this.offsets[i] + done);
      if (got === 0) throw new Error(`${this.path}: unexpected end of file reading line ${this.lines[i]}`);
      done += got;
    }
    return jsonlDoc(this.path, this.lines[i], lineText(buf, this.lines[i] === 1), i);
  }

  retrieveScored(query: string, k = this.topk): { doc: Doc; score: number }[] {
    const hits = this.index.search(query, k);
    if (hits.length === 0) return [];
    const fd = this.check();
    return hits.map((h) => ({ doc: this.read(fd, h.doc), score: h.score }));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
