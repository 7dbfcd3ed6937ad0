import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

const USAGE = `Usage: cohort bench runtime [--json] [--scale X]

Microbenchmark of the actor runtime on this machine, in the shape of
\`ray microbenchmark\`: 1:1 actor calls sync / async / concurrent, 1:n and n:n
async, n:n with a 100 KB argument, put/get calls, put GB/s, actor-to-actor
transfer of a 256 MiB Float32Array, placement group create+remove, actor spawn
latency; and in the same run the floors: a bare echo over one grpc-js
bidirectional stream and raw TCP between two processes.

  --json       print one JSON object instead of a table
  --scale X    scale the iteration counts (default 1; 0.2 for a quick run)`;

const LABELS: Array<[string, string]> = [
  ['actor_calls_sync_per_s', '1:1 actor calls sync (/s)'],
  ['actor_calls_async_per_s', '1:1 actor calls async (/s)'],
  ['actor_calls_concurrent_per_s', '1:1 actor calls concurrent (/s)'],
  ['one_n_actor_calls_async_per_s', '1:n actor calls async (/s)'],
  ['n_n_actor_calls_async_per_s', 'n:n actor calls async (/s)'],
  ['n_n_actor_calls_with_arg_async_per_s', 'n:n actor calls with 100 KB arg async (/s)'],
  ['put_calls_per_s', 'put calls (/s)'],
  ['get_calls_per_s', 'get calls (/s)'],
  ['put_gb_per_s', 'put (GB/s)'],
  ['transfer_gb_per_s', 'actor-to-actor 256 MiB Float32Array, fresh memory (GB/s)'],
  ['transfer_reuse_gb_per_s', 'same, receiver releases the array (GB/s)'],
  ['placement_groups_per_s', 'placement group create+remove (/s)'],
  ['actor_spawn_ms', 'actor spawn to first result (ms)'],
  ['baseline_stream_echo_per_s', 'floor: bare gRPC bidi-stream echo (/s)'],
  ['baseline_stream_echo_sync_per_s', 'floor: same echo, one message in flight (/s)'],
  ['baseline_tcp_gb_per_s', 'floor: raw TCP between processes (GB/s)'],
  ['baseline_tcp_fresh_gb_per_s', 'floor: raw TCP into fresh memory (GB/s)'],
  ['async_vs_stream_echo', 'ratio 1:1 async / stream echo'],
  ['transfer_vs_tcp', 'ratio transfer / raw TCP'],
  ['transfer_reuse_vs_tcp', 'ratio transfer (released) / raw TCP'],
  ['transfer_vs_tcp_fresh', 'ratio transfer (fresh) / raw TCP into fresh memory'],
];

commands.push({
  path: ['bench', 'runtime'],
  summary: 'benchmark the actor runtime (calls/s, transfer GB/s, placement groups) against same-run floors',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { json: { type: 'boolean' }, scale: { type: 'string' } }, false);
    const scale = values.scale === undefined ? 1 : Number(values.scale);
    if (!Number.isFinite(scale) || scale <= 0 || scale > 10) throw new UsageError(`--scale must be a number in (0, 10]; got "${values.scale}"`);
    const { hugePageTunables } = await import('@cohort/runtime');
    const { runRuntimeBench } = await import('@cohort/runtime/bench');
    const tunables = hugePageTunables(process.env.GLIBC_TUNABLES);
    if (process.env.GLIBC_TUNABLES !== tunables) {
      // Re-run with huge pages for large allocations, as the runtime's workers get (see runtime/README.md).
      const { spawnSync } = await import('node:child_process');
      const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, GLIBC_TUNABLES: tunables } });
      return r.status ?? 1;
    }
    const result = await runRuntimeBench({ scale, progress: (l) => process.stderr.write(`bench: ${l}\n`) });
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const rec = result as unknown as Record<string, number>;
    const w = Math.max(...LABELS.map(([, l]) => l.length));
    for (const [k, label] of LABELS) process.stdout.write(`${label.padEnd(w)}  ${rec[k]}\n`);
    return 0;
  },
});
