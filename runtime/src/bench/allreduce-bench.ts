import type { Logger } from 'pino';
import { BaselinePeer, median } from './baselines.js';
import { init } from '../init.js';
import { AllreduceBenchMemberActor } from './allreduce-member.js';
import { createCollectiveGroup } from '../collective/create-group.js';

/** Figures of one ring-allreduce measurement and its same-run raw TCP floor. */
export interface AllreduceBenchResult {
  world: number;
  /** Size of the reduced buffer. */
  bytes: number;
  /** Median time of one allreduce (the slowest member's). */
  ms: number;
  /** Median CPU time of one allreduce in the busiest member (wall time far above it means the processes waited for CPU). */
  cpu_ms: number;
  /** Algorithm bandwidth: bytes / time. */
  algbw_gb_per_s: number;
  /** Bus bandwidth: algbw × 2(W-1)/W, the bytes each link carried / time (comparable to one TCP stream). */
  busbw_gb_per_s: number;
  /** One raw TCP stream between two processes, rounds alternating with the allreduce rounds. */
  raw_tcp_gb_per_s: number;
  /** busbw / raw TCP. */
  busbw_vs_tcp: number;
}

export interface AllreduceBenchOptions {
  world?: number;
  bytes?: number;
  rounds?: number;
  logger?: Logger;
}

/**
 * Times the ring allreduce among `world` actor processes on this machine and
 * a raw TCP stream between two processes in the same run (rounds alternate so
 * both see the same load).
 */
export async function runAllreduceBench(opts: AllreduceBenchOptions = {}): Promise<AllreduceBenchResult> {
  const world = opts.world ?? 2;
  const bytes = opts.bytes ?? 16 * 1024 * 1024;
  const rounds = opts.rounds ?? 5;
  const n = Math.floor(bytes / 4);
  const peer = await BaselinePeer.start();
  const rt = await init({ logLevel: 'warn', logger: opts.logger, resources: { CPU: 64 } });
  try {
    const members = await Promise.all(Array.from({ length: world }, () => rt.spawn(AllreduceBenchMemberActor, [], { resources: { CPU: 0.1 } })));
    await createCollectiveGroup(rt, { name: 'allreduce-bench', members, timeoutMs: 120_000 });
    const tcp = await peer.openTcp(n * 4);
    const cpu: number[] = [];
    const once = async () => {
      const r = await Promise.all(members.map((m) => m.run('allreduce-bench', n, 1)));
      cpu.push(Math.max(...r.map((x) => x.cpuMs[0])));
      return Math.max(...r.map((x) => x.ms[0]));
    };
    await once(); // warm-up: connections, bulk sockets, JIT
    const ms: number[] = [];
    const tcpRates: number[] = [];
    for (let i = 0; i < rounds; i++) {
      tcpRates.push(await tcp.round());
      ms.push(await once());
    }
    tcp.close();
    const t = median(ms);
    const algbw = (n * 4) / (t / 1000) / 1e9;
    const busbw = (algbw * 2 * (world - 1)) / world;
    const raw = median(tcpRates);
    return { world, bytes: n * 4, ms: t, cpu_ms: median(cpu.slice(1)), algbw_gb_per_s: algbw, busbw_gb_per_s: busbw, raw_tcp_gb_per_s: raw, busbw_vs_tcp: busbw / raw };
  } finally {
    await rt.shutdown();
    peer.stop();
  }
}
