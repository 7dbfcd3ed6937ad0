import test from 'ava';
import { runRuntimeBench } from '@cohort/runtime/bench';

// Smoke run of `cohort bench runtime` at a tiny scale: every figure the issue
// asks for is produced, as a positive number (speed is judged by the command
// itself, never by tests).
test('the runtime benchmark produces every figure', async (t) => {
  const r = await runRuntimeBench({ scale: 0.05 });
  for (const key of [
    'actor_calls_sync_per_s',
    'actor_calls_async_per_s',
    'actor_calls_concurrent_per_s',
    'one_n_actor_calls_async_per_s',
    'n_n_actor_calls_async_per_s',
    'n_n_actor_calls_with_arg_async_per_s',
    'put_calls_per_s',
    'get_calls_per_s',
    'put_gb_per_s',
    'transfer_gb_per_s',
    'placement_groups_per_s',
    'actor_spawn_ms',
    'baseline_stream_echo_per_s',
    'baseline_stream_echo_sync_per_s',
    'baseline_tcp_gb_per_s',
    'async_vs_stream_echo',
    'transfer_vs_tcp',
  ] as const) {
    t.true(typeof r[key] === 'number' && r[key] > 0 && Number.isFinite(r[key]), `${key} = ${r[key]}`);
  }
  t.is(r.params.transfer_bytes, 256 * 1024 * 1024);
});
