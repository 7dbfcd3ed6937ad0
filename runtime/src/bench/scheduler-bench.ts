import { Scheduler } from '../scheduler/scheduler.js';

/** Figures from {@link benchScheduler}. */
export interface SchedulerBenchResult {
  /** Placement group create+remove pairs per second (2 bundles, PACK, 4 nodes). */
  placement_groups_per_s: number;
  /** Same with STRICT_SPREAD over 4 bundles on 100 nodes. */
  placement_groups_strict_spread_100_nodes_per_s: number;
  /** Actor submits per second, 1,000 actors over 100 nodes (mixed any/spread, half with 0.5 GPU). */
  submits_per_s: number;
  /** Releases per second for the same actors. */
  releases_per_s: number;
  /** Pending demands placed per second by drainPending (1,000 waiting, resources freed one node at a time). */
  drained_per_s: number;
}

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

/**
 * In-process scheduler throughput (no I/O): placement groups, submit and
 * release across 100 nodes, and pending-queue drains. Each figure is the best
 * of `rounds` runs to damp noise on a shared machine.
 */
export function benchScheduler(rounds = 3): SchedulerBenchResult {
  const best = { pg: 0, pgSpread: 0, submit: 0, release: 0, drain: 0 };
  for (let round = 0; round < rounds; round++) {
    {
      const s = new Scheduler();
      for (let i = 0; i < 4; i++) s.addNode({ id: `n${i}`, resources: { CPU: 16, GPU: 4 } });
      const n = 20_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        s.createPlacementGroup({ id: `g${i}`, bundles: [{ CPU: 1, GPU: 0.5 }, { CPU: 1 }], strategy: 'PACK' });
        s.removePlacementGroup(`g${i}`);
      }
      best.pg = Math.max(best.pg, rate(n, performance.now() - t0));
    }
    {
      const s = new Scheduler();
      for (let i = 0; i < 100; i++) s.addNode({ id: `n${i}`, resources: { CPU: 16, GPU: 8 } });
      const n = 2_000;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        s.createPlacementGroup({ id: `g${i}`, bundles: [{ GPU: 1 }, { GPU: 1 }, { GPU: 1 }, { GPU: 1 }], strategy: 'STRICT_SPREAD' });
        s.removePlacementGroup(`g${i}`);
      }
      best.pgSpread = Math.max(best.pgSpread, rate(n, performance.now() - t0));
    }
    {
      const s = new Scheduler();
      for (let i = 0; i < 100; i++) s.addNode({ id: `n${i}`, resources: { CPU: 16, GPU: 8 } });
      const n = 1_000;
      let t0 = performance.now();
      for (let i = 0; i < n; i++) {
        s.submit({ id: `a${i}`, resources: { CPU: 1, GPU: i % 2 ? 0.5 : 0 }, placement: { kind: i % 3 ? 'any' : 'spread' } });
      }
      best.submit = Math.max(best.submit, rate(n, performance.now() - t0));
      t0 = performance.now();
      for (let i = 0; i < n; i++) s.release(`a${i}`);
      best.release = Math.max(best.release, rate(n, performance.now() - t0));
    }
    {
      const s = new Scheduler();
      for (let i = 0; i < 100; i++) s.addNode({ id: `n${i}`, resources: { CPU: 10 } });
      for (let i = 0; i < 1_000; i++) s.submit({ id: `h${i}`, resources: { CPU: 1 }, placement: { kind: 'any' } });
      for (let i = 0; i < 1_000; i++) s.submit({ id: `w${i}`, resources: { CPU: 1 }, placement: { kind: 'any' } });
      let placed = 0;
      const t0 = performance.now();
      for (let k = 0; k < 100; k++) {
        for (let j = 0; j < 10; j++) s.release(`h${k * 10 + j}`);
        placed += s.drainPending().assignments.length;
      }
      best.drain = Math.max(best.drain, rate(placed, performance.now() - t0));
    }
  }
  return {
    placement_groups_per_s: best.pg,
    placement_groups_strict_spread_100_nodes_per_s: best.pgSpread,
    submits_per_s: best.submit,
    releases_per_s: best.release,
    drained_per_s: best.drain,
  };
}
