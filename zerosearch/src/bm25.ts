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

function grow(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const out = new Int32Array(Math.max(need, Math.ceil(a.length * 1.5), 1024));
  out.set(a);
  return out;
}

function checkParams(opts: Bm25Options): { k1: number; b: number } {
  const k1 = opts.k1 ?? 0.9;
  const b = opts.b ?? 0.4;
  if (!(k1 >= 0) || !(b >= 0 && b <= 1)) throw new Error(`BM25 needs k1 >= 0 and 0 <= b <= 1, got k1=${k1} b=${b}`);
  return { k1, b };
}

/**
 * Builds a BM25 index one document at a time, so a corpus can be indexed as
 * it streams in. Keeps a term dictionary and a log of (term id, frequency)
 * per document; `new Bm25Index(builder)` turns the log into postings.
 */
export class Bm25Builder {
  readonly k1: number;
  readonly b: number;
  /** @internal */ terms = new Map<string, number>();
  /** @internal */ logTerm = new Int32Array(1024);
  /** @internal */ logTf = new Int32Array(1024);
  /** @internal */ logLen = 0;
  /** @internal */ docLen = new Int32Array(1024);
  /** @internal */ docStart = new Int32Array(1025);
  private n = 0;
  private done = false;

  constructor(opts: Bm25Options = {}) {
    ({ k1: this.k1, b: this.b } = checkParams(opts));
  }

  /** Number of documents added. */
  get size(): number {
    return this.n;
  }

  /** Adds a document; returns its number (0, 1, 2, … in the order added). */
  add(text: string): number {
    if (this.done) throw new Error('this Bm25Builder was already turned into an index; make a new builder');
    const d = this.n++;
    if (d >= 0x7fffffff) throw new Error('BM25 index is full (2^31 - 1 documents)');
    const terms = analyze(text);
    const tf = new Map<number, number>();
    for (const t of terms) {
      let id = this.terms.get(t);
      if (id === undefined) this.terms.set(t, (id = this.terms.size));
      tf.set(id, (tf.get(id) ?? 0) + 1);
    }
    this.docLen = grow(this.docLen, d + 1);
    this.docStart = grow(this.docStart, d + 2);
    this.docLen[d] = terms.length;
    this.logTerm = grow(this.logTerm, this.logLen + tf.size);
    this.logTf = grow(this.logTf, this.logLen + tf.size);
    for (const [id, n] of tf) {
      this.logTerm[this.logLen] = id;
      this.logTf[this.logLen++] = n;
    }
    this.docStart[d + 1] = this.logLen;
    return d;
  }

  /** @internal Marks the builder consumed. */
  take(): number {
    if (this.done) throw new Error('this Bm25Builder was already turned into an index; make a new builder');
    this.done = true;
    return this.n;
  }
}

/**
 * An inverted index (term → postings of [doc, term frequency], stored as one
 * compressed-sparse-row table) scored with Okapi BM25. Query time touches
 * only the postings of the query's terms.
 *
 * Memory: 6 bytes a posting (one per distinct term of a document: a 4-byte
 * document number and a 2-byte term frequency, saturated at 65,535), 4 bytes a
 * document, plus the term dictionary (a Map entry and the term's string).
 */
export class Bm25Index {
  private readonly terms: Map<string, number>;
  /** Postings of term t: docs/tfs[offsets[t] .. offsets[t + 1]), docs ascending. */
  private readonly offsets: Int32Array;
  private readonly docs: Int32Array;
  /** Term frequencies, saturated at 65,535 (BM25's own saturation makes larger counts score alike). */
  private readonly tfs: Uint16Array;
  private readonly docLen: Int32Array;
  private readonly avgLen: number;
  private scratch: Float64Array | null = null;
  readonly k1: number;
  readonly b: number;

  /** Indexes `texts`, or finishes a Bm25Builder fed one document at a time. */
  constructor(source: readonly string[] | Bm25Builder, opts: Bm25Options = {}) {
    let builder: Bm25Builder;
    if (source instanceof Bm25Builder) builder = source;
    else {
      builder = new Bm25Builder(opts);
      for (const t of source) builder.add(t);
    }
    this.k1 = builder.k1;
    this.b = builder.b;
    const n = builder.take();
    const V = builder.terms.size;
    const P = builder.logLen;
    const offsets = new Int32Array(V + 1);
    for (let i = 0; i < P; i++) offsets[builder.logTerm[i] + 1]++;
    for (let t = 0; t < V; t++) offsets[t + 1] += offsets[t];
    const fill = offsets.slice(0, V);
    const docs = new Int32Array(P);
    const tfs = new Uint16Array(P);
    for (let d = 0; d < n; d++) {
      for (let i = builder.docStart[d]; i < builder.docStart[d + 1]; i++) {
        const at = fill[builder.logTerm[i]]++;
        docs[at] = d;
        tfs[at] = Math.min(65535, builder.logTf[i]);
      }
    }
    this.terms = builder.terms;
    this.offsets = offsets;
    this.docs = docs;
    this.tfs = tfs;
    this.docLen = builder.docLen.slice(0, n);
    // Release the builder's log (it may be large).
    builder.logTerm = builder.logTf = builder.docStart = builder.docLen = new Int32Array(0);
    builder.terms = new Map();
    let total = 0;
    for (const l of this.docLen) total += l;
    this.avgLen = n ? total / n : 0;
  }

  /** Number of indexed documents. */
  get size(): number {
    return this.docLen.length;
  }

  /** Distinct terms indexed. */
  get vocabulary(): number {
    return this.terms.size;
  }

  /** Postings stored (one per distinct term of each document). */
  get postings(): number {
    return this.docs.length;
  }

  /** Document frequency of a term (after analysis). */
  docFreq(term: string): number {
    const t = this.terms.get(term);
    return t === undefined ? 0 : this.offsets[t + 1] - this.offsets[t];
  }

  /** The `k` best documents for a query, best first (ties by document order). */
  search(query: string, k: number): Bm25Hit[] {
    const n = this.size;
    if (k <= 0 || n === 0) return [];
    const scores = (this.scratch ??= new Float64Array(n));
    const touched: number[] = [];
    for (const term of new Set(analyze(query))) {
      const t = this.terms.get(term);
      if (t === undefined) continue;
      const lo = this.offsets[t];
      const hi = this.offsets[t + 1];
      const df = hi - lo;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = lo; i < hi; i++) {
        const d = this.docs[i];
        const tf = this.tfs[i];
        const norm = tf + this.k1 * (1 - this.b + (this.b * this.docLen[d]) / (this.avgLen || 1));
        if (scores[d] === 0) touched.push(d);
        scores[d] += (idf * tf * (this.k1 + 1)) / norm;
      }
    }
    // Top k by score, ties by document number; the scratch is zeroed for the next query.
    const best: Bm25Hit[] = [];
    for (const d of touched) {
      const s = scores[d];
      scores[d] = 0;
      if (best.length === k && !(s > best[k - 1].score || (s === best[k - 1].score && d < best[k - 1].doc))) continue;
      let at = best.length;
      while (at > 0 && (best[at - 1].score < s || (best[at - 1].score === s && best[at - 1].doc > d))) at--;
      best.splice(at, 0, { doc: d, score: s });
      if (best.length > k) best.pop();
    }
    return best;
  }
}
