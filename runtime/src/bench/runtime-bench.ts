import type { Logger } from 'pino';
import { init } from '../init.js';
import type { Runtime } from '../runtime.js';
import { BaselinePeer } from './baselines.js';
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
  transfer_gb_per_s: number;
  placement_groups_per_s: number;
  actor_spawn_ms: number;
  baseline_stream_echo_per_s: number;
  /** The same echo with one message in flight (the floor of sync calls). */
  baseline_stream_echo_sync_per_s: number;
  baseline_tcp_gb_per_s: number;
  /** actor_calls_async_per_s / baseline_stream_echo_per_s. */
  async_vs_stream_echo: number;
  /** transfer_gb_per_s / baseline_tcp_gb_per_s. */
  transfer_vs_tcp: number;
  params: { in_flight: number; n: number; transfer_bytes: number; arg_bytes: number };
}

export interface RuntimeBenchOptions {
  /** Scales iteration counts (1 = default, smaller = quicker and noisier). */
  scale?: number;
  /** Progress lines (to stderr in the CLI). */
  progress?: (line: string) => void;
  logger?: Logger;
}

async function rate(fn: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const ops = await fn();
  return ops / ((performance.now() - t0) / 1000);
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
    say('baseline: bare gRPC bidi-stream echo');
    await peer.streamEcho(inFlight, 1);
    const baselineEcho = await peer.streamEcho(inFlight, rounds(10));
    const baselineEchoSync = await peer.streamEcho(1, rounds(2000));
    say('baseline: raw TCP');
    const baselineTcp = await peer.tcp(transferBytes, rounds(4));

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

    const asyncRounds = async (call: () => PromiseLike<unknown>, k: number) => {
      for (let i = 0; i < k; i++) {
        const refs = new Array(inFlight);
        for (let j = 0; j < inFlight; j++) refs[j] = call();
        await Promise.all(refs);
      }
      return k * inFlight;
    };

    say('1:1 sync calls');
    for (let i = 0; i < 1500; i++) await a.noop(); // JIT warm-up of both processes
    const sync = await rate(async () => {
      const k = rounds(2000);
      for (let i = 0; i < k; i++) await a.noop();
      return k;
    });
    say('1:1 async calls');
    await asyncRounds(() => a.noop(), 1);
    const asyncRate = await rate(() => asyncRounds(() => a.noop(), rounds(10)));
    say('1:1 concurrent calls');
    await asyncRounds(() => conc.asyncNoop(), 1);
    const concurrent = await rate(() => asyncRounds(() => conc.asyncNoop(), rounds(10)));
    say('1:n async calls');
    let next = 0;
    const oneN = await rate(() => asyncRounds(() => targets[next++ % n].noop(), rounds(10)));

    say('n:n async calls');
    await Promise.all(clients.map((c) => c.run(targets, 100, 1, 0)));
    const nn = await rate(async () => (await Promise.all(clients.map((c) => c.run(targets, 1000, rounds(5), 0)))).reduce((x, y) => x + y, 0));
    say('n:n async calls with a 100 KB argument');
    const nnArg = await rate(async () => (await Promise.all(clients.map((c) => c.run(targets, 50, rounds(4), argBytes)))).reduce((x, y) => x + y, 0));

    say('put / get calls');
    const putCalls = await rate(async () => {
      const k = rounds(20000);
      for (let i = 0; i < k; i++) r.put(i);
      return k;
    });
    const ref = r.put({ small: 1 });
    const getCalls = await rate(async () => {
      const k = rounds(20000);
      for (let i = 0; i < k; i++) await r.get(ref);
      return k;
    });
    say('put GB/s');
    const big = new Float32Array(transferBytes / 4).fill(1);
    r.free(r.put(big));
    const putRounds = rounds(3);
    const putGb =
      (await rate(async () => {
        for (let i = 0; i < putRounds; i++) r.free(r.put(big));
        return putRounds;
      })) *
      (transferBytes / 1e9);

    say('actor-to-actor transfer of a 256 MiB Float32Array');
    await a.make(transferBytes / 4);
    await a.sendTo(b);
    const tRounds = rounds(4);
    const transferGb =
      (await rate(async () => {
        for (let i = 0; i < tRounds; i++) await a.sendTo(b);
        return tRounds;
      })) *
      (transferBytes / 1e9);

    say('placement group create + remove');
    const pgs = await rate(async () => {
      const k = rounds(300);
      for (let i = 0; i < k; i++) {
        const pg = await r.createPlacementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'PACK' });
        await pg.ready();
        await pg.remove();
      }
      return k;
    });

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
      placement_groups_per_s: Math.round(pgs),
      actor_spawn_ms: Math.round(spawnMs),
      baseline_stream_echo_per_s: Math.round(baselineEcho),
      baseline_stream_echo_sync_per_s: Math.round(baselineEchoSync),
      baseline_tcp_gb_per_s: +baselineTcp.toFixed(2),
      async_vs_stream_echo: +(asyncRate / baselineEcho).toFixed(2),
      transfer_vs_tcp: +(transferGb / baselineTcp).toFixed(2),
      params: { in_flight: inFlight, n, transfer_bytes: transferBytes, arg_bytes: argBytes },
    };
  } finally {
    peer.stop();
    await rt?.shutdown();
  }
}
