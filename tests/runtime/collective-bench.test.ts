import test from 'ava';
import { runAllreduceBench } from '@cohort/runtime/bench';

test('runAllreduceBench times a ring allreduce among worker processes next to a raw TCP stream of the same run', async (t) => {
  const r = await runAllreduceBench({ world: 3, bytes: 1 << 20, rounds: 2 });
  t.is(r.world, 3);
  t.is(r.bytes, 1 << 20);
  t.true(r.ms > 0 && r.cpu_ms > 0);
  t.true(Math.abs(r.algbw_gb_per_s - r.bytes / (r.ms / 1000) / 1e9) < 1e-9);
  t.true(Math.abs(r.busbw_gb_per_s - (r.algbw_gb_per_s * 4) / 3) < 1e-9, 'bus bandwidth = algbw × 2(W-1)/W');
  t.true(r.raw_tcp_gb_per_s > 0);
  t.true(Math.abs(r.busbw_vs_tcp - r.busbw_gb_per_s / r.raw_tcp_gb_per_s) < 1e-9);
});
