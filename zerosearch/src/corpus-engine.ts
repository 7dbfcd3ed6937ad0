import { Bm25Builder, Bm25Index, type Bm25Options } from './bm25.js';
import type { Doc } from './corpus.js';
import { streamCorpus } from './corpus-file.js';
import { validateRequests, type SearchEngine, type SearchRequest, type SearchResult } from './search-engine.js';
import { formatDocs } from './template.js';

/** The text a document is indexed by: its title and its text. */
const indexText = (d: Doc) => `${d.title} ${d.text}`;

/** Options of the local corpus engine. */
export interface CorpusEngineOptions extends Bm25Options {
  /** Documents per search (default 5). */
  readonly topk?: number;
}

/** The `corpus` engine: BM25 over the world's documents — Cohort's "real" search engine. */
export class CorpusSearchEngine implements SearchEngine {
  readonly name = 'corpus';
  private readonly index: Bm25Index;
  readonly topk: number;

  /** `index`, when given, must have been built from `docs` in order (see fromFile). */
  constructor(readonly docs: readonly Doc[], opts: CorpusEngineOptions = {}, index?: Bm25Index) {
    if (docs.length === 0) throw new Error('corpus engine needs at least one document; run `cohort data make` first');
    this.topk = opts.topk ?? 5;
    if (!Number.isInteger(this.topk) || this.topk < 1) throw new Error(`topk must be a positive integer, got ${opts.topk}`);
    if (index && index.size !== docs.length) throw new Error(`the BM25 index holds ${index.size} documents but ${docs.length} were given`);
    this.index = index ?? new Bm25Index(docs.map(indexText), opts);
  }

  /**
   * Streams a corpus file (JSONL or parquet, see streamCorpus) into the
   * engine: each batch is indexed as it arrives, so the file is never held
   * whole; the documents and the index stay in memory.
   */
  static async fromFile(path: string, opts: CorpusEngineOptions = {}, onBatch?: (docsSoFar: number) => void): Promise<CorpusSearchEngine> {
    const builder = new Bm25Builder(opts);
    const docs: Doc[] = [];
    for await (const batch of streamCorpus(path)) {
      for (const d of batch) {
        builder.add(indexText(d));
        docs.push(d);
      }
      onBatch?.(docs.length);
    }
    return new CorpusSearchEngine(docs, opts, new Bm25Index(builder));
  }

  /** Documents indexed. */
  get size(): number {
    return this.docs.length;
  }

  /** The documents for one query, best first. */
  retrieve(query: string, k = this.topk): Doc[] {
    return this.index.search(query, k).map((h) => this.docs[h.doc]);
  }

  /** The documents for one query with their BM25 scores, best first. */
  retrieveScored(query: string, k = this.topk): { doc: Doc; score: number }[] {
    return this.index.search(query, k).map((h) => ({ doc: this.docs[h.doc], score: h.score }));
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    validateRequests(requests);
    return requests.map((r) => {
      const docs = this.retrieve(r.query).map((d) => d.text);
      return { query: r.query, docs, text: formatDocs(docs), engine: this.name };
    });
  }
}
