import { z } from 'zod';

/** Whether a simulated search is asked for helpful or misleading documents. */
export type SearchMode = 'useful' | 'noisy';

/**
 * One search call. The question and golden answers travel with the request,
 * taken from the trajectory that issued it, never looked up by batch position.
 */
export interface SearchRequest {
  readonly query: string;
  /** The issuing trajectory's question (used by the simulator's prompt). */
  readonly question?: string;
  /** The issuing trajectory's golden answers (used by the simulator's prompt). */
  readonly goldenAnswers?: readonly string[];
  /** The issuing trajectory's id (for logs and metrics). */
  readonly trajectoryId?: string;
  /** Forces the simulator's prompt; otherwise the engine's noise schedule draws it. */
  readonly mode?: SearchMode;
  /** The training step, for the curriculum draw. */
  readonly step?: number;
}

/** Validates a search request at the engine boundary. */
export const SearchRequestSchema = z.object({
  query: z.string().refine((q) => q.trim().length > 0, { message: 'search query is empty; pass a non-empty query string' }),
  question: z.string().optional(),
  goldenAnswers: z.array(z.string()).optional(),
  trajectoryId: z.string().optional(),
  mode: z.enum(['useful', 'noisy']).optional(),
  step: z.number().int().nonnegative().optional(),
});

/** The answer to one search call. */
export interface SearchResult {
  readonly query: string;
  /** The documents, plain text each. */
  readonly docs: readonly string[];
  /** The documents formatted for the observation block (`Doc 1: …` lines). */
  readonly text: string;
  /** The engine that answered. */
  readonly engine: string;
  /** The simulator prompt used, when simulated. */
  readonly mode?: SearchMode;
  /** The engine's score of each document, when it gives one (corpus BM25, retriever). */
  readonly scores?: readonly number[];
  /** Set when the engine failed and inserted the fallback text instead. */
  readonly error?: string;
}

/** One batched interface over every search backend. */
export interface SearchEngine {
  readonly name: string;
  /** Answers a batch of requests, one result per request, in order. */
  search(requests: readonly SearchRequest[]): Promise<SearchResult[]>;
  /** Releases sockets, timers or models. */
  close?(): Promise<void>;
}

/** Throws a clear error for a malformed request (names the index and the problem). */
export function validateRequests(requests: readonly SearchRequest[]): void {
  if (!Array.isArray(requests)) throw new Error('search(requests) expects an array of { query, ... } objects');
  requests.forEach((r, i) => {
    const res = SearchRequestSchema.safeParse(r);
    if (!res.success) throw new Error(`search request ${i}: ${res.error.issues.map((x) => `${x.path.join('.') || 'request'}: ${x.message}`).join('; ')}`);
  });
}
