import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';

const PEER = fileURLToPath(new URL('./baseline-peer.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const identity = (b: Buffer) => b;

/** Median of a non-empty list (robust against the stalls of a shared machine). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One floor measurement, repeatable. */
export interface FloorProbe {
  /** Runs one round; resolves with its rate. */
  round(): Promise<number>;
  close(): void;
}

/** A second process serving the benchmark floors (bare gRPC echo, raw TCP source). */
export class BaselinePeer {
  private constructor(
    private readonly child: ChildProcess,
    readonly grpcPort: number,
    readonly tcpPort: number,
  ) {}

  static async start(): Promise<BaselinePeer> {
    const child = spawn(process.execPath, ['--import', TSX, PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', resolve);
      child.once('exit', (c) => reject(new Error(`baseline peer exited with code ${c}`)));
    });
    const { grpc: g, tcp } = JSON.parse(line) as { grpc: number; tcp: number };
    return new BaselinePeer(child, g, tcp);
  }

  /**
   * A bare echo over one grpc-js bidirectional stream: each `round()` writes
   * `n` 64-byte messages at once and resolves with the messages/s of that round.
   */
  async openEcho(n: number): Promise<FloorProbe> {
    const client = new grpc.Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/bench.Echo/Echo', identity, identity);
    call.on('error', () => {});
    const msg = Buffer.alloc(64, 7);
    let got = 0;
    let done: (() => void) | undefined;
    call.on('data', () => {
      if (++got === n) done?.();
    });
    const round = async () => {
      got = 0;
      const p = new Promise<void>((r) => (done = r));
      const t0 = performance.now();
      for (let i = 0; i < n; i++) call.write(msg);
      await p;
      return n / ((performance.now() - t0) / 1000);
    };
    await round();
    return {
      round,
      close: () => {
        call.end();
        client.close();
      },
    };
  }

  /** The same echo with one message in flight: each `round()` does `chunk` sequential round trips. */
  async openEchoSequential(chunk: number): Promise<FloorProbe> {
    const client = new grpc.Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/bench.Echo/Echo', identity, identity);
    call.on('error', () => {});
    const msg = Buffer.alloc(64, 7);
    let next: (() => void) | undefined;
    call.on('data', () => next?.());
    const one = () => new Promise<void>((r) => ((next = r), call.write(msg)));
    const round = async () => {
      const t0 = performance.now();
      for (let i = 0; i < chunk; i++) await one();
      return chunk / ((performance.now() - t0) / 1000);
    };
    await round();
    return {
      round,
      close: () => {
        call.end();
        client.close();
      },
    };
  }

  /**
   * Raw TCP from the peer to this process: each `round()` moves `bytes`
   * (written in 4 MiB writes) and resolves with GB/s. By default read straight
   * into one reused 4 MiB buffer: no page faults, no copies — the best case a
   * socket gives. With `fresh`, each round reads into a newly allocated
   * `bytes`-long buffer instead (what a receiver that keeps what it gets pays:
   * first-touch page faults).
   */
  async openTcp(bytes: number, opts: { fresh?: boolean } = {}): Promise<FloorProbe> {
    const buf = Buffer.allocUnsafe(4 << 20);
    let dest: Uint8Array = buf;
    let fill = 0;
    let left = 0;
    let done: (() => void) | undefined;
    const sock = net.connect({
      port: this.tcpPort,
      host: '127.0.0.1',
      onread: {
        buffer: () => (opts.fresh && fill < dest.byteLength ? dest.subarray(fill) : buf),
        callback: (n: number) => {
          if (opts.fresh) fill += n;
          left -= n;
          if (left <= 0) done?.();
          return true;
        },
      },
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const round = async () => {
      left = bytes;
      const p = new Promise<void>((r) => (done = r));
      const t0 = performance.now();
      if (opts.fresh) {
        dest = new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer);
        fill = 0;
      }
      const h = Buffer.alloc(8);
      h.writeUInt32LE(bytes % 2 ** 32, 0);
      h.writeUInt32LE(Math.floor(bytes / 2 ** 32), 4);
      sock.write(h);
      await p;
      return bytes / ((performance.now() - t0) / 1000) / 1e9;
    };
    await round();
    return { round, close: () => sock.destroy() };
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
