import { Bm25Index, type Bm25Options } from './bm25.js';
import type { Doc } from './corpus.js';
import { validateRequests, type SearchEngine, type SearchRequest, type SearchResult } from './search-engine.js';
import { formatDocs } from './template.js';

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

  constructor(readonly docs: readonly Doc[], opts: CorpusEngineOptions = {}) {
    if (docs.length === 0) throw new Error('corpus engine needs at least one document; run `cohort data make` first');
    this.topk = opts.topk ?? 5;
    if (!Number.isInteger(this.topk) || this.topk < 1) throw new Error(`topk must be a positive integer, got ${opts.topk}`);
    this.index = new Bm25Index(
      docs.map((d) => `${d.title} ${d.text}`),
      opts,
    );
  }

  /** The documents for one query, best first. */
  retrieve(query: string, k = this.topk): Doc[] {
    return this.index.search(query, k).map((h) => this.docs[h.doc]);
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    validateRequests(requests);
    return requests.map((r) => {
      const docs = this.retrieve(r.query).map((d) => d.text);
      return { query: r.query, docs, text: formatDocs(docs), engine: this.name };
    });
  }
}
