import net from 'node:net';
import tls from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The bulk path: one plain TCP socket per direction per pair of processes
 * carrying raw byte attachments, each as an 8-byte little-endian length then
 * the bytes. The receiving side dials (so it can use `onread` and have the
 * kernel copy straight into the destination array: no intermediate chunks)
 * and opens with a handshake (`u32 length`, then `channelId\ntoken`); the
 * accepting side reads nothing else from an unauthenticated peer. With
 * {@link BulkTls} the sockets are mutual TLS instead (same certificates as the
 * gRPC data plane); the reader then takes decrypted chunks.
 */

/** Mutual TLS for bulk sockets: PEM contents; peers must present a certificate signed by `ca`. */
export interface BulkTls {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
}

/** Bounds of the bulk path (see `EndpointOptions`). */
export interface BulkLimits {
  /** Largest attachment sent or accepted, in bytes (runtime config `maxBulkBytes`, `COHORT_MAX_BULK_BYTES`). */
  maxBulkBytes: number;
  /** Time a new bulk connection has to finish its handshake (TLS included), in ms. */
  handshakeMs: number;
  /** Most bulk connections still in their handshake at once; more are refused at once. */
  maxPending: number;
}

/** Default {@link BulkLimits}: 4 GiB attachments, a 10 s handshake, 64 connections in handshake. */
export const DEFAULT_BULK_LIMITS: BulkLimits = { maxBulkBytes: 4 * 1024 ** 3, handshakeMs: 10_000, maxPending: 64 };

/** Largest handshake body (`channelId\ntoken`) a bulk server reads; a longer declared length is refused unread. */
export const MAX_BULK_HELLO_BYTES = 4096;

/** Length value of a refusal record: the writer's last words (`u16 length`, UTF-8 reason) before it closes. */
const REFUSAL = 2 ** 64 - 1;
const REFUSAL_MAX_CHARS = 300;

/** Constant-time comparison of two secrets (hashed first, so lengths do not leak either). */
export function tokensEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Why a bulk server refused a connection (counted per kind in `BulkServer.refused`). */
export type BulkRefusal = 'busy' | 'deadline' | 'oversize' | 'token' | 'protocol' | 'tls';

/** What a {@link BulkServer} checks and whom it hands authenticated sockets to. */
export interface BulkServerOptions {
  limits: BulkLimits;
  /** When set, the handshake must carry this token. */
  token?: string;
  tls?: BulkTls;
  /** An authenticated socket, named by the channel id its dialer chose. */
  onAccept(sock: net.Socket, channelId: string): void;
  /** A refused connection (for the log; keep it cheap: junk may arrive at line rate). */
  onRefuse?(kind: BulkRefusal, reason: string, remote: string | undefined): void;
}

/**
 * The accepting side of the bulk path. Before a connection is authenticated
 * it reads at most 4 + {@link MAX_BULK_HELLO_BYTES} bytes into one fixed
 * buffer (no re-copying), within `handshakeMs`, with at most `maxPending`
 * such connections at once; anything else is refused with a one-line reason
 * and the socket is closed. With TLS the certificate is checked first.
 */
export class BulkServer {
  readonly server: net.Server;
  /** Connections refused, by kind. */
  readonly refused: Record<BulkRefusal, number> = { busy: 0, deadline: 0, oversize: 0, token: 0, protocol: 0, tls: 0 };
  private pendingCount = 0;
  /** TLS: connections in their TLS handshake, by remote `address:port` (the TLS socket names the same pair). */
  private readonly inTls = new Map<string, { settle: () => boolean; secured: (t: net.Socket) => void }>();

  constructor(private readonly o: BulkServerOptions) {
    if (!o.tls) this.server = net.createServer((raw) => this.admit(raw, raw));
    else {
      const server = tls.createServer({ ...o.tls, requestCert: true, rejectUnauthorized: true, handshakeTimeout: o.limits.handshakeMs }, (t) => {
        const key = `${t.remoteAddress}:${t.remotePort}`;
        const entry = this.inTls.get(key);
        this.inTls.delete(key);
        if (!entry) return void t.destroy(); // already past its deadline
        entry.secured(t);
        t.once('close', entry.settle);
        t.on('error', () => t.destroy());
        this.readHello(t, entry.settle, t.remoteAddress);
      });
      // a peer without a valid certificate (or too slow): its socket is destroyed by node
      server.on('tlsClientError', () => {
        this.refused.tls++;
      });
      server.on('connection', (raw: net.Socket) => this.admit(raw, undefined));
      this.server = server;
    }
  }

  /** Connections in their handshake now. */
  get pending(): number {
    return this.pendingCount;
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Counts a new connection against `maxPending` and starts its deadline; plain sockets (`plain`) go on to the handshake at once. */
  private admit(raw: net.Socket, plain: net.Socket | undefined): void {
    raw.on('error', () => raw.destroy());
    const remote = raw.remoteAddress;
    if (this.pendingCount >= this.o.limits.maxPending) {
      this.refused.busy++;
      this.o.onRefuse?.('busy', `too many bulk connections in their handshake (${this.o.limits.maxPending})`, remote);
      if (plain) this.refuse(plain, 'busy', `too many bulk connections in their handshake (${this.o.limits.maxPending}); retry later`, remote, false);
      else raw.destroy();
      return;
    }
    this.pendingCount++;
    let open = true;
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    let sock = plain;
    const settle = () => {
      if (!open) return false;
      open = false;
      this.pendingCount--;
      clearTimeout(timer);
      if (this.inTls.get(key)?.settle === settle) this.inTls.delete(key);
      return true;
    };
    const timer = setTimeout(() => {
      if (!settle()) return;
      if (sock) this.refuse(sock, 'deadline', `no bulk handshake within ${this.o.limits.handshakeMs} ms`, remote);
      else {
        this.refused.deadline++;
        this.o.onRefuse?.('deadline', `no bulk handshake within ${this.o.limits.handshakeMs} ms`, remote);
        raw.destroy();
      }
    }, this.o.limits.handshakeMs);
    timer.unref();
    raw.once('close', settle);
    if (plain) this.readHello(plain, settle, remote);
    else this.inTls.set(key, { settle, secured: (t) => (sock = t) });
  }

  /** Reads the handshake incrementally into one fixed buffer; hands the socket on or refuses it. */
  private readHello(sock: net.Socket, settle: () => boolean, remote: string | undefined): void {
    const head = Buffer.alloc(4);
    let headFill = 0;
    let body: Buffer | undefined;
    let bodyFill = 0;
    const onData = (d: Buffer) => {
      let pos = 0;
      if (!body) {
        const take = Math.min(4 - headFill, d.length);
        d.copy(head, headFill, 0, take);
        headFill += take;
        pos = take;
        if (headFill < 4) return;
        const n = head.readUInt32LE(0);
        if (n > MAX_BULK_HELLO_BYTES) {
          if (settle()) this.refuse(sock, 'oversize', `bulk handshake of ${n} bytes declared; at most ${MAX_BULK_HELLO_BYTES} are read`, remote);
          return;
        }
        body = Buffer.alloc(n);
      }
      const take = Math.min(body.length - bodyFill, d.length - pos);
      d.copy(body, bodyFill, pos, pos + take);
      bodyFill += take;
      pos += take;
      if (bodyFill < body.length) return;
      if (!settle()) return;
      sock.off('data', onData);
      if (pos < d.length) return this.refuse(sock, 'protocol', 'bytes after the bulk handshake; a bulk dialer sends nothing else', remote);
      const text = body.toString('utf8');
      const nl = text.indexOf('\n');
      const channelId = nl < 0 ? text : text.slice(0, nl);
      const token = nl < 0 ? '' : text.slice(nl + 1);
      if (!/^[\w.-]{1,64}$/.test(channelId)) return this.refuse(sock, 'protocol', 'malformed bulk handshake (expected a channel id of letters, digits, ".", "-" or "_")', remote);
      if (this.o.token !== undefined && !tokensEqual(token, this.o.token)) {
        return this.refuse(sock, 'token', `${token ? 'wrong' : 'missing'} cluster token in the bulk handshake; give every process of the cluster the same token`, remote);
      }
      // Authenticated: the peer only reads from here on; a byte it sends is a protocol error.
      sock.on('data', () => this.refuse(sock, 'protocol', 'bytes after the bulk handshake; a bulk dialer sends nothing else', remote));
      this.o.onAccept(sock, channelId);
    };
    sock.on('data', onData);
  }

  /** Sends the refusal record (so a real peer can say why), stops reading and closes the socket. */
  private refuse(sock: net.Socket, kind: BulkRefusal, reason: string, remote: string | undefined, count = true): void {
    if (count) {
      this.refused[kind]++;
      this.o.onRefuse?.(kind, reason, remote);
    }
    sock.removeAllListeners('data');
    sock.pause();
    if (sock.writable) sock.end(refusalRecord(reason));
    setTimeout(() => sock.destroy(), 250).unref();
  }
}

function refusalRecord(reason: string): Buffer {
  const text = Buffer.from(reason.slice(0, REFUSAL_MAX_CHARS), 'utf8');
  const b = Buffer.alloc(10 + text.length);
  b.writeUInt32LE(0xffffffff, 0);
  b.writeUInt32LE(0xffffffff, 4);
  b.writeUInt16LE(text.length, 8);
  text.copy(b, 10);
  return b;
}

/** The dialer's handshake: `u32 length`, then `channelId\ntoken`. */
export function bulkHello(channelId: string, token: string | undefined): Buffer {
  const id = Buffer.from(`${channelId}\n${token ?? ''}`);
  if (id.length > MAX_BULK_HELLO_BYTES) throw new Error(`the cluster token is too long for the bulk handshake (${id.length} bytes with the channel id; at most ${MAX_BULK_HELLO_BYTES})`);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(id.length);
  return Buffer.concat([len, id]);
}

/** Dials a peer's bulk server; `onConnected` runs once the socket (for TLS: the handshake) is up. Attachments go to `reader`. */
export function dialBulk(host: string, port: number, reader: BulkReader, tlsOpts: BulkTls | undefined, onConnected: () => void): net.Socket {
  if (!tlsOpts) {
    const sock = net.connect({ host, port, onread: reader.onread() });
    sock.on('connect', onConnected);
    return sock;
  }
  const sock = tls.connect({ host, port, ...tlsOpts, servername: net.isIP(host) ? undefined : host });
  sock.on('secureConnect', onConnected);
  sock.on('data', (chunk: Buffer) => reader.feed(chunk));
  return sock;
}

/**
 * Reads length-prefixed attachments from a dialed socket into buffers from
 * `alloc` (fresh ones by default), zero extra copies. A declared length over
 * `maxBytes`, or the peer's refusal record, ends the stream with `onError`.
 */
export class BulkReader {
  private readonly scratch = Buffer.allocUnsafe(1 << 16);
  private readonly header = Buffer.alloc(8);
  private headerFill = 0;
  private dest: Uint8Array | null = null;
  private fill = 0;
  /** Reading a refusal record: its length once known, and the text so far. */
  private refusal: { len: number; text: Buffer; fill: number } | null = null;
  private failed = false;

  constructor(
    private readonly onAttachment: (bytes: Uint8Array) => void,
    /** Supplies each attachment's destination (e.g. the endpoint's buffer pool). */
    private readonly alloc: (len: number) => Uint8Array = (len) => new Uint8Array(new ArrayBuffer(len)),
    private readonly maxBytes = DEFAULT_BULK_LIMITS.maxBulkBytes,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** The `onread` option for net.connect. */
  onread(): net.OnReadOpts {
    return {
      buffer: () => (this.dest && this.fill < this.dest.byteLength ? this.dest.subarray(this.fill) : this.scratch),
      callback: (n: number, buf: Uint8Array) => {
        if (buf === this.scratch) this.parse(n);
        else {
          this.fill += n;
          this.maybeDone();
        }
        return true;
      },
    };
  }

  /** Takes a chunk read by other means (a TLS socket's `data` events). */
  feed(chunk: Buffer): void {
    this.parse(chunk.byteLength, chunk);
  }

  private parse(n: number, src: Buffer = this.scratch): void {
    let pos = 0;
    while (pos < n && !this.failed) {
      if (this.dest) {
        const take = Math.min(n - pos, this.dest.byteLength - this.fill);
        this.dest.set(src.subarray(pos, pos + take), this.fill);
        this.fill += take;
        pos += take;
        this.maybeDone();
        continue;
      }
      if (this.refusal) {
        pos = this.readRefusal(src, pos, n);
        continue;
      }
      const take = Math.min(n - pos, 8 - this.headerFill);
      src.copy(this.header, this.headerFill, pos, pos + take);
      this.headerFill += take;
      pos += take;
      if (this.headerFill === 8) {
        this.headerFill = 0;
        const len = this.header.readUInt32LE(0) + this.header.readUInt32LE(4) * 2 ** 32;
        if (len === REFUSAL) {
          this.refusal = { len: -1, text: Buffer.alloc(2), fill: 0 };
          continue;
        }
        if (len > this.maxBytes) return this.fail(new Error(`the peer announced a bulk attachment of ${len} bytes, over this process's limit of ${this.maxBytes} (maxBulkBytes / COHORT_MAX_BULK_BYTES)`));
        this.dest = this.alloc(len);
        this.fill = 0;
        this.maybeDone();
      }
    }
  }

  private readRefusal(src: Buffer, pos: number, n: number): number {
    const r = this.refusal!;
    const want = r.len < 0 ? 2 : r.len;
    const take = Math.min(n - pos, want - r.fill);
    src.copy(r.text, r.fill, pos, pos + take);
    r.fill += take;
    if (r.fill === want) {
      if (r.len < 0) {
        const len = Math.min(r.text.readUInt16LE(0), REFUSAL_MAX_CHARS * 4);
        this.refusal = { len, text: Buffer.alloc(len), fill: 0 };
        if (len === 0) this.fail(new Error('bulk connection refused by the peer'));
      } else this.fail(new Error(`bulk connection refused by the peer: ${r.text.toString('utf8')}`));
    }
    return pos + take;
  }

  private fail(err: Error): void {
    this.failed = true;
    this.dest = null;
    this.onError(err);
  }

  private maybeDone(): void {
    if (this.dest && this.fill >= this.dest.byteLength) {
      const d = this.dest;
      this.dest = null;
      this.fill = 0;
      this.onAttachment(d);
    }
  }
}

/** Writes attachments to an accepted bulk socket; queues them until the socket exists. */
export class BulkWriter {
  private socket: net.Socket | null = null;
  private queued: Uint8Array[] = [];

  attach(socket: net.Socket): void {
    this.socket = socket;
    for (const b of this.queued) this.writeNow(b);
    this.queued = [];
  }

  write(bytes: Uint8Array): void {
    if (this.socket) this.writeNow(bytes);
    else this.queued.push(bytes);
  }

  private writeNow(bytes: Uint8Array): void {
    const h = Buffer.allocUnsafe(8);
    h.writeUInt32LE(bytes.byteLength % 2 ** 32, 0);
    h.writeUInt32LE(Math.floor(bytes.byteLength / 2 ** 32), 4);
    const sock = this.socket!;
    sock.cork(); // header and bytes in one writev
    sock.write(h);
    if (bytes.byteLength > 0) sock.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    sock.uncork();
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
    this.queued = [];
  }
}
