import { z } from 'zod';

/** Timeout and retry settings of a JSON-over-HTTP client. */
export const RetryPolicySchema = z.object({
  /** Per attempt, from request to the last byte of the answer. */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Retries after the first attempt (bounded; 0 disables). */
  maxRetries: z.number().int().min(0).max(20).default(3),
  backoffMs: z.number().int().min(0).default(200),
  maxBackoffMs: z.number().int().min(0).default(5_000),
});
export type RetryPolicy = z.output<typeof RetryPolicySchema>;

/** Counters a retrying client keeps. */
export interface RetryMetrics {
  /** HTTP attempts made (first tries and retries). */
  attempts: number;
  /** Calls that eventually succeeded. */
  succeeded: number;
  /** Calls that failed after every retry (or on a non-retryable answer). */
  failed: number;
  retries: number;
  timeouts: number;
}

export function newRetryMetrics(): RetryMetrics {
  return { attempts: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0 };
}

/** Deterministic backoff jitter in [0, 1) (xorshift32; no Math.random). */
export function xorshiftJitter(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** A non-2xx answer. */
export class HttpStatusError extends Error {
  constructor(readonly status: number, body: string) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** The final failure of a call: every attempt failed, or the server refused the request (4xx other than 429). */
export class RetriesExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: string,
    readonly tried: readonly string[],
    /** HTTP status of the last answer, when there was one. */
    readonly status?: number,
  ) {
    super(lastError);
  }
}

/** The most telling part of a fetch error: the socket error code, else the cause, else the message. */
export function describeFetchError(e: Error): string {
  const cause = (e as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  // undici's own codes (UND_ERR_SOCKET, ...) say little alone: keep their message ("other side closed").
  if (code) return cause?.message && !cause.message.includes(code) ? `${code} (${cause.message})` : code;
  return cause?.message ? `${e.message}: ${cause.message}` : e.message;
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`response body over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One JSON request with a per-attempt timeout and bounded retries. */
export interface RequestJsonOptions {
  /** The URL of each attempt (called once per attempt: lets a client rotate addresses). */
  url: () => string;
  /** POST (default, with `body` as JSON) or GET. */
  method?: 'POST' | 'GET';
  body?: unknown;
  /** How errors name the URL (default the URL itself; give one when the URL holds a secret). */
  label?: (url: string) => string;
  headers?: Record<string, string>;
  policy: RetryPolicy;
  metrics: RetryMetrics;
  /** A number in [0, 1) for backoff jitter. */
  jitter: () => number;
  /** Largest answer read (default 64 MiB): a server streaming junk cannot exhaust memory. */
  maxResponseBytes?: number;
  /** Called after each failed attempt. */
  onAttemptFailed?: (attempt: number, of: number, error: string) => void;
}

/**
 * Sends a JSON request (POST, or GET) and parses the JSON answer: a timeout per attempt
 * (AbortController, covering the whole answer), retries with exponential
 * backoff and jitter on network errors, timeouts, 429 and 5xx and unreadable
 * answers; a 4xx answer fails at once. Throws RetriesExhaustedError.
 */
export async function requestJson(o: RequestJsonOptions): Promise<unknown> {
  const { policy, metrics } = o;
  const attempts = policy.maxRetries + 1;
  const maxBytes = o.maxResponseBytes ?? 64 << 20;
  const method = o.method ?? 'POST';
  const payload = method === 'POST' ? JSON.stringify(o.body) : undefined;
  const label = o.label ?? ((u: string) => u);
  const tried: string[] = [];
  let last = '';
  let lastStatus: number | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      metrics.retries++;
      const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (i - 1));
      await new Promise((r) => setTimeout(r, base / 2 + o.jitter() * (base / 2)));
    }
    const url = o.url();
    const shown = label(url);
    if (!tried.includes(shown)) tried.push(shown);
    metrics.attempts++;
    lastStatus = undefined;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), policy.timeoutMs);
    try {
      const headers = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers };
      const res = await fetch(url, { method, headers, body: payload, signal: ctrl.signal });
      lastStatus = res.status;
      const text = await readCapped(res, maxBytes);
      if (!res.ok) throw new HttpStatusError(res.status, text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new Error(`answer is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
      }
      metrics.succeeded++;
      return json;
    } catch (err) {
      const e = err as Error;
      if (ctrl.signal.aborted) {
        metrics.timeouts++;
        last = `timed out after ${policy.timeoutMs} ms (${shown})`;
      } else {
        last = `${describeFetchError(e)} (${shown})`;
      }
      o.onAttemptFailed?.(i + 1, attempts, last);
      const retryable = !(err instanceof HttpStatusError) || err.status === 429 || err.status >= 500;
      if (!retryable) {
        metrics.failed++;
        throw new RetriesExhaustedError(i + 1, last, tried, err.status);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  metrics.failed++;
  throw new RetriesExhaustedError(attempts, last, tried, lastStatus);
}
