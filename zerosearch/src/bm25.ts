/** BM25 parameters. */
export interface Bm25Options {
  /** Term-frequency saturation (default 0.9, as in Pyserini). */
  readonly k1?: number;
  /** Length normalisation (default 0.4, as in Pyserini). */
  readonly b?: number;
}

const STOPWORDS = new Set(['a', 'an', 'the', 'of', 'in', 'is', 'was', 'and', 'to', 'what', 'who', 'where', 'which', 'when', 'did', 'does', 'do', 'by', 'for', 'on', 'at', 'its', 'it', 'as', 'are']);

/** Lowercased alphanumeric terms without stopwords. */
export function analyze(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => !STOPWORDS.has(t));
}

/** One scored hit. */
export interface Bm25Hit {
  readonly doc: number;
  readonly score: number;
}

/**
 * An inverted index (term → postings of [doc, term frequency]) scored with
 * Okapi BM25. Query time touches only the postings of the query's terms.
 */
export class Bm25Index {
  private readonly postings = new Map<string, { docs: Int32Array; tfs: Int32Array }>();
  private readonly docLen: Int32Array;
  private readonly avgLen: number;
  readonly k1: number;
  readonly b: number;

  constructor(texts: readonly string[], opts: Bm25Options = {}) {
    this.k1 = opts.k1 ?? 0.9;
    this.b = opts.b ?? 0.4;
    if (!(this.k1 >= 0) || !(this.b >= 0 && this.b <= 1)) throw new Error(`BM25 needs k1 >= 0 and 0 <= b <= 1, got k1=${this.k1} b=${this.b}`);
    this.docLen = new Int32Array(texts.length);
    const build = new Map<string, number[]>();
    texts.forEach((t, d) => {
      const terms = analyze(t);
      this.docLen[d] = terms.length;
      const tf = new Map<string, number>();
      for (const term of terms) tf.set(term, (tf.get(term) ?? 0) + 1);
      for (const [term, n] of tf) {
        let list = build.get(term);
        if (!list) build.set(term, (list = []));
        list.push(d, n);
      }
    });
    for (const [term, list] of build) {
      const docs = new Int32Array(list.length / 2);
      const tfs = new Int32Array(list.length / 2);
      for (let i = 0; i < docs.length; i++) {
        docs[i] = list[2 * i];
        tfs[i] = list[2 * i + 1];
      }
      this.postings.set(term, { docs, tfs });
    }
    let total = 0;
    for (const l of this.docLen) total += l;
    this.avgLen = texts.length ? total / texts.length : 0;
  }

  /** Number of indexed documents. */
  get size(): number {
    return this.docLen.length;
  }

  /** Document frequency of a term (after analysis). */
  docFreq(term: string): number {
    return this.postings.get(term)?.docs.length ?? 0;
  }

  /** The `k` best documents for a query, best first (ties by document order). */
  search(query: string, k: number): Bm25Hit[] {
    const n = this.size;
    const scores = new Map<number, number>();
    for (const term of new Set(analyze(query))) {
      const p = this.postings.get(term);
      if (!p) continue;
      const df = p.docs.length;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = 0; i < p.docs.length; i++) {
        const d = p.docs[i];
        const tf = p.tfs[i];
        const norm = tf + this.k1 * (1 - this.b + (this.b * this.docLen[d]) / (this.avgLen || 1));
        scores.set(d, (scores.get(d) ?? 0) + (idf * tf * (this.k1 + 1)) / norm);
      }
    }
    return [...scores.entries()]
      .map(([doc, score]) => ({ doc, score }))
      .sort((a, b) => b.score - a.score || a.doc - b.doc)
      .slice(0, k);
  }
}
