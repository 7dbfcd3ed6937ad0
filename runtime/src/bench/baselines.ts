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

  /** Messages/s of a bare echo over one grpc-js bidirectional stream, `n` 64-byte messages in flight at once. */
  async streamEcho(n: number, rounds: number): Promise<number> {
    const client = new grpc.Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/bench.Echo/Echo', identity, identity);
    const msg = Buffer.alloc(64, 7);
    let got = 0;
    let done: (() => void) | undefined;
    call.on('error', () => {});
    call.on('data', () => {
      if (++got === n) done?.();
    });
    const round = async () => {
      got = 0;
      const p = new Promise<void>((r) => (done = r));
      for (let i = 0; i < n; i++) call.write(msg);
      await p;
    };
    await round();
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await round();
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    call.end();
    client.close();
    return median(rates);
  }

  /** Messages/s of the same echo with one message in flight: `chunks` runs of `chunk` sequential round trips, median. */
  async streamEchoSequential(chunk: number, chunks: number): Promise<number> {
    const client = new grpc.Client(`127.0.0.1:${this.grpcPort}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/bench.Echo/Echo', identity, identity);
    call.on('error', () => {});
    const msg = Buffer.alloc(64, 7);
    let next: (() => void) | undefined;
    call.on('data', () => next?.());
    const one = () => new Promise<void>((r) => ((next = r), call.write(msg)));
    for (let i = 0; i < chunk; i++) await one();
    const rates: number[] = [];
    for (let c = 0; c < chunks; c++) {
      const t0 = performance.now();
      for (let i = 0; i < chunk; i++) await one();
      rates.push(chunk / ((performance.now() - t0) / 1000));
    }
    call.end();
    client.close();
    return median(rates);
  }

  /**
   * GB/s of raw TCP between the peer and this process: `bytes` per transfer,
   * written in 4 MiB writes, read straight into one reused 4 MiB buffer (no
   * page faults, no copies: the best case a socket gives).
   */
  async tcp(bytes: number, rounds: number): Promise<number> {
    const buf = Buffer.allocUnsafe(4 << 20);
    let left = 0;
    let done: (() => void) | undefined;
    const sock = net.connect({
      port: this.tcpPort,
      host: '127.0.0.1',
      onread: {
        buffer: buf,
        callback: (n: number) => {
          left -= n;
          if (left <= 0) done?.();
          return true;
        },
      },
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const once = async () => {
      left = bytes;
      const p = new Promise<void>((r) => (done = r));
      const h = Buffer.alloc(8);
      h.writeUInt32LE(bytes % 2 ** 32, 0);
      h.writeUInt32LE(Math.floor(bytes / 2 ** 32), 4);
      sock.write(h);
      await p;
    };
    await once();
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await once();
      rates.push(bytes / ((performance.now() - t0) / 1000) / 1e9);
    }
    sock.destroy();
    return median(rates);
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
