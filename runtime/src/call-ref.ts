import v8 from 'node:v8';
import { FrameFlags, FrameKind, type Frame } from '@cohort/protos';
import { TO_WIRE, type WireDescriptor } from './codec.js';
import { CohortError, errorFromWire, type WireError } from './errors.js';
import { ObjectRef } from './object-ref.js';
import type { ReplySink } from './transport/channel.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallRef = CallRef<any, any>;

/** What a CallRef needs from the caller side of the runtime. */
export interface CallSite {
  /** Address of this process (owner of call results). */
  readonly address: string;
  /** Makes the call's eventual value fetchable by other processes; returns its object id. */
  publish(call: AnyCallRef): string;
  decode(frame: Frame, bulk: Uint8Array[]): unknown;
  /** Grants the actor `n` more stream items. */
  credit(call: AnyCallRef, n: number): void;
  /** Stops a streaming call. */
  cancel(call: AnyCallRef): void;
  /** `Counter.add` for messages. */
  describe(call: AnyCallRef): string;
}

/** Stream window: items the actor may send ahead of the consumer. */
export const STREAM_WINDOW = 16;

const PENDING = 0;
const OK = 1;
const FAILED = 2;

/**
 * The result of an actor call: await it for the value, pass it on as an
 * ObjectRef, or — for a streaming method (an async generator in the actor) —
 * iterate it with `for await` (backpressure: the actor runs at most
 * STREAM_WINDOW items ahead; `break` cancels the generator).
 */
export class CallRef<T = unknown, Y = never> extends ObjectRef<T> implements PromiseLike<T>, AsyncIterable<Y>, ReplySink {
  /** @internal */ state = PENDING;
  /** @internal */ value: unknown;
  /** @internal */ wireId = 0;
  /** @internal */ retriesLeft = 0;
  /** @internal */ encoded: { payload: Uint8Array; special: boolean; bulk: Uint8Array[] } | undefined;
  /** @internal */ needsResolve = false;
  /** @internal */ isStream = false;
  /** @internal */ streamStarted = false;
  private promise: Promise<T> | undefined;
  private settle: { resolve: (v: T) => void; reject: (e: unknown) => void } | undefined;
  private items: unknown[] = [];
  private ended = false;
  private consumed = 0;
  private iterating = false;
  private waiter: (() => void) | undefined;
  private objectId = '';

  constructor(
    private readonly site: CallSite,
    /** @internal */ readonly method: string,
    /** @internal */ public args: unknown[],
  ) {
    super('', site.address);
  }

  override get id(): string {
    if (!this.objectId) this.objectId = this.site.publish(this);
    return this.objectId;
  }

  override [TO_WIRE](): WireDescriptor {
    return { t: 'r', id: this.id, owner: this.site.address };
  }

  then<A = T, B = never>(onOk?: ((v: T) => A | PromiseLike<A>) | null, onErr?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    if (!this.promise) {
      if (this.state === OK) this.promise = Promise.resolve(this.value as T);
      else if (this.state === FAILED) this.promise = Promise.reject(this.value);
      else this.promise = new Promise<T>((resolve, reject) => (this.settle = { resolve, reject }));
      if (this.isStream) this.rejectStreamAwait();
    }
    return this.promise.then(onOk, onErr);
  }

  /** Same as `then(undefined, onErr)`. */
  catch<B = never>(onErr: (e: unknown) => B | PromiseLike<B>): Promise<T | B> {
    return this.then(undefined, onErr);
  }

  private rejectStreamAwait(): void {
    if (this.iterating) return;
    this.fail(new CohortError(`${this.site.describe(this)} is a streaming method (an async generator); iterate it with \`for await\` instead of awaiting it`));
    this.site.cancel(this);
  }

  /** @internal */ resolveWith(v: unknown): void {
    if (this.state !== PENDING) return;
    this.state = OK;
    this.value = v;
    this.settle?.resolve(v as T);
    this.wake();
  }

  /** @internal */ fail(err: unknown): void {
    if (this.state !== PENDING) return;
    this.state = FAILED;
    this.value = err;
    this.settle?.reject(err);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** @internal ReplySink: a reply frame for this call. */
  onFrame(frame: Frame, bulk: Uint8Array[]): void {
    switch (frame.kind) {
      case FrameKind.Result:
        this.finish();
        try {
          this.resolveWith(this.site.decode(frame, bulk));
        } catch (err) {
          this.fail(err);
        }
        return;
      case FrameKind.Error:
        this.finish();
        this.fail(errorFromWire(v8.deserialize(frame.payload) as WireError, this.site.describe(this)));
        return;
      case FrameKind.StreamItem:
        this.streamStarted = true;
        if (!this.isStream) this.markStream();
        this.items.push(this.site.decode(frame, bulk));
        this.wake();
        return;
      case FrameKind.StreamEnd:
        this.finish();
        if (!this.isStream) this.markStream();
        this.ended = true;
        this.resolveWith(undefined);
        return;
    }
  }

  private markStream(): void {
    this.isStream = true;
    if (this.promise && !this.iterating) this.rejectStreamAwait();
  }

  /** Set by the caller: called when the call no longer expects frames. */
  /** @internal */ finish: () => void = () => {};

  /** @internal ReplySink: the connection broke (the caller decides about retries). */
  onClose(): void {}

  [Symbol.asyncIterator](): AsyncIterator<Y> {
    if (this.iterating) throw new CohortError(`${this.site.describe(this)}: a streaming call can be iterated only once`);
    this.iterating = true;
    return {
      next: async (): Promise<IteratorResult<Y>> => {
        for (;;) {
          if (this.items.length) {
            const v = this.items.shift() as Y;
            if (++this.consumed >= STREAM_WINDOW / 2) {
              this.site.credit(this, this.consumed);
              this.consumed = 0;
            }
            return { value: v, done: false };
          }
          if (this.state === FAILED) throw this.value;
          if (this.ended) return { value: undefined, done: true };
          if (this.state === OK && !this.isStream) {
            throw new CohortError(`${this.site.describe(this)} is not a streaming method; await it instead of iterating it`);
          }
          await new Promise<void>((r) => (this.waiter = r));
        }
      },
      return: async (): Promise<IteratorResult<Y>> => {
        if (!this.ended && this.state === PENDING) {
          this.ended = true;
          this.site.cancel(this);
          this.resolveWith(undefined);
        }
        return { value: undefined, done: true };
      },
    };
  }
}

export { FrameFlags };
