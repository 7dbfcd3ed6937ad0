import net from 'node:net';
import tls from 'node:tls';

/**
 * The bulk path: one plain TCP socket per direction per pair of processes
 * carrying raw byte attachments, each as an 8-byte little-endian length then
 * the bytes. The receiving side dials (so it can use `onread` and have the
 * kernel copy straight into the destination array: no intermediate chunks).
 * With {@link BulkTls} the sockets are mutual TLS instead (same certificates as
 * the gRPC data plane); the reader then takes decrypted chunks.
 */

/** Mutual TLS for bulk sockets: PEM contents; peers must present a certificate signed by `ca`. */
export interface BulkTls {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
}

/** The bulk server: plain TCP, or TLS requiring a client certificate. `onSocket` gets each accepted (for TLS: authenticated) socket. */
export function createBulkServer(onSocket: (sock: net.Socket) => void, tlsOpts?: BulkTls): net.Server {
  if (!tlsOpts) return net.createServer(onSocket);
  const server = tls.createServer({ ...tlsOpts, requestCert: true, rejectUnauthorized: true }, onSocket);
  server.on('tlsClientError', () => undefined); // a peer without a valid certificate: its socket is destroyed
  return server;
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

/** Reads length-prefixed attachments from a dialed socket into buffers from `alloc` (fresh ones by default), zero extra copies. */
export class BulkReader {
  private readonly scratch = Buffer.allocUnsafe(1 << 16);
  private readonly header = Buffer.alloc(8);
  private headerFill = 0;
  private dest: Uint8Array | null = null;
  private fill = 0;

  constructor(
    private readonly onAttachment: (bytes: Uint8Array) => void,
    /** Supplies each attachment's destination (e.g. the endpoint's buffer pool). */
    private readonly alloc: (len: number) => Uint8Array = (len) => new Uint8Array(new ArrayBuffer(len)),
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
    while (pos < n) {
      if (this.dest) {
        const take = Math.min(n - pos, this.dest.byteLength - this.fill);
        this.dest.set(src.subarray(pos, pos + take), this.fill);
        this.fill += take;
        pos += take;
        this.maybeDone();
        continue;
      }
      const take = Math.min(n - pos, 8 - this.headerFill);
      src.copy(this.header, this.headerFill, pos, pos + take);
      this.headerFill += take;
      pos += take;
      if (this.headerFill === 8) {
        this.headerFill = 0;
        const len = this.header.readUInt32LE(0) + this.header.readUInt32LE(4) * 2 ** 32;
        this.dest = this.alloc(len);
        this.fill = 0;
        this.maybeDone();
      }
    }
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
