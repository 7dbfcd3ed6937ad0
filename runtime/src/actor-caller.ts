import { FrameFlags, FrameKind } from '@cohort/protos';
import type { Logger } from 'pino';
import { CallRef, STREAM_WINDOW, type AnyCallRef, type CallSite } from './call-ref.js';
import { ActorDiedError } from './errors.js';
import type { ActorInfo, ControlPlane } from './control-plane.js';
import { ObjectRef } from './object-ref.js';
import { makeFrame, type Channel } from './transport/channel.js';
import type { Endpoint } from './transport/endpoint.js';
import type { Encoded } from './codec.js';
import type { Frame } from '@cohort/protos';

/** What the caller needs from its runtime. */
export interface CallerRuntime {
  readonly endpoint: Endpoint;
  readonly cp: ControlPlane;
  readonly logger: Logger;
  encode(value: unknown, what: string): Encoded;
  decode(frame: Frame, bulk: Uint8Array[]): unknown;
  get(ref: ObjectRef<unknown>): Promise<unknown>;
  publish(call: AnyCallRef): string;
}

/**
 * The caller side of one actor in one process: sends calls in submission order
 * over the channel to the actor's worker, queues them while the actor starts
 * or restarts, and on a crash re-sends in-flight calls (maxTaskRetries) or
 * fails them with ActorDiedError.
 */
export class ActorCaller implements CallSite {
  private state: 'idle' | 'connecting' | 'ready' | 'dead' = 'idle';
  private ch: Channel | undefined;
  private incarnation = -1;
  private queue: AnyCallRef[] = [];
  private readonly inflight = new Map<number, AnyCallRef>();
  private deadError: ActorDiedError | undefined;
  private pumping = false;
  readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(
    private readonly rt: CallerRuntime,
    readonly actorId: string,
    public name: string | undefined,
    public className: string,
    public maxTaskRetries: number,
  ) {}

  get address(): string {
    return this.rt.endpoint.address;
  }

  publish(call: AnyCallRef): string {
    return this.rt.publish(call);
  }

  decode(frame: Frame, bulk: Uint8Array[]): unknown {
    return this.rt.decode(frame, bulk);
  }

  describe(call: AnyCallRef): string {
    return `${this.name ?? this.className}.${call.method}`;
  }

  /** Submits a call; returns at once. */
  submit(call: AnyCallRef, oneway: boolean): void {
    if (this.state === 'dead') {
      if (!oneway) call.fail(this.deadError);
      return;
    }
    call.retriesLeft = this.maxTaskRetries;
    for (const a of call.args) if (a instanceof ObjectRef) call.needsResolve = true;
    if (oneway) (call as { oneway?: boolean }).oneway = true;
    if (this.state === 'ready' && this.queue.length === 0 && !call.needsResolve) {
      try {
        this.send(call);
      } catch (err) {
        call.fail(err);
      }
      return;
    }
    this.queue.push(call);
    this.pump();
  }

  /** Resolves when the actor is alive (or rejects when dead). */
  ready(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'dead') return Promise.reject(this.deadError);
    const p = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    this.pump();
    return p;
  }

  private send(call: AnyCallRef): void {
    const ch = this.ch!;
    if (!call.encoded) {
      call.encoded = this.rt.encode(call.args, `arguments of ${this.className}.${call.method}`);
      call.args = [];
    }
    const enc = call.encoded;
    const oneway = (call as { oneway?: boolean }).oneway === true;
    let flags = enc.special ? FrameFlags.Special : 0;
    const id = ch.nextId();
    if (oneway) flags |= FrameFlags.Oneway;
    else {
      call.wireId = id;
      this.inflight.set(id, call);
      ch.pending.set(id, call);
      call.finish = () => {
        ch.pending.delete(id);
        this.inflight.delete(id);
      };
    }
    ch.send(makeFrame(FrameKind.Call, id, this.actorId, call.method, enc.payload, flags, enc.bulk.length ? enc.bulk.map((b) => b.byteLength) : undefined, STREAM_WINDOW), enc.bulk.length ? enc.bulk : undefined);
  }

  /** Grants stream credit. */
  credit(call: AnyCallRef, n: number): void {
    const ch = this.ch;
    if (ch && !ch.closed && this.inflight.get(call.wireId) === call) ch.send(makeFrame(FrameKind.StreamCredit, call.wireId, this.actorId, '', undefined, 0, undefined, n));
  }

  /** Cancels a streaming call. */
  cancel(call: AnyCallRef): void {
    const ch = this.ch;
    if (ch && !ch.closed && this.inflight.get(call.wireId) === call) {
      ch.send(makeFrame(FrameKind.Cancel, call.wireId, this.actorId));
      call.finish();
    }
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.drive()
      .catch((err: unknown) => {
        // Unexpected (e.g. the runtime closed under us): fail what waits rather than hang.
        const e = err instanceof Error ? err : new Error(String(err));
        for (const c of this.queue.splice(0)) c.fail(e);
        for (const w of this.readyWaiters.splice(0)) w.reject(e);
        this.state = 'idle';
      })
      .finally(() => {
        this.pumping = false;
        if (this.state === 'ready' && this.queue.length) this.pump();
      });
  }

  private async drive(): Promise<void> {
    while (this.state !== 'dead') {
      if (this.state !== 'ready') {
        if (!(await this.connect())) return;
        continue;
      }
      const head = this.queue[0];
      if (!head) return;
      if (head.needsResolve) {
        try {
          head.args = await Promise.all(head.args.map((a) => (a instanceof ObjectRef ? this.rt.get(a) : a)));
          head.needsResolve = false;
        } catch (err) {
          this.queue.shift();
          head.fail(err);
          continue;
        }
        if (this.state !== 'ready') continue;
      }
      this.queue.shift();
      try {
        this.send(head);
      } catch (err) {
        head.fail(err);
      }
    }
  }

  /** Waits for the actor to be alive and opens the channel; false when it is dead. */
  private async connect(): Promise<boolean> {
    this.state = 'connecting';
    let info: ActorInfo;
    try {
      info = await this.rt.cp.waitAlive(this.actorId, this.incarnation + 1);
    } catch (err) {
      this.die(err instanceof ActorDiedError ? err : new ActorDiedError(this.actorId, this.name, (err as Error).message));
      return false;
    }
    const ch = this.rt.endpoint.channelTo(info.address!);
    this.ch = ch;
    this.incarnation = info.incarnation;
    this.state = 'ready';
    const inc = info.incarnation;
    ch.onClose((err) => this.onBreak(ch, inc, err));
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    return true;
  }

  private die(err: ActorDiedError): void {
    this.state = 'dead';
    this.deadError = err;
    for (const c of this.queue.splice(0)) c.fail(err);
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
  }

  /** The channel to the worker broke: find out why, then retry or fail the calls that were in flight. */
  private async onBreak(ch: Channel, inc: number, err: Error): Promise<void> {
    if (this.ch !== ch) return;
    this.ch = undefined;
    const lost = [...this.inflight.values()];
    this.inflight.clear();
    if (this.state === 'dead') return;
    this.state = 'connecting';
    const info = await this.learnFate(inc);
    const cause = info?.state === 'dead' ? info.deathCause ?? 'dead' : info?.lastExit ?? `connection to its worker was lost (${err.message})`;
    const retry: AnyCallRef[] = [];
    for (const c of lost) {
      if (c.retriesLeft !== 0 && !c.streamStarted && info?.state !== 'dead') {
        if (c.retriesLeft > 0) c.retriesLeft--;
        retry.push(c);
      } else {
        const why = info?.state === 'dead' ? cause : `${cause}; the call was in flight and maxTaskRetries is ${this.maxTaskRetries}`;
        c.fail(new ActorDiedError(this.actorId, this.name, why));
      }
    }
    if (retry.length) this.rt.logger.warn({ actor: this.name ?? this.actorId, calls: retry.length }, 'retrying in-flight calls after a worker crash');
    this.queue = [...retry, ...this.queue];
    this.state = 'idle';
    // Same incarnation still alive: only the connection dropped; reconnect to it.
    if (info && info.state === 'alive' && info.incarnation === inc) this.incarnation = inc - 1;
    if (info?.state === 'dead') {
      this.die(new ActorDiedError(this.actorId, this.name, cause));
      return;
    }
    this.pump();
  }

  /** Polls the control plane briefly until it has noticed the worker's end. */
  private async learnFate(inc: number): Promise<ActorInfo | undefined> {
    let info: ActorInfo | undefined;
    for (let i = 0; i < 40; i++) {
      try {
        info = await this.rt.cp.getActor({ id: this.actorId });
      } catch {
        return undefined;
      }
      if (!info || info.state === 'dead' || info.incarnation > inc) return info;
      await new Promise((r) => setTimeout(r, 50));
    }
    return info;
  }
}
