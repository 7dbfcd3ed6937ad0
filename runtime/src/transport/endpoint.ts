import net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import v8 from 'node:v8';
import { decodeBatch, FrameFlags, FrameKind, type Frame } from '@cohort/protos';
import type { Logger } from 'pino';
import { BulkBufferPool } from './buffer-pool.js';
import { BulkReader, BulkServer, DEFAULT_BULK_LIMITS, bulkHello, dialBulk, type BulkLimits, type BulkTls } from './bulk.js';
import { Channel, makeFrame, type ReplySink } from './channel.js';
import { errorFromWire, errorToWire, type WireError } from '../errors.js';
import type { Encoded } from '../codec.js';

const PATH = '/cohort.v1.DataPlane/Connect';
const identity = (b: Buffer) => b;
/** Default bound of one gRPC message (a batch of frames) received: the default value limit plus room for frame headers. */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024 + (1 << 20);
const grpcOptions = (maxBatchBytes: number) => ({
  'grpc.max_receive_message_length': maxBatchBytes,
  'grpc.max_send_message_length': -1,
  // a peer uses one stream per channel; more on one connection is not this protocol
  'grpc.max_concurrent_streams': 100,
});

/** How the endpoint turns values into payloads and back (the runtime supplies its codec). */
export interface ValueCodec {
  encode(value: unknown, what: string): Encoded;
  decode(payload: Uint8Array, special: boolean, bulk: Uint8Array[]): unknown;
}

/** Handles Call, StreamCredit and Cancel frames (the actor host of a worker). */
export interface CallHandler {
  onCallFrame(ch: Channel, frame: Frame, bulk: Uint8Array[]): void;
}

/** A request operation served by this process (control plane, object fetch). */
export type RequestHandler = (body: unknown, ch: Channel) => unknown | Promise<unknown>;
/** A one-way notification handler. */
export type NotifyHandler = (body: unknown, ch: Channel) => void;

export interface EndpointOptions {
  logger: Logger;
  codec: ValueCodec;
  host?: string;
  /** gRPC port to bind (default 0: a free one). The bulk port is always picked freely and advertised in the hello. */
  port?: number;
  /** Host put in the advertised address when binding a wildcard (e.g. bind `0.0.0.0`, advertise `10.0.0.5`). */
  advertiseHost?: string;
  /** Security hooks (the cluster's token interceptors / mutual TLS). */
  serverInterceptors?: grpc.ServerInterceptor[];
  serverCredentials?: grpc.ServerCredentials;
  channelCredentials?: grpc.ChannelCredentials;
  callInterceptors?: grpc.Interceptor[];
  /** When set, bulk sockets must present this token in their handshake (and dialed ones send it). */
  bulkToken?: string;
  /** Mutual TLS on the bulk sockets (set with TLS gRPC credentials, so bulk bytes are encrypted too). */
  bulkTls?: BulkTls;
  /** Largest gRPC message (one batch of frames) taken from a peer; senders split batches to fit. Default {@link DEFAULT_MAX_BATCH_BYTES}. */
  maxBatchBytes?: number;
  /** Bounds of the bulk path (attachment size, handshake deadline, connections in handshake); defaults in `DEFAULT_BULK_LIMITS`. */
  bulkLimits?: Partial<BulkLimits>;
}

/** Endpoint options that a deployment layer adds (security, addressing); see `EndpointOptions`. */
export type EndpointExtras = Omit<EndpointOptions, 'logger' | 'codec' | 'host' | 'port' | 'maxBatchBytes' | 'bulkLimits'>;

/** The hello each side of a channel sends first (process id, addresses, the channel id bulk sockets name). */
interface Hello {
  processId: string;
  address: string;
  bulkPort: number;
  channelId: string;
}

function kindName(kind: number): string {
  return Object.entries(FrameKind).find(([, v]) => v === kind)?.[0] ?? `kind-${kind}`;
}

/** Checks a peer's hello; returns it or throws naming what is wrong. */
function parseHello(payload: Uint8Array): Hello {
  let h: unknown;
  try {
    h = v8.deserialize(payload);
  } catch (err) {
    throw new Error(`undecodable hello (${(err as Error).message})`);
  }
  const o = h as Partial<Hello> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.processId !== 'string' ||
    o.processId.length > 200 ||
    typeof o.address !== 'string' ||
    !/^.{1,300}:\d{1,5}$/.test(o.address) ||
    !Number.isInteger(o.bulkPort) ||
    o.bulkPort! < 1 ||
    o.bulkPort! > 65535 ||
    typeof o.channelId !== 'string' ||
    !/^[\w.-]{1,64}$/.test(o.channelId)
  ) {
    throw new Error('malformed hello: expected {processId, address "host:port", bulkPort 1-65535, channelId}');
  }
  return o as Hello;
}

/**
 * The data plane of one process: a gRPC server that peers dial (one
 * bidirectional stream per pair of processes), a TCP server for the bulk path,
 * and a cache of channels by peer address.
 */
export class Endpoint {
  readonly processId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  address = '';
  bulkPort = 0;
  callHandler: CallHandler | undefined;
  /** Where received bulk attachments are read into; give back arrays you are done with (`bulkPool.release(view)`) to have later ones reuse them. */
  readonly bulkPool = new BulkBufferPool();
  private readonly server: grpc.Server;
  /** The accepting side of bulk sockets (its `refused` counters say what junk it turned away). */
  readonly bulkServer: BulkServer;
  readonly bulkLimits: BulkLimits;
  private readonly maxBatchBytes: number;
  private readonly channels = new Map<string, Channel>();
  private readonly byPeerId = new Map<string, Channel>();
  /** Channels by the id their dialer chose; bulk sockets name it in their handshake. */
  private readonly byChannelId = new Map<string, Channel>();
  /** Authenticated bulk sockets whose channel's hello has not arrived yet (bounded in number and time). */
  private readonly waitingBulk = new Map<string, { sock: net.Socket; timer: NodeJS.Timeout }>();
  private readonly clients = new Set<grpc.Client>();
  private readonly requestHandlers = new Map<string, RequestHandler>();
  private readonly notifyHandlers = new Map<string, NotifyHandler>();
  private readonly channelCloseListeners: Array<(ch: Channel, err: Error) => void> = [];
  private closedFlag = false;
  private readonly bulkSockets = new Set<net.Socket>();

  private constructor(readonly opts: EndpointOptions) {
    this.maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.bulkLimits = { ...DEFAULT_BULK_LIMITS, ...opts.bulkLimits };
    this.server = new grpc.Server({ ...grpcOptions(this.maxBatchBytes), ...(opts.serverInterceptors ? { interceptors: opts.serverInterceptors } : {}) });
    let lastRefusalLog = 0;
    let unlogged = 0;
    this.bulkServer = new BulkServer({
      limits: this.bulkLimits,
      token: opts.bulkToken,
      tls: opts.bulkTls,
      onAccept: (sock, channelId) => this.acceptBulk(sock, channelId),
      onRefuse: (kind, reason, remote) => {
        // junk can arrive at line rate: one warning a second at most, with the count of those not logged
        const now = Date.now();
        if (now - lastRefusalLog < 1000) {
          unlogged++;
          return;
        }
        opts.logger.warn({ remote, kind, alsoRefused: unlogged || undefined }, `bulk connection refused: ${reason}`);
        lastRefusalLog = now;
        unlogged = 0;
      },
    });
  }

  /** Starts the servers on random ports of `host` (default 127.0.0.1). */
  static async start(opts: EndpointOptions): Promise<Endpoint> {
    const ep = new Endpoint(opts);
    const host = opts.host ?? '127.0.0.1';
    ep.server.addService(
      {
        connect: {
          path: PATH,
          requestStream: true,
          responseStream: true,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      } as grpc.ServiceDefinition,
      { connect: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => ep.acceptStream(call) },
    );
    const port = await new Promise<number>((resolve, reject) =>
      ep.server.bindAsync(`${host}:${opts.port ?? 0}`, opts.serverCredentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    ep.address = `${opts.advertiseHost ?? host}:${port}`;
    ep.bulkPort = await ep.bulkServer.listen(host);
    return ep;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Registers a request operation. */
  handle(op: string, fn: RequestHandler): void {
    this.requestHandlers.set(op, fn);
  }

  /** Registers a notification handler. */
  onNotify(op: string, fn: NotifyHandler): void {
    this.notifyHandlers.set(op, fn);
  }

  /** Called whenever a channel breaks. */
  onChannelClose(fn: (ch: Channel, err: Error) => void): void {
    this.channelCloseListeners.push(fn);
  }

  /** The channel to a peer, dialing it on first use. */
  channelTo(address: string): Channel {
    const existing = this.channels.get(address);
    if (existing && !existing.closed) return existing;
    if (this.closedFlag) throw new Error('endpoint is closed');
    const client = new grpc.Client(address, this.opts.channelCredentials ?? grpc.credentials.createInsecure(), {
      ...grpcOptions(this.maxBatchBytes),
      ...(this.opts.callInterceptors ? { interceptors: this.opts.callInterceptors } : {}),
    });
    this.clients.add(client);
    const call = client.makeBidiStreamRequest(PATH, identity, identity);
    const ch = new Channel(
      address,
      (bytes) => call.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      (c, f, b) => this.dispatch(c, f, b),
      () => {
        call.end();
        client.close();
        this.clients.delete(client);
      },
      this.maxBatchBytes,
    );
    ch.onProtocolError = (what) => this.protocolError(ch, what);
    this.channels.set(address, ch);
    ch.channelId = randomBytes(8).toString('hex');
    this.byChannelId.set(ch.channelId, ch);
    const hello = v8.serialize({ processId: this.processId, address: this.address, bulkPort: this.bulkPort, channelId: ch.channelId });
    ch.send(makeFrame(FrameKind.Hello, 0, '', '', hello));
    call.on('data', (buf: Buffer) => this.receive(ch, buf));
    call.on('error', (err: Error) => this.closeChannel(ch, new Error(`connection to ${address} failed: ${err.message}`)));
    call.on('end', () => this.closeChannel(ch, new Error(`connection to ${address} closed`)));
    return ch;
  }

  private acceptStream(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    let ch: Channel | undefined = new Channel(
      '?',
      (bytes) => call.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
      (c, f, b) => this.dispatch(c, f, b),
      () => call.end(),
      this.maxBatchBytes,
    );
    const c = ch;
    c.onProtocolError = (what) => this.protocolError(c, what);
    call.on('data', (buf: Buffer) => this.receive(c, buf));
    call.on('error', (err: Error) => this.closeChannel(c, new Error(`connection from ${c.peerAddress} failed: ${err.message}`)));
    call.on('end', () => this.closeChannel(c, new Error(`connection from ${c.peerAddress} closed`)));
    call.on('cancelled', () => this.closeChannel(c, new Error(`connection from ${c.peerAddress} cancelled`)));
    ch = undefined;
  }

  private receive(ch: Channel, buf: Buffer): void {
    let frames: Frame[];
    try {
      frames = decodeBatch(buf);
    } catch (err) {
      this.protocolError(ch, `sent an undecodable batch: ${(err as Error).message}`);
      return;
    }
    ch.receive(frames);
  }

  /** A peer broke the protocol: log it once and close its channel (its pending calls fail with the reason). */
  private protocolError(ch: Channel, what: string): void {
    if (ch.closed) return;
    this.opts.logger.error({ peer: ch.peerAddress }, `peer ${what}; closing the channel`);
    this.closeChannel(ch, new Error(`peer ${ch.peerAddress} ${what}`));
  }

  private closeChannel(ch: Channel, err: Error): void {
    if (ch.closed) return;
    if (this.channels.get(ch.peerAddress) === ch) this.channels.delete(ch.peerAddress);
    if (this.byPeerId.get(ch.peerId) === ch) this.byPeerId.delete(ch.peerId);
    if (this.byChannelId.get(ch.channelId) === ch) this.byChannelId.delete(ch.channelId);
    ch.close(err);
    for (const l of this.channelCloseListeners) l(ch, err);
  }

  private hello(ch: Channel, frame: Frame): void {
    if (ch.peerId) return this.protocolError(ch, 'said hello twice');
    const h = parseHello(frame.payload);
    const host = h.address.slice(0, h.address.lastIndexOf(':'));
    const dialed = ch.peerAddress !== '?';
    ch.peerId = h.processId;
    ch.peerAddress = h.address;
    this.byPeerId.set(h.processId, ch);
    if (!dialed) {
      ch.channelId = h.channelId;
      this.byChannelId.set(ch.channelId, ch);
      if (!this.channels.get(h.address) || this.channels.get(h.address)!.closed) this.channels.set(h.address, ch);
      const reply = v8.serialize({ processId: this.processId, address: this.address, bulkPort: this.bulkPort, channelId: ch.channelId });
      ch.send(makeFrame(FrameKind.Hello, 0, '', '', reply));
    }
    // The receiving side dials the bulk socket.
    const reader = new BulkReader(
      (bytes) => ch.bulkArrived(bytes),
      (len) => this.bulkPool.acquire(len),
      this.bulkLimits.maxBulkBytes,
      (err) => {
        sock.destroy();
        this.closeChannel(ch, new Error(`bulk connection to ${h.address}: ${err.message}`));
      },
    );
    const hello = bulkHello(ch.channelId, this.opts.bulkToken);
    const sock = dialBulk(host, h.bulkPort, reader, this.opts.bulkTls, () => sock.write(hello));
    sock.setNoDelay(true);
    sock.on('error', (err) => this.closeChannel(ch, new Error(`bulk connection to ${h.address} failed: ${err.message}`)));
    sock.on('close', () => this.closeChannel(ch, new Error(`bulk connection to ${h.address} closed`)));
    ch.bulkIn = sock;
    const waiting = this.waitingBulk.get(ch.channelId);
    if (waiting) {
      this.waitingBulk.delete(ch.channelId);
      clearTimeout(waiting.timer);
      this.attachBulkOut(ch, waiting.sock);
    }
    ch.markReady();
  }

  /** An authenticated bulk socket (the handshake was checked by the bulk server). */
  private acceptBulk(sock: net.Socket, channelId: string): void {
    sock.setNoDelay(true);
    this.bulkSockets.add(sock);
    sock.on('close', () => this.bulkSockets.delete(sock));
    const ch = this.byChannelId.get(channelId);
    if (ch && ch.peerId) return this.attachBulkOut(ch, sock);
    // Its channel's hello is still on the way: wait for it, bounded like a handshake.
    if (this.waitingBulk.has(channelId) || this.waitingBulk.size >= this.bulkLimits.maxPending) {
      sock.destroy();
      return;
    }
    const timer = setTimeout(() => {
      if (this.waitingBulk.get(channelId)?.sock !== sock) return;
      this.waitingBulk.delete(channelId);
      this.opts.logger.warn({ remote: sock.remoteAddress }, `bulk connection for unknown channel ${channelId} closed after ${this.bulkLimits.handshakeMs} ms`);
      sock.destroy();
    }, this.bulkLimits.handshakeMs);
    timer.unref();
    this.waitingBulk.set(channelId, { sock, timer });
    sock.once('close', () => {
      if (this.waitingBulk.get(channelId)?.sock === sock) {
        clearTimeout(timer);
        this.waitingBulk.delete(channelId);
      }
    });
  }

  private attachBulkOut(ch: Channel, sock: net.Socket): void {
    ch.bulkOut.attach(sock);
    sock.on('close', () => this.closeChannel(ch, new Error(`bulk connection from ${ch.peerAddress} closed`)));
  }

  private dispatch(ch: Channel, frame: Frame, bulk: Uint8Array[]): void {
    try {
      this.dispatchFrame(ch, frame, bulk);
    } catch (err) {
      // A frame its handler could not take (undecodable payload, malformed hello): the peer is not speaking the protocol.
      this.protocolError(ch, `sent a ${kindName(frame.kind)} frame that could not be handled (${(err as Error).message})`);
    }
  }

  private dispatchFrame(ch: Channel, frame: Frame, bulk: Uint8Array[]): void {
    switch (frame.kind) {
      case FrameKind.Call:
      case FrameKind.StreamCredit:
      case FrameKind.Cancel:
        if (this.callHandler) this.callHandler.onCallFrame(ch, frame, bulk);
        else if (frame.kind === FrameKind.Call && !(frame.flags & FrameFlags.Oneway)) {
          this.sendError(ch, frame.id, new Error(`process ${this.processId} hosts no actor; it cannot take calls`));
        }
        return;
      case FrameKind.Result:
      case FrameKind.Error:
      case FrameKind.StreamItem:
      case FrameKind.StreamEnd:
      case FrameKind.Reply: {
        const sink = ch.pending.get(frame.id);
        if (sink) sink.onFrame(frame, bulk);
        return;
      }
      case FrameKind.Request:
        void this.serveRequest(ch, frame, bulk);
        return;
      case FrameKind.Notify: {
        const fn = this.notifyHandlers.get(frame.target);
        if (fn) fn(this.opts.codec.decode(frame.payload, (frame.flags & FrameFlags.Special) !== 0, bulk), ch);
        return;
      }
      case FrameKind.Hello:
        this.hello(ch, frame);
        return;
      default:
        this.opts.logger.warn({ kind: frame.kind, peer: ch.peerAddress }, 'unknown frame kind; ignored');
    }
  }

  private async serveRequest(ch: Channel, frame: Frame, bulk: Uint8Array[]): Promise<void> {
    const fn = this.requestHandlers.get(frame.target);
    try {
      if (!fn) throw new Error(`unknown request "${frame.target}" at ${this.address}`);
      const body = this.opts.codec.decode(frame.payload, (frame.flags & FrameFlags.Special) !== 0, bulk);
      const result = await fn(body, ch);
      if (ch.closed) return;
      const enc = this.opts.codec.encode(result, `reply to ${frame.target}`);
      ch.send(makeFrame(FrameKind.Reply, frame.id, '', '', enc.payload, enc.special ? FrameFlags.Special : 0, enc.bulk.map((b) => b.byteLength)), enc.bulk);
    } catch (err) {
      if (!ch.closed) this.sendError(ch, frame.id, err);
    }
  }

  /** Sends an Error frame for call/request `id`. */
  sendError(ch: Channel, id: number, err: unknown): void {
    ch.send(makeFrame(FrameKind.Error, id, '', '', v8.serialize(errorToWire(err))));
  }

  /** Sends a request to a peer and resolves with its reply. */
  request(address: string | Channel, op: string, body: unknown): Promise<unknown> {
    const ch = typeof address === 'string' ? this.channelTo(address) : address;
    const enc = this.opts.codec.encode(body, `request ${op}`);
    return new Promise((resolve, reject) => {
      const id = ch.nextId();
      const sink: ReplySink = {
        onFrame: (f, b) => {
          ch.pending.delete(id);
          if (f.kind === FrameKind.Error) reject(errorFromWire(v8.deserialize(f.payload) as WireError));
          else {
            try {
              resolve(this.opts.codec.decode(f.payload, (f.flags & FrameFlags.Special) !== 0, b));
            } catch (err) {
              reject(err);
            }
          }
        },
        onClose: reject,
      };
      if (ch.closed) return reject(ch.closeReason);
      ch.pending.set(id, sink);
      ch.send(makeFrame(FrameKind.Request, id, op, '', enc.payload, enc.special ? FrameFlags.Special : 0, enc.bulk.map((b) => b.byteLength)), enc.bulk);
    });
  }

  /** Sends a one-way notification. */
  notify(ch: Channel, op: string, body: unknown): void {
    const enc = this.opts.codec.encode(body, `notification ${op}`);
    ch.send(makeFrame(FrameKind.Notify, 0, op, '', enc.payload, enc.special ? FrameFlags.Special : 0, enc.bulk.map((b) => b.byteLength)), enc.bulk);
  }

  /** Closes every channel and both servers. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    const err = new Error('endpoint closed');
    for (const ch of [...this.channels.values(), ...this.byPeerId.values(), ...this.byChannelId.values()]) this.closeChannel(ch, err);
    for (const s of this.bulkSockets) s.destroy();
    for (const { sock, timer } of this.waitingBulk.values()) {
      clearTimeout(timer);
      sock.destroy();
    }
    this.waitingBulk.clear();
    for (const c of this.clients) c.close();
    this.server.forceShutdown();
    await this.bulkServer.close();
  }
}
