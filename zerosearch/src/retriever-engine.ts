import type { Logger } from 'pino';
import { z } from 'zod';
import { docFromRow } from './corpus-file.js';
import { newRetryMetrics, requestJson, RetriesExhaustedError, RetryPolicySchema, xorshiftJitter, type RetryMetrics } from './http-retry.js';
import { RetrieveResponseSchema } from './retriever-api.js';
import { validateRequests, type SearchEngine, type SearchRequest, type SearchResult } from './search-engine.js';
import { formatDocs } from './template.js';

/** Options of the `retriever` engine. */
export const RetrieverEngineOptionsSchema = RetryPolicySchema.extend({
  /** The server's retrieve endpoint, e.g. http://127.0.0.1:8000/retrieve. */
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), { message: 'the retriever url must be http:// or https://, e.g. http://127.0.0.1:8000/retrieve' }),
  /** Documents per query (`topk` of the request). */
  topk: z.number().int().positive().max(100).default(5),
  /** Queries sent in one request (a batch of searches is split into requests this size). */
  batchSize: z.number().int().positive().max(1024).default(64),
  /** Prefix each document with its title (`Title: text`, as the http engine); off gives the text alone, like the corpus engine. */
  titles: z.boolean().default(true),
}).strict();
export type RetrieverEngineOptions = z.input<typeof RetrieverEngineOptionsSchema>;

/** A retriever that failed after its retries, or refused the request. */
export class RetrieverUnavailableError extends Error {
  override readonly name = 'RetrieverUnavailableError';
}

/**
 * The `retriever` engine: the Search-R1 retrieval server API (`POST
 * /retrieve`, see retriever-api.ts) — the e5 + FAISS server over wiki-18 that
 * Search-R1 and ZeroSearch evaluate with, or `cohort search serve`. Batches
 * queries into requests; each request has a timeout and bounded retries with
 * backoff (a server that stops answering fails the search with a clear error
 * after `maxRetries`, never hangs). Answers are validated: one result list per
 * query, documents with `contents` (or `title` + `text`).
 */
export class RetrieverSearchEngine implements SearchEngine {
  readonly name = 'retriever';
  readonly options: z.output<typeof RetrieverEngineOptionsSchema>;
  readonly metrics: RetryMetrics = newRetryMetrics();
  private readonly jitter = xorshiftJitter(0x9e3779b9);

  constructor(options: RetrieverEngineOptions, private readonly logger?: Logger) {
    const r = RetrieverEngineOptionsSchema.safeParse(options);
    if (!r.success) throw new Error(`bad retriever engine options: ${r.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
    this.options = r.data;
  }

  /** One request for a batch of queries: per query, the documents (formatted) and their scores. */
  private async retrieve(queries: readonly string[]): Promise<{ docs: string[]; scores: (number | null)[] }[]> {
    const url = this.options.url;
    let body: unknown;
    try {
      body = await requestJson({
        url: () => url,
        body: { queries, topk: this.options.topk, return_scores: true },
        policy: this.options,
        metrics: this.metrics,
        jitter: this.jitter,
        onAttemptFailed: (attempt, of, err) => this.logger?.warn({ attempt, of, err }, 'retriever request failed'),
      });
    } catch (err) {
      if (!(err instanceof RetriesExhaustedError)) throw err;
      const refused = err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 429;
      throw new RetrieverUnavailableError(
        refused
          ? `retriever at ${url} refused the request (${err.lastError}); check that the url is the server's /retrieve endpoint`
          : `retriever at ${url} not answering after ${err.attempts} attempt(s): ${err.lastError}. Check that the server is up (Search-R1 retrieval_server.py, or cohort search serve CORPUS --port P) and the url is right.`,
      );
    }
    const parsed = RetrieveResponseSchema.safeParse(body);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new RetrieverUnavailableError(`retriever at ${url} answered a body that is not the retrieval API's {"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]} (at ${i.path.join('.') || 'body'}: ${i.message})`);
    }
    const result = parsed.data.result;
    if (result.length !== queries.length) throw new RetrieverUnavailableError(`retriever at ${url} answered ${result.length} result list(s) for ${queries.length} queries`);
    return result.map((list, q) =>
      list.slice(0, this.options.topk).map((entry, j) => {
        const hit = 'document' in entry && typeof entry.document === 'object' ? (entry as { document: Record<string, unknown>; score?: number }) : { document: entry as Record<string, unknown>, score: undefined };
        let doc;
        try {
          doc = docFromRow(hit.document, j, `retriever at ${url}: query ${q}, document ${j}`);
        } catch (err) {
          throw new RetrieverUnavailableError((err as Error).message);
        }
        const text = this.options.titles && doc.title ? `${doc.title}: ${doc.text}` : doc.text;
        return { text, score: hit.score ?? null };
      }),
    ).map((hits) => ({ docs: hits.map((h) => h.text), scores: hits.map((h) => h.score) }));
  }

  /** Checks the server answers one query (call before a long job, so a wrong url fails at start). */
  async probe(): Promise<void> {
    await this.retrieve(['retriever probe']);
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    validateRequests(requests);
    const out: SearchResult[] = [];
    for (let i = 0; i < requests.length; i += this.options.batchSize) {
      const batch = requests.slice(i, i + this.options.batchSize);
      const answers = await this.retrieve(batch.map((r) => r.query));
      batch.forEach((r, k) => {
        const a = answers[k];
        const scores = a.scores.every((s): s is number => s !== null) ? { scores: a.scores } : {};
        out.push({ query: r.query, docs: a.docs, text: formatDocs(a.docs), engine: this.name, ...scores });
      });
    }
    return out;
  }
}
