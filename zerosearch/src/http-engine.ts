import { z } from 'zod';
import { validateRequests, type SearchEngine, type SearchRequest, type SearchResult } from './search-engine.js';
import { formatDocs } from './template.js';
import { describeFetchError } from './http-retry.js';

/** Options of the SerpAPI-shaped engine. */
export const HttpEngineOptionsSchema = z
  .object({
    /** Endpoint, e.g. https://serpapi.com/search (any server answering the same shape). */
    url: z.string().url(),
    apiKey: z.string().min(1, 'the http engine needs an API key (set --api-key or SERPAPI_API_KEY)'),
    topk: z.number().int().positive().max(100).default(5),
    timeoutMs: z.number().int().positive().default(20_000),
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
 * reading `organic_results[].{title, snippet}`. Errors (HTTP status, an
 * `error` field, a timeout, a malformed body) reject with the query named.
 */
export class HttpSearchEngine implements SearchEngine {
  readonly name = 'http';
  readonly options: z.output<typeof HttpEngineOptionsSchema>;

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
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.options.timeoutMs);
    let body: unknown;
    try {
      const res = await fetch(u, { signal: ctrl.signal });
      const text = await res.text();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error('response is not JSON');
      }
    } catch (err) {
      const why = ctrl.signal.aborted ? `timed out after ${this.options.timeoutMs} ms` : describeFetchError(err as Error);
      throw new Error(`http search for "${r.query}" at ${this.options.url} failed: ${why}`);
    } finally {
      clearTimeout(timer);
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
