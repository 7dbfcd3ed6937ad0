import type { Logger } from 'pino';
import { init } from '../init.js';
import type { Runtime } from '../runtime.js';
import { BaselinePeer, median } from './baselines.js';
import { BenchClientActor, BenchTargetActor } from './bench-actors.js';

/** Figures of `cohort bench runtime` (operations per second unless named otherwise). */
export interface RuntimeBenchResult {
  actor_calls_sync_per_s: number;
  actor_calls_async_per_s: number;
  actor_calls_concurrent_per_s: number;
  one_n_actor_calls_async_per_s: number;
  n_n_actor_calls_async_per_s: number;
  n_n_actor_calls_with_arg_async_per_s: number;
  put_calls_per_s: number;
  get_calls_per_s: number;
  put_gb_per_s: number;
  /** Actor → actor, the receiver keeping nothing but not giving the memory back: each transfer lands in fresh pages. */
  transfer_gb_per_s: number;
  /** The same, the receiver giving the array back (`runtime.release`): transfers land in reused memory, as the floor's do. */
  transfer_reuse_gb_per_s: number;
  placement_groups_per_s: number;
  actor_spawn_ms: number;
  baseline_stream_echo_per_s: number;
  /** The same echo with one message in flight (the floor of sync calls). */
  baseline_stream_echo_sync_per_s: number;
  baseline_tcp_gb_per_s: number;
  /** Raw TCP into a freshly allocated buffer of the transfer's size each round (the floor of `transfer_gb_per_s`). */
  baseline_tcp_fresh_gb_per_s: number;
  /** actor_calls_async_per_s / baseline_stream_echo_per_s. */
  async_vs_stream_echo: number;
  /** transfer_gb_per_s / baseline_tcp_gb_per_s. */
  transfer_vs_tcp: number;
  /** transfer_reuse_gb_per_s / its own same-run baseline_tcp rounds. */
  transfer_reuse_vs_tcp: number;
  /** transfer_gb_per_s / baseline_tcp_fresh_gb_per_s (both land in fresh pages). */
  transfer_vs_tcp_fresh: number;
  params: { in_flight: number; n: number; transfer_bytes: number; arg_bytes: number };
}

export interface RuntimeBenchOptions {
  /** Scales iteration counts (1 = default, smaller = quicker and noisier). */
  scale?: number;
  /** Progress lines (to stderr in the CLI). */
  progress?: (line: string) => void;
  logger?: Logger;
}

/** Runs the runtime microbenchmark and its same-run floors. */
export async function runRuntimeBench(opts: RuntimeBenchOptions = {}): Promise<RuntimeBenchResult> {
  const s = opts.scale ?? 1;
  const say = opts.progress ?? (() => {});
  const inFlight = 2000;
  const n = 2;
  const transferBytes = 256 * 1024 * 1024;
  const argBytes = 100 * 1024;
  const rounds = (k: number) => Math.max(1, Math.round(k * s));

  const peer = await BaselinePeer.start();
  let rt: Runtime | undefined;
  try {
    rt = await init({ logLevel: 'warn', logger: opts.logger, resources: { CPU: 64 } });
    const r = rt;
    say('actor spawn latency');
    let spawnMs = 0;
    const spawns = rounds(3);
    for (let i = 0; i < spawns; i++) {
      const t0 = performance.now();
      const h = await r.spawn(BenchTargetActor, []);
      await h.noop();
      spawnMs += performance.now() - t0;
      await h.$kill();
    }
    spawnMs /= spawns;

    const [a, b, conc, ...targets] = await Promise.all([
      r.spawn(BenchTargetActor, []),
      r.spawn(BenchTargetActor, []),
      r.spawn(BenchTargetActor, [], { maxConcurrency: 16 }),
      ...Array.from({ length: n }, () => r.spawn(BenchTargetActor, [])),
    ]);
    const clients = await Promise.all(Array.from({ length: n }, () => r.spawn(BenchClientActor, [])));
    await Promise.all([a, b, conc, ...targets, ...clients].map((h) => h.$ready()));

    const timed = async (round: () => Promise<number>) => {
      const t0 = performance.now();
      const ops = await round();
      return ops / ((performance.now() - t0) / 1000);
    };
    /**
     * A figure and its floor, rounds alternating (so both see the same load
     * on a shared machine); medians of the per-round rates.
     */
    const paired = async (round: () => Promise<number>, floor: { round(): Promise<number>; close(): void }, k: number, warmups = 1) => {
      for (let i = 0; i < warmups; i++) await round();
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < k; i++) {
        base.push(await floor.round());
        ours.push(await timed(round));
      }
      floor.close();
      return { ours: median(ours), floor: median(base) };
    };
    /** Median over `k` rounds of the rate of one round (`round` returns its op count). */
    const medianRate = async (round: () => Promise<number>, k: number, warmups = 1) => {
      for (let i = 0; i < warmups; i++) await round();
      const rates: number[] = [];
      for (let i = 0; i < k; i++) {
        const t0 = performance.now();
        const ops = await round();
        rates.push(ops / ((performance.now() - t0) / 1000));
      }
      return median(rates);
    };
    const inFlightRound = (call: () => PromiseLike<unknown>) => async () => {
      const refs = new Array(inFlight);
      for (let j = 0; j < inFlight; j++) refs[j] = call();
      await Promise.all(refs);
      return inFlight;
    };

    // Floors and the figures compared with them are measured back to back, so
    // both see the same load on a shared machine.
    say('1:1 sync calls (and the one-in-flight stream echo floor)');
    for (let i = 0; i < 1500; i++) await a.noop(); // JIT warm-up of both processes
    const { ours: sync, floor: baselineEchoSync } = await paired(
      async () => {
        for (let i = 0; i < 100; i++) await a.noop();
        return 100;
      },
      await peer.openEchoSequential(100),
      rounds(20),
    );
    say('1:1 async calls (and the bare stream echo floor)');
    const { ours: asyncRate, floor: baselineEcho } = await paired(inFlightRound(() => a.noop()), await peer.openEcho(inFlight), rounds(10));
    say('1:1 concurrent calls');
    const concurrent = await medianRate(inFlightRound(() => conc.asyncNoop()), rounds(10));
    say('1:n async calls');
    let next = 0;
    const oneN = await medianRate(inFlightRound(() => targets[next++ % n].noop()), rounds(10));

    say('n:n async calls');
    const nn = await medianRate(async () => (await Promise.all(clients.map((c) => c.run(targets, 1000, 1, 0)))).reduce((x, y) => x + y, 0), rounds(5));
    say('n:n async calls with a 100 KB argument');
    const nnArg = await medianRate(async () => (await Promise.all(clients.map((c) => c.run(targets, 50, 1, argBytes)))).reduce((x, y) => x + y, 0), rounds(4));

    say('put / get calls');
    const putCalls = await medianRate(async () => {
      for (let i = 0; i < 5000; i++) r.put(i);
      return 5000;
    }, rounds(4));
    const ref = r.put({ small: 1 });
    const getCalls = await medianRate(async () => {
      for (let i = 0; i < 5000; i++) await r.get(ref);
      return 5000;
    }, rounds(4));
    say('put GB/s');
    const big = new Float32Array(transferBytes / 4).fill(1);
    const putGb =
      (await medianRate(async () => {
        r.free(r.put(big));
        return 1;
      }, rounds(3))) *
      (transferBytes / 1e9);

    say('actor-to-actor transfer of a 256 MiB Float32Array (and the raw TCP floor)');
    await a.make(transferBytes / 4);
    // Two warm-up rounds: the first touches of fresh huge pages are slow
    // (compaction); the steady state is what repeated weight syncs see.
    const transfer = await paired(
      async () => {
        await a.sendTo(b);
        return transferBytes / 1e9;
      },
      await peer.openTcp(transferBytes),
      rounds(4),
      2,
    );
    const transferGb = transfer.ours;
    const baselineTcp = transfer.floor;
    say('raw TCP into fresh memory (the floor of a transfer the receiver keeps)');
    const fresh = await paired(
      async () => {
        await a.sendTo(b);
        return transferBytes / 1e9;
      },
      await peer.openTcp(transferBytes, { fresh: true }),
      rounds(4),
      0,
    );
    say('the same transfer, the receiver giving the memory back (and the raw TCP floor again)');
    const reuse = await paired(
      async () => {
        await a.sendTo(b, true);
        return transferBytes / 1e9;
      },
      await peer.openTcp(transferBytes),
      rounds(4),
      2,
    );

    say('placement group create + remove');
    const pgs = await medianRate(async () => {
      for (let i = 0; i < 50; i++) {
        const pg = await r.createPlacementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'PACK' });
        await pg.ready();
        await pg.remove();
      }
      return 50;
    }, rounds(5));

    return {
      actor_calls_sync_per_s: Math.round(sync),
      actor_calls_async_per_s: Math.round(asyncRate),
      actor_calls_concurrent_per_s: Math.round(concurrent),
      one_n_actor_calls_async_per_s: Math.round(oneN),
      n_n_actor_calls_async_per_s: Math.round(nn),
      n_n_actor_calls_with_arg_async_per_s: Math.round(nnArg),
      put_calls_per_s: Math.round(putCalls),
      get_calls_per_s: Math.round(getCalls),
      put_gb_per_s: +putGb.toFixed(2),
      transfer_gb_per_s: +transferGb.toFixed(2),
      transfer_reuse_gb_per_s: +reuse.ours.toFixed(2),
      placement_groups_per_s: Math.round(pgs),
      actor_spawn_ms: Math.round(spawnMs),
      baseline_stream_echo_per_s: Math.round(baselineEcho),
      baseline_stream_echo_sync_per_s: Math.round(baselineEchoSync),
      baseline_tcp_gb_per_s: +baselineTcp.toFixed(2),
      baseline_tcp_fresh_gb_per_s: +fresh.floor.toFixed(2),
      async_vs_stream_echo: +(asyncRate / baselineEcho).toFixed(2),
      transfer_vs_tcp: +(transferGb / baselineTcp).toFixed(2),
      transfer_reuse_vs_tcp: +(reuse.ours / reuse.floor).toFixed(2),
      transfer_vs_tcp_fresh: +(fresh.ours / fresh.floor).toFixed(2),
      params: { in_flight: inFlight, n, transfer_bytes: transferBytes, arg_bytes: argBytes },
    };
  } finally {
    peer.stop();
    await rt?.shutdown();
  }
}
