/** Limits of a {@link BulkBufferPool}. */
export interface BulkBufferPoolOptions {
  /** Most bytes kept in free buffers (default 256 MiB); a release beyond it lets the buffer go to the GC. */
  maxFreeBytes?: number;
  /** Most free buffers kept per size (default 8). */
  maxPerSize?: number;
}

/**
 * Receive buffers of the bulk path, reused by size. The bulk reader takes
 * every attachment's destination from here; a consumer that is done with a
 * received array (a collective after adding it in) gives it back with
 * `release`, and the next attachment of that size is read into it instead of a
 * fresh, zero-filled allocation (whose page faults and GC dominate large
 * transfers). Arrays never released are ordinary garbage. A buffer is lent to
 * one attachment at a time: releasing one twice, or one that did not come from
 * this pool, does nothing.
 */
export class BulkBufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly lent = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  private readonly maxFreeBytes: number;
  private readonly maxPerSize: number;
  /** Buffers handed out that came from a free list (for benchmarks and tests). */
  reused = 0;

  constructor(opts: BulkBufferPoolOptions = {}) {
    this.maxFreeBytes = opts.maxFreeBytes ?? 256 * 1024 * 1024;
    this.maxPerSize = opts.maxPerSize ?? 8;
  }

  /** A buffer of exactly `len` bytes (contents undefined: fresh memory is not zero-filled), lent until released. */
  acquire(len: number): Uint8Array {
    const list = this.free.get(len);
    let ab = list?.pop();
    if (ab) {
      this.freeBytes -= len;
      this.reused++;
    } else ab = Buffer.allocUnsafeSlow(len).buffer as ArrayBuffer; // uninitialized: the caller fills every byte
    this.lent.add(ab);
    return new Uint8Array(ab);
  }

  /**
   * Gives a lent buffer back (any view over it). Returns whether it was taken
   * back; the caller must not touch the view afterwards.
   */
  release(view: ArrayBufferView): boolean {
    const ab = view.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.lent.has(ab)) return false;
    this.lent.delete(ab);
    const len = ab.byteLength;
    let list = this.free.get(len);
    if (!list) this.free.set(len, (list = []));
    if (len === 0 || list.length >= this.maxPerSize || this.freeBytes + len > this.maxFreeBytes) return true;
    list.push(ab);
    this.freeBytes += len;
    return true;
  }

  /** Bytes held in free buffers. */
  get idleBytes(): number {
    return this.freeBytes;
  }
}
