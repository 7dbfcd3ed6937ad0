import v8 from 'node:v8';
import { FrameFlags, FrameKind, type Frame } from '@cohort/protos';
import type { Logger } from 'pino';
import { errorToWire, SerializationError, UnknownMethodError } from './errors.js';
import type { Encoded } from './codec.js';
import { makeFrame, type Channel } from './transport/channel.js';
import type { CallHandler } from './transport/endpoint.js';

interface StreamTask {
  credit: number;
  cancelled: boolean;
  wake: (() => void) | undefined;
}

/** What the host needs from its runtime. */
export interface HostRuntime {
  encode(value: unknown, what: string): Encoded;
  decode(frame: Frame, bulk: Uint8Array[]): unknown;
}

const RESERVED = new Set(['constructor', 'then', '__proto__', 'hasOwnProperty', 'toString', 'valueOf']);

/** Lists the callable methods of an actor instance (own prototype chain, not Object's). */
export function actorMethods(instance: object): string[] {
  const out = new Set<string>();
  for (let p = Object.getPrototypeOf(instance); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (!RESERVED.has(k) && typeof (instance as Record<string, unknown>)[k] === 'function') out.add(k);
    }
  }
  for (const k of Object.keys(instance)) if (typeof (instance as Record<string, unknown>)[k] === 'function') out.add(k);
  return [...out].sort();
}

function isAsyncIterator(v: unknown): v is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' && typeof (v as AsyncIterator<unknown>).next === 'function';
}

/**
 * Runs the calls addressed to the actor hosted in this worker: in arrival
 * order, at most `maxConcurrency` at once; async generators become streams
 * with credit-based backpressure.
 */
export class ActorHost implements CallHandler {
  private running = 0;
  private readonly queue: Array<[Channel, Frame, Uint8Array[]]> = [];
  private readonly streams = new WeakMap<Channel, Map<number, StreamTask>>();
  private readonly target: Record<string, unknown>;

  constructor(
    private readonly rt: HostRuntime,
    instance: object,
    private readonly actorId: string,
    private readonly className: string,
    private readonly maxConcurrency: number,
    private readonly logger: Logger,
  ) {
    this.target = instance as Record<string, unknown>;
  }

  onCallFrame(ch: Channel, frame: Frame, bulk: Uint8Array[]): void {
    if (frame.kind === FrameKind.Call) {
      if (this.running < this.maxConcurrency && this.queue.length === 0) this.run(ch, frame, bulk);
      else this.queue.push([ch, frame, bulk]);
      return;
    }
    const task = this.streams.get(ch)?.get(frame.id);
    if (!task) return;
    if (frame.kind === FrameKind.StreamCredit) task.credit += frame.count;
    else task.cancelled = true;
    const w = task.wake;
    task.wake = undefined;
    w?.();
  }

  private next(): void {
    this.running--;
    this.drainQueue();
  }

  private drainQueue(): void {
    while (this.running < this.maxConcurrency && this.queue.length) {
      const [ch, f, b] = this.queue.shift()!;
      this.run(ch, f, b);
    }
  }

  private reply(ch: Channel, frame: Frame, value: unknown): void {
    if (frame.flags & FrameFlags.Oneway || ch.closed) return;
    let enc: Encoded;
    try {
      enc = this.rt.encode(value, `result of ${this.className}.${frame.method}`);
    } catch (err) {
      this.replyError(ch, frame, err);
      return;
    }
    ch.send(makeFrame(FrameKind.Result, frame.id, '', '', enc.payload, enc.special ? FrameFlags.Special : 0, enc.bulk.length ? enc.bulk.map((b) => b.byteLength) : undefined), enc.bulk.length ? enc.bulk : undefined);
  }

  private replyError(ch: Channel, frame: Frame, err: unknown): void {
    if (frame.flags & FrameFlags.Oneway) {
      this.logger.error({ err, method: frame.method }, 'fire-and-forget call failed');
      return;
    }
    if (!ch.closed) ch.send(makeFrame(FrameKind.Error, frame.id, '', '', v8.serialize(errorToWire(err))));
  }

  private run(ch: Channel, frame: Frame, bulk: Uint8Array[]): void {
    this.running++;
    let result: unknown;
    try {
      if (frame.target !== this.actorId) throw new UnknownMethodError(`this worker hosts actor ${this.actorId}, not ${frame.target}`);
      const fn = this.target[frame.method];
      if (typeof fn !== 'function' || RESERVED.has(frame.method) || frame.method.startsWith('#')) {
        throw new UnknownMethodError(`${this.className} has no method "${frame.method}" (methods: ${actorMethods(this.target).join(', ') || 'none'})`);
      }
      let args: unknown;
      try {
        args = this.rt.decode(frame, bulk);
      } catch (err) {
        throw new SerializationError(`arguments of ${this.className}.${frame.method} could not be decoded: ${(err as Error).message}`);
      }
      result = (fn as (...a: unknown[]) => unknown).apply(this.target, args as unknown[]);
    } catch (err) {
      this.replyError(ch, frame, err);
      this.next();
      return;
    }
    if (isAsyncIterator(result)) {
      void this.stream(ch, frame, result).finally(() => this.next());
    } else if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(
        (v) => {
          this.reply(ch, frame, v);
          this.next();
        },
        (err) => {
          this.replyError(ch, frame, err);
          this.next();
        },
      );
    } else {
      this.reply(ch, frame, result);
      this.next();
    }
  }

  private async stream(ch: Channel, frame: Frame, it: AsyncIterator<unknown>): Promise<void> {
    const task: StreamTask = { credit: frame.count || 16, cancelled: false, wake: undefined };
    let tasks = this.streams.get(ch);
    if (!tasks) {
      tasks = new Map();
      this.streams.set(ch, tasks);
      const t = tasks;
      ch.onClose(() => {
        for (const s of t.values()) {
          s.cancelled = true;
          s.wake?.();
        }
      });
    }
    tasks.set(frame.id, task);
    const oneway = (frame.flags & FrameFlags.Oneway) !== 0;
    try {
      for (;;) {
        if (task.cancelled || ch.closed) break;
        if (task.credit <= 0 && !oneway) {
          // Paused by backpressure: let other calls run meanwhile.
          this.next();
          await new Promise<void>((r) => (task.wake = r));
          this.running++;
          continue;
        }
        const r = await it.next();
        if (r.done) break;
        if (task.cancelled || ch.closed) break;
        if (oneway) continue;
        const enc = this.rt.encode(r.value, `stream item of ${this.className}.${frame.method}`);
        ch.send(makeFrame(FrameKind.StreamItem, frame.id, '', '', enc.payload, enc.special ? FrameFlags.Special : 0, enc.bulk.length ? enc.bulk.map((b) => b.byteLength) : undefined), enc.bulk.length ? enc.bulk : undefined);
        task.credit--;
      }
      if (task.cancelled) await it.return?.();
      else if (!ch.closed && !oneway) ch.send(makeFrame(FrameKind.StreamEnd, frame.id));
    } catch (err) {
      this.replyError(ch, frame, err);
    } finally {
      tasks.delete(frame.id);
    }
  }
}
