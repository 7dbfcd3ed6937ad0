/** Batching limits. */
export interface BatcherOptions {
  /** Largest batch handed to the backend. */
  maxBatch: number;
  /** Longest the first queued request waits for company before a partial batch goes out. */
  maxWaitMs: number;
}

/** Running counters of a batcher. */
export interface BatcherStats {
  requests: number;
  batches: number;
  /** Sizes of every batch sent, in order (bounded to the last 10 000). */
  sizes: number[];
  maxSize: number;
  /** Requests that failed because their batch failed. */
  failed: number;
}

interface Pending<Q, R> {
  request: Q;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Dynamic batching of concurrent requests into backend calls: requests queue
 * up; a batch goes out when `maxBatch` are waiting or when the oldest has
 * waited `maxWaitMs`. One backend call runs at a time (the backend owns a
 * device), so requests that arrive during a call form the next batch.
 */
export class DynamicBatcher<Q, R> {
  private queue: Pending<Q, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  readonly stats: BatcherStats = { requests: 0, batches: 0, sizes: [], maxSize: 0, failed: 0 };

  constructor(
    private readonly run: (batch: Q[]) => Promise<R[]>,
    private readonly opts: BatcherOptions,
  ) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error(`DynamicBatcher: maxBatch must be an integer >= 1, found ${opts.maxBatch}`);
    if (!(opts.maxWaitMs >= 0)) throw new Error(`DynamicBatcher: maxWaitMs must be >= 0, found ${opts.maxWaitMs}`);
  }

  /** Queues one request; resolves with its own result. */
  submit(request: Q): Promise<R> {
    if (this.closed) return Promise.reject(new Error('DynamicBatcher is closed; no more requests are accepted'));
    this.stats.requests++;
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  /** Queues many requests at once (they may share a batch). */
  submitAll(requests: readonly Q[]): Promise<R[]> {
    return Promise.all(requests.map((r) => this.submit(r)));
  }

  /** Requests waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length >= this.opts.maxBatch || this.opts.maxWaitMs === 0) {
      this.flush();
    } else if (!this.timer && this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    }
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.running = true;
    this.stats.batches++;
    this.stats.maxSize = Math.max(this.stats.maxSize, batch.length);
    this.stats.sizes.push(batch.length);
    if (this.stats.sizes.length > 10_000) this.stats.sizes.splice(0, this.stats.sizes.length - 10_000);
    let call: Promise<R[]>;
    try {
      call = this.run(batch.map((p) => p.request));
    } catch (err) {
      call = Promise.reject(err);
    }
    call
      .then(
        (results) => {
          if (!Array.isArray(results) || results.length !== batch.length) {
            throw new Error(`batch backend returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} requests`);
          }
          batch.forEach((p, i) => p.resolve(results[i]));
        },
        (err) => {
          throw err;
        },
      )
      .catch((err) => {
        this.stats.failed += batch.length;
        batch.forEach((p) => p.reject(err));
      })
      .finally(() => {
        this.running = false;
        // Whatever queued during the call has already waited: it goes next, at once.
        if (this.queue.length > 0) this.flush();
      });
  }

  /** Stops accepting requests and fails those still queued. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.queue.splice(0);
    for (const p of left) p.reject(new Error('DynamicBatcher closed before the request was sent'));
  }
}

/** Mean, max and count of a list of batch sizes. */
export function batchSizeSummary(sizes: readonly number[]): { mean: number; max: number; batches: number } {
  if (sizes.length === 0) return { mean: 0, max: 0, batches: 0 };
  return { mean: sizes.reduce((s, x) => s + x, 0) / sizes.length, max: Math.max(...sizes), batches: sizes.length };
}
