import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';

const PEER = fileURLToPath(new URL('./baseline-peer.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const identity = (b: Buffer) => b;

/** A second process serving the benchmark floors (bare gRPC echo, raw TCP sink). */
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
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await round();
    const dt = (performance.now() - t0) / 1000;
    call.end();
    client.close();
    return (n * rounds) / dt;
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
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) await once();
    const dt = (performance.now() - t0) / 1000;
    sock.destroy();
    return (bytes * rounds) / dt / 1e9;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
