import { z } from 'zod';
import { validateRequests, type SearchEngine, type SearchRequest, type SearchResult } from './search-engine.js';
import { formatDocs } from './template.js';
import { newRetryMetrics, requestJson, RetriesExhaustedError, xorshiftJitter, type RetryMetrics } from './http-retry.js';

/** Options of the SerpAPI-shaped engine. */
export const HttpEngineOptionsSchema = z
  .object({
    /** Endpoint, e.g. https://serpapi.com/search (any server answering the same shape). */
    url: z.string().url(),
    apiKey: z.string().min(1, 'the http engine needs an API key (set --api-key or SERPAPI_API_KEY)'),
    topk: z.number().int().positive().max(100).default(5),
    timeoutMs: z.number().int().positive().default(20_000),
    /** Retries of a failed request (network error, timeout, 429, 5xx; a 4xx is not retried). */
    maxRetries: z.number().int().min(0).max(20).default(2),
    backoffMs: z.number().int().min(0).default(200),
    maxBackoffMs: z.number().int().min(0).default(5_000),
    /** Extra query parameters (e.g. engine=google, hl=en). */
    params: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type HttpEngineOptions = z.input<typeof HttpEngineOptionsSchema>;

const SerpResponse = z.object({
  organic_results: z.array(z.object({ title: z.string().optional(), snippet: z.string().optional() }).passthrough()).optional(),
  error: z.string().optional(),
});

/**
 * The `http` engine: a SerpAPI-shaped GET (`q`, `api_key`, `num`) per query,
 * reading `organic_results[].{title, snippet}`. Network errors, timeouts, 429
 * and 5xx are retried (`maxRetries`, with backoff); errors (HTTP status, an
 * `error` field, a timeout, a malformed body) reject with the query named,
 * never the API key.
 */
export class HttpSearchEngine implements SearchEngine {
  readonly name = 'http';
  readonly options: z.output<typeof HttpEngineOptionsSchema>;
  readonly metrics: RetryMetrics = newRetryMetrics();
  private readonly jitter = xorshiftJitter(0x5bd1e995);

  constructor(options: HttpEngineOptions) {
    const r = HttpEngineOptionsSchema.safeParse(options);
    if (!r.success) throw new Error(`bad http engine options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.options = r.data;
  }

  private async one(r: SearchRequest): Promise<SearchResult> {
    const u = new URL(this.options.url);
    for (const [k, v] of Object.entries(this.options.params)) u.searchParams.set(k, v);
    u.searchParams.set('q', r.query);
    u.searchParams.set('api_key', this.options.apiKey);
    u.searchParams.set('num', String(this.options.topk));
    let body: unknown;
    try {
      body = await requestJson({
        url: () => u.toString(),
        method: 'GET',
        // The URL holds the API key: errors name the endpoint only.
        label: () => this.options.url,
        policy: this.options,
        metrics: this.metrics,
        jitter: this.jitter,
      });
    } catch (err) {
      if (!(err instanceof RetriesExhaustedError)) throw err;
      const why = err.lastError.replace(/ \([^()]*\)$/, '');
      throw new Error(`http search for "${r.query}" at ${this.options.url} failed: ${why} (${err.attempts} attempt(s))`);
    }
    const parsed = SerpResponse.safeParse(body);
    if (!parsed.success) throw new Error(`http search for "${r.query}": response has no valid organic_results list`);
    if (parsed.data.error) throw new Error(`http search for "${r.query}": server says "${parsed.data.error}"`);
    const docs = (parsed.data.organic_results ?? [])
      .slice(0, this.options.topk)
      .map((o) => [o.title, o.snippet].filter((s) => s && s.trim()).join(': '))
      .filter((s) => s.length > 0);
    return { query: r.query, docs, text: formatDocs(docs), engine: this.name };
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    validateRequests(requests);
    return Promise.all(requests.map((r) => this.one(r)));
  }
}
