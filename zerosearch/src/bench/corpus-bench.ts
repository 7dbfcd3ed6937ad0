import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Bm25Builder, Bm25Index } from '../bm25.js';
import { CorpusSearchEngine } from '../corpus-engine.js';
import { streamCorpus } from '../corpus-file.js';
import { JsonlCorpusIndex } from '../jsonl-corpus-index.js';
import { Rng } from '@cohort/engine/rng';
import { RetrieverSearchEngine } from '../retriever-engine.js';
import { startRetrieverServer } from '../retriever-server.js';

/** Figures of `cohort bench corpus`. */
export interface CorpusBench {
  readonly documents: number;
  readonly fileBytes: number;
  readonly wordsPerDoc: number;
  /** streamCorpus alone (JSON parse + documents), documents/s and MB/s. */
  readonly readDocsPerS: number;
  readonly readMBPerS: number;
  /** The stream into a Bm25Builder (documents not kept), documents/s. */
  readonly indexDocsPerS: number;
  readonly vocabulary: number;
  readonly postings: number;
  /** Retained bytes of the BM25 index alone (after GC), per document. */
  readonly indexBytesPerDoc: number;
  /** Retained bytes of a CorpusSearchEngine (documents + index), per document. */
  readonly engineBytesPerDoc: number;
  /** Retained bytes of a JsonlCorpusIndex (index + 12-byte line ranges; documents stay in the file), per document. */
  readonly fileIndexBytesPerDoc: number;
  /** Per 100k documents, MiB: index alone, documents + index, index + line ranges. */
  readonly indexMiBPer100k: number;
  readonly engineMiBPer100k: number;
  readonly fileIndexMiBPer100k: number;
  /** × 21M passages (wiki-18), GiB, linear: documents + index in memory, and the file-backed index. */
  readonly wiki18EngineGiB: number;
  readonly wiki18FileIndexGiB: number;
  /** Queries/s through the file-backed index (documents read back from the file). */
  readonly fileIndexQps: number;
  /** BM25 queries/s in process, and through the retrieval API (64 queries a request) on loopback. */
  readonly queryQps: number;
  readonly apiQps: number;
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function retained(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Words by Zipf rank: short, deterministic, letters only. */
function word(rank: number): string {
  let x = (rank + 1) * 2654435761;
  let s = '';
  const len = 2 + Math.min(10, Math.floor(Math.log2(rank + 2)));
  for (let i = 0; i < len; i++) {
    x = (x ^ (x >>> 13)) * 1274126177;
    s += String.fromCharCode(97 + (Math.abs(x) % 26));
  }
  return s;
}

/**
 * Writes a wiki-18-style JSONL corpus of `docs` passages ({"id", "contents":
 * "\"Title\"\ntext"}) with Zipf-distributed words (s = 1.07 over a million
 * ranks), so vocabulary and posting counts grow as in natural text.
 */
async function writeSyntheticCorpus(file: string, docs: number, wordsPerDoc: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const V = 1_000_000;
  const cdf = new Float64Array(V);
  let acc = 0;
  for (let r = 0; r < V; r++) cdf[r] = acc += 1 / Math.pow(r + 1, 1.07);
  const draw = () => {
    const u = rng.next() * acc;
    let lo = 0;
    let hi = V - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return word(lo);
  };
  const out = createWriteStream(file);
  for (let i = 0; i < docs; i += 1000) {
    let chunk = '';
    for (let d = i; d < Math.min(docs, i + 1000); d++) {
      const title = `${draw()} ${draw()}`;
      const words: string[] = [];
      for (let w = 0; w < wordsPerDoc; w++) words.push(draw());
      chunk += JSON.stringify({ id: String(d), contents: `"${title}"\n${words.join(' ')}` }) + '\n';
    }
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
}

/**
 * Measures what a corpus costs: reading it as a stream, building the BM25
 * index from the stream, the retained memory of the index alone and of a
 * corpus engine (documents + index) and of a file-backed JsonlCorpusIndex,
 * and query throughput in process and
 * through the retrieval API. The corpus is synthetic (see writeSyntheticCorpus).
 */
export async function benchCorpus(opts: { docs?: number; wordsPerDoc?: number; seed?: number; queries?: number } = {}): Promise<CorpusBench> {
  const docs = opts.docs ?? 100_000;
  const wordsPerDoc = opts.wordsPerDoc ?? 100;
  const dir = await mkdtemp(join(tmpdir(), 'cohort-corpus-bench-'));
  try {
    const file = join(dir, 'corpus.jsonl');
    await writeSyntheticCorpus(file, docs, wordsPerDoc, opts.seed ?? 1);
    const fileBytes = (await stat(file)).size;

    let t = performance.now();
    let n = 0;
    for await (const batch of streamCorpus(file)) n += batch.length;
    const readS = (performance.now() - t) / 1000;

    const base = retained();
    t = performance.now();
    const builder = new Bm25Builder();
    for await (const batch of streamCorpus(file)) for (const d of batch) builder.add(`${d.title} ${d.text}`);
    let index: Bm25Index | null = new Bm25Index(builder);
    const indexS = (performance.now() - t) / 1000;
    const indexBytes = retained() - base;
    const vocabulary = index.vocabulary;
    const postings = index.postings;
    index = null;

    const base2 = retained();
    const engine = await CorpusSearchEngine.fromFile(file);
    const engineBytes = retained() - base2;

    const base3 = retained();
    const lean = await JsonlCorpusIndex.build(file);
    const leanBytes = retained() - base3;

    const rng = new Rng(7);
    const sample = Array.from({ length: opts.queries ?? 2000 }, () => {
      const d = engine.docs[Math.floor(rng.next() * engine.docs.length)];
      const w = d.text.split(' ');
      return [0, 1, 2].map(() => w[Math.floor(rng.next() * w.length)]).join(' ');
    });
    t = performance.now();
    for (const q of sample) engine.retrieve(q, 5);
    const queryQps = sample.length / ((performance.now() - t) / 1000);
    t = performance.now();
    for (const q of sample) lean.retrieveScored(q, 5);
    const fileIndexQps = sample.length / ((performance.now() - t) / 1000);
    lean.close();

    const server = await startRetrieverServer({ engine });
    let apiQps = 0;
    try {
      const client = new RetrieverSearchEngine({ url: server.url, batchSize: 64, maxRetries: 0 });
      t = performance.now();
      await client.search(sample.map((query) => ({ query })));
      apiQps = sample.length / ((performance.now() - t) / 1000);
    } finally {
      await server.close();
    }
    const MiB = 2 ** 20;
    return {
      documents: n,
      fileBytes,
      wordsPerDoc,
      readDocsPerS: n / readS,
      readMBPerS: fileBytes / 1e6 / readS,
      indexDocsPerS: n / indexS,
      vocabulary,
      postings,
      indexBytesPerDoc: indexBytes / n,
      engineBytesPerDoc: engineBytes / n,
      indexMiBPer100k: (indexBytes / n) * 1e5 / MiB,
      fileIndexBytesPerDoc: leanBytes / n,
      engineMiBPer100k: (engineBytes / n) * 1e5 / MiB,
      fileIndexMiBPer100k: (leanBytes / n) * 1e5 / MiB,
      wiki18EngineGiB: ((engineBytes / n) * 21e6) / 2 ** 30,
      wiki18FileIndexGiB: ((leanBytes / n) * 21e6) / 2 ** 30,
      queryQps,
      fileIndexQps,
      apiQps,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
