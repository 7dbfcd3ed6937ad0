import type net from 'node:net';
import { encodeBatch, FrameKind, type Frame } from '@cohort/protos';
import { BulkWriter } from './bulk.js';

const EMPTY = new Uint8Array(0);
const NO_BULK: number[] = [];

/** Builds a frame with every field set (protobufjs encodes faster with a fixed shape). */
export function makeFrame(kind: number, id: number, target = '', method = '', payload: Uint8Array = EMPTY, flags = 0, bulk: number[] = NO_BULK, count = 0): Frame {
  return { kind, id, target, method, payload, flags, bulk, count };
}

/** Receives the replies (results, errors, stream items, request replies) to one outgoing call or request. */
export interface ReplySink {
  onFrame(frame: Frame, bulk: Uint8Array[]): void;
  /** The channel broke before the reply completed. */
  onClose(err: Error): void;
}

/**
 * One peer process as seen from this one: a gRPC bidirectional stream (framed
 * messages, coalesced per tick) plus the bulk sockets. Replies to our calls are
 * routed to `pending` by id.
 */
export class Channel {
  /** Process id of the peer (known after the hello). */
  peerId = '';
  /** Chosen by the dialing side; names the channel in the bulk-socket handshake. */
  channelId = '';
  readonly pending = new Map<number, ReplySink>();
  closed = false;
  closeReason: Error | undefined;
  readonly bulkOut = new BulkWriter();
  bulkIn: net.Socket | undefined;
  /** The peer broke the protocol (`what` it did); the endpoint closes the channel. */
  onProtocolError: (what: string) => void = (what) => this.close(new Error(`peer ${this.peerAddress} ${what}`));
  /** Called once the peer has said hello (both sides). */
  ready: Promise<void>;
  markReady!: () => void;

  private out: Frame[] = [];
  private flushScheduled = false;
  private nextIdValue = 1;
  private inbound: Array<{ frame: Frame; need: number }> = [];
  private arrived: Uint8Array[] = [];
  private readonly closeListeners: Array<(err: Error) => void> = [];

  constructor(
    /** Data-plane address (`host:port`) of the peer. */
    public peerAddress: string,
    private readonly writeBatch: (bytes: Uint8Array) => void,
    private readonly deliver: (ch: Channel, frame: Frame, bulk: Uint8Array[]) => void,
    private readonly endStream: () => void,
    /** Largest batch written at once (the peer's gRPC receive bound); a frame bigger than it goes alone. */
    private readonly maxBatchBytes = Infinity,
  ) {
    this.ready = new Promise((r) => (this.markReady = r));
  }

  /** A fresh id for an outgoing call or request. */
  nextId(): number {
    const id = this.nextIdValue++;
    if (this.nextIdValue > 0xfffffff0) this.nextIdValue = 1;
    return id;
  }

  /** Queues a frame; frames sent in one event-loop turn (flushed in the check phase, so replies finished by promise chains coalesce too) go out as one stream write. Bulk attachments go to the bulk socket now, in order. */
  send(frame: Frame, bulk?: Uint8Array[]): void {
    if (this.closed) throw this.closeReason ?? new Error(`channel to ${this.peerAddress} is closed`);
    if (bulk) for (const b of bulk) this.bulkOut.write(b);
    this.out.push(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.closed || this.out.length === 0) return;
    const frames = this.out;
    this.out = [];
    // Split so that no batch exceeds the peer's receive bound (frames ≤ maxMessageBytes each).
    let start = 0;
    let size = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      const n = f.payload.byteLength + f.target.length + f.method.length + 16 + 10 * f.bulk.length;
      if (i > start && size + n > this.maxBatchBytes) {
        this.writeBatch(encodeBatch(frames.slice(start, i)));
        start = i;
        size = 0;
      }
      size += n;
    }
    this.writeBatch(encodeBatch(start === 0 ? frames : frames.slice(start)));
  };

  /** Frames from the stream, in order; a frame with bulk attachments holds back later frames until its bytes arrive. */
  receive(frames: Frame[]): void {
    for (const frame of frames) {
      if (this.inbound.length === 0 && frame.bulk.length === 0) this.deliver(this, frame, []);
      else this.inbound.push({ frame, need: frame.bulk.length });
    }
    if (this.inbound.length) this.pump();
  }

  /** One attachment from the bulk socket. */
  bulkArrived(bytes: Uint8Array): void {
    this.arrived.push(bytes);
    this.pump();
  }

  private pump(): void {
    while (this.inbound.length && !this.closed) {
      const head = this.inbound[0];
      if (head.need > this.arrived.length) return;
      this.inbound.shift();
      const bulk = head.need ? this.arrived.splice(0, head.need) : [];
      for (let i = 0; i < bulk.length; i++) {
        if (bulk[i].byteLength !== head.frame.bulk[i]) {
          // the stream and the bulk socket disagree: every later attachment would be misassigned
          this.onProtocolError(`sent attachment ${i} of frame ${head.frame.id} with ${bulk[i].byteLength} bytes; the frame declared ${head.frame.bulk[i]}`);
          return;
        }
      }
      this.deliver(this, head.frame, bulk);
    }
  }

  onClose(fn: (err: Error) => void): void {
    if (this.closed) fn(this.closeReason!);
    else this.closeListeners.push(fn);
  }

  /** Tears the channel down; pending replies fail with `err`. */
  close(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = err;
    this.markReady();
    try {
      this.endStream();
    } catch {
      /* already gone */
    }
    this.bulkOut.close();
    this.bulkIn?.destroy();
    const pend = [...this.pending.values()];
    this.pending.clear();
    for (const p of pend) p.onClose(err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}

export { FrameKind };
