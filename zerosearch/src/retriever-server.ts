import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, HttpApiError as ApiError, listen, readJsonBody, sendJson as send } from './http-serve.js';
import type { Logger } from 'pino';
import type { Doc } from './corpus.js';
import { RetrieveRequestSchema, wikiContents } from './retriever-api.js';

const USAGE = 'send {"queries": ["..."], "topk": 3, "return_scores": true}';

/** What the retrieval server needs of a corpus: BM25 hits with their documents. */
export interface ScoredRetriever {
  /** Documents indexed. */
  readonly size: number;
  /** Documents per query when a request names none. */
  readonly topk: number;
  retrieveScored(query: string, k?: number): { doc: Doc; score: number }[];
}

/** Options of the retrieval API server. */
export interface RetrieverServerOptions {
  /** A CorpusSearchEngine (documents in memory) or a JsonlCorpusIndex (documents read from the file). */
  readonly engine: ScoredRetriever;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Largest request body (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Most queries in one request (default 512). */
  readonly maxQueries?: number;
  /** Largest `topk` (default 100). */
  readonly maxTopk?: number;
  /** Longest query in characters (default 4096). */
  readonly maxQueryChars?: number;
  /** `topk` when a request gives none (default the engine's topk). */
  readonly defaultTopk?: number;
  /** A request must arrive whole within this (default 30 s). */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A running retrieval API server. */
export interface RetrieverServer {
  /** The `/retrieve` endpoint, e.g. http://127.0.0.1:41234/retrieve. */
  readonly url: string;
  readonly port: number;
  readonly stats: { requests: number; queries: number; rejected: number };
  close(): Promise<void>;
}

/**
 * Serves a corpus's BM25 over the Search-R1 retrieval server API
 * (`POST /retrieve`, see retriever-api.ts), so anything written for
 * Search-R1's e5 + FAISS server can use Cohort's corpus. Also `GET /health`.
 * Requests are bounded (body bytes, queries, topk, query length) and
 * validated; errors come back as FastAPI-style `{"detail": "..."}` with 400
 * (not JSON), 413 (too large), 422 (invalid), 404 or 405.
 */
export async function startRetrieverServer(opts: RetrieverServerOptions): Promise<RetrieverServer> {
  const engine = opts.engine;
  const maxBody = opts.maxBodyBytes ?? 1 << 20;
  const maxQueries = opts.maxQueries ?? 512;
  const maxTopk = opts.maxTopk ?? 100;
  const maxChars = opts.maxQueryChars ?? 4096;
  const defaultTopk = opts.defaultTopk ?? engine.topk;
  const stats = { requests: 0, queries: 0, rejected: 0 };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    if (path === '/health') {
      if (req.method !== 'GET') throw new ApiError(405, '/health accepts GET only');
      return send(res, 200, { status: 'ok', documents: engine.size });
    }
    if (path !== '/retrieve') throw new ApiError(404, `no route ${req.method} ${path || '/'}; use POST /retrieve or GET /health`);
    if (req.method !== 'POST') throw new ApiError(405, `/retrieve accepts POST only; ${USAGE}`);
    const parsed = RetrieveRequestSchema.safeParse(await readJsonBody(req, maxBody, `request body is not JSON; ${USAGE}`, 'send fewer queries per request'));
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new ApiError(422, `${i.path.join('.') || 'body'}: ${i.message}; ${USAGE}`);
    }
    const { queries, return_scores } = parsed.data;
    const topk = parsed.data.topk ?? defaultTopk;
    if (queries.length > maxQueries) throw new ApiError(413, `${queries.length} queries in one request; the limit is ${maxQueries}`);
    if (topk > maxTopk) throw new ApiError(422, `topk ${topk} is over the limit of ${maxTopk}`);
    const long = queries.findIndex((q) => q.length > maxChars);
    if (long >= 0) throw new ApiError(422, `queries.${long} is ${queries[long].length} characters; the limit is ${maxChars}`);
    stats.queries += queries.length;
    const result = queries.map((q) =>
      engine.retrieveScored(q, topk).map(({ doc, score }) => {
        const document = { id: doc.id, contents: wikiContents(doc.title, doc.text) };
        return return_scores ? { document, score } : document;
      }),
    );
    send(res, 200, { result });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      stats.rejected++;
      if (err instanceof ApiError) {
        // Stop reading an oversized body: answer, then close the connection.
        if (err.status === 413) res.setHeader('connection', 'close');
        return send(res, err.status, { detail: err.message });
      }
      opts.logger?.error({ err: err.message }, 'retrieve failed');
      send(res, 500, { detail: `retrieve failed: ${err.message}` });
    });
  });
  server.requestTimeout = opts.requestTimeoutMs ?? 30_000;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  const { base, port } = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return { url: `${base}/retrieve`, port, stats, close: () => closeServer(server) };
}
