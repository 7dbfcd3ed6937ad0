import type { Grant, ResourcePool } from './resource-pool.js';
import type { PlacementStrategy } from './types.js';
import type { Quantity } from './units.js';

/** A node a bundle may go to. */
export interface Candidate {
  nodeId: string;
  pool: ResourcePool;
}

/** Where one bundle went: an index into the candidates, and its GPU grant there. */
export interface BundlePlacement {
  cand: number;
  grant: Grant;
}

export type GroupPlacement =
  | { ok: true; placed: BundlePlacement[] }
  /** `bundle` is the bundle that found no room, or -1 when the strategy needs all bundles together (STRICT_PACK). */
  | { ok: false; bundle: number };

/**
 * Reserves every bundle on the candidates' pools following `strategy`, or
 * nothing: on failure every partial reservation is given back before this
 * returns. Pure apart from the pools it is handed (pass empty copies to ask
 * "could this ever fit").
 *
 * `kept` re-places the bundles a group lost with a node: it lists the
 * candidate index of each bundle the group kept (one entry per bundle), and
 * the strategy then holds for the whole group: PACK prefers those nodes,
 * SPREAD counts those bundles, STRICT_SPREAD avoids those nodes and
 * STRICT_PACK uses only them.
 */
export function placeBundles(strategy: PlacementStrategy, bundles: readonly Quantity[], cands: readonly Candidate[], kept: readonly number[] = []): GroupPlacement {
  const keptFirst = kept.length ? [...new Set(kept)] : undefined;
  switch (strategy) {
    case 'STRICT_PACK':
      return strictPack(bundles, cands, keptFirst);
    case 'PACK': {
      const one = strictPack(bundles, cands, keptFirst && [...keptFirst, ...cands.keys()].filter((c, i, all) => all.indexOf(c) === i));
      return one.ok ? one : greedy(bundles, cands, false, kept);
    }
    case 'SPREAD':
      return greedy(bundles, cands, true, kept);
    case 'STRICT_SPREAD':
      return strictSpread(bundles, cands, new Set(kept));
  }
}

/** All bundles on the first candidate (of `order`, default all in order) that holds them all. */
function strictPack(bundles: readonly Quantity[], cands: readonly Candidate[], order: Iterable<number> = cands.keys()): GroupPlacement {
  for (const c of order) {
    const pool = cands[c].pool;
    const placed: BundlePlacement[] = [];
    for (const q of bundles) {
      const grant = pool.take(q);
      if (!grant) break;
      placed.push({ cand: c, grant });
    }
    if (placed.length === bundles.length) return { ok: true, placed };
    for (let i = placed.length - 1; i >= 0; i--) pool.give(bundles[i], placed[i].grant);
  }
  return { ok: false, bundle: -1 };
}

/**
 * Bundle by bundle. Packing: nodes this group already uses first, then the
 * first node (join order) with room. Spreading: the node holding the fewest
 * of this group's bundles, then the least utilized.
 */
function greedy(bundles: readonly Quantity[], cands: readonly Candidate[], spread: boolean, kept: readonly number[]): GroupPlacement {
  const placed: BundlePlacement[] = [];
  const count = new Map<number, number>();
  const used: number[] = [];
  for (const c of kept) {
    if (!count.has(c)) used.push(c);
    count.set(c, (count.get(c) ?? 0) + 1);
  }
  const rollback = (bundle: number): GroupPlacement => {
    for (let i = placed.length - 1; i >= 0; i--) cands[placed[i].cand].pool.give(bundles[i], placed[i].grant);
    return { ok: false, bundle };
  };
  for (let b = 0; b < bundles.length; b++) {
    const q = bundles[b];
    let chosen = -1;
    if (spread) {
      let bestCount = Infinity;
      let bestUtil = Infinity;
      for (let c = 0; c < cands.length; c++) {
        const pool = cands[c].pool;
        if (!pool.fits(q)) continue;
        const n = count.get(c) ?? 0;
        if (n > bestCount) continue;
        const u = pool.utilizationAfter(q);
        if (n < bestCount || u < bestUtil) {
          chosen = c;
          bestCount = n;
          bestUtil = u;
        }
      }
    } else {
      for (const c of used) {
        if (cands[c].pool.fits(q)) {
          chosen = c;
          break;
        }
      }
      if (chosen < 0) {
        for (let c = 0; c < cands.length; c++) {
          if (!count.has(c) && cands[c].pool.fits(q)) {
            chosen = c;
            break;
          }
        }
      }
    }
    if (chosen < 0) return rollback(b);
    const grant = cands[chosen].pool.take(q);
    if (!grant) return rollback(b);
    placed.push({ cand: chosen, grant });
    if (!count.has(chosen)) used.push(chosen);
    count.set(chosen, (count.get(chosen) ?? 0) + 1);
  }
  return { ok: true, placed };
}

/**
 * Each bundle on its own node: a maximum bipartite matching (augmenting
 * paths) between bundles and the nodes each fits on, so a feasible
 * assignment is found whenever one exists. Candidates in `taken` already
 * hold a bundle of the group and get none.
 */
function strictSpread(bundles: readonly Quantity[], cands: readonly Candidate[], taken: ReadonlySet<number>): GroupPlacement {
  const free = cands.length - taken.size;
  if (free < bundles.length) return { ok: false, bundle: Math.max(0, free) };
  const adj: number[][] = bundles.map((q) => {
    const a: number[] = [];
    for (let c = 0; c < cands.length; c++) if (!taken.has(c) && cands[c].pool.fits(q)) a.push(c);
    return a;
  });
  const owner = new Int32Array(cands.length).fill(-1);
  const match = new Int32Array(bundles.length).fill(-1);
  const tryAssign = (b: number, seen: Uint8Array): boolean => {
    // A free node first (keeps the join-order preference), then augmenting paths.
    for (const c of adj[b]) {
      if (owner[c] < 0) {
        owner[c] = b;
        match[b] = c;
        return true;
      }
    }
    for (const c of adj[b]) {
      if (seen[c]) continue;
      seen[c] = 1;
      if (owner[c] < 0 || tryAssign(owner[c], seen)) {
        owner[c] = b;
        match[b] = c;
        return true;
      }
    }
    return false;
  };
  for (let b = 0; b < bundles.length; b++) {
    if (!tryAssign(b, new Uint8Array(cands.length))) return { ok: false, bundle: b };
  }
  const placed: BundlePlacement[] = [];
  for (let b = 0; b < bundles.length; b++) {
    const grant = cands[match[b]].pool.take(bundles[b]);
    if (!grant) {
      // Cannot happen: each node holds one bundle and the bundle fit its free resources.
      for (let i = placed.length - 1; i >= 0; i--) cands[placed[i].cand].pool.give(bundles[i], placed[i].grant);
      return { ok: false, bundle: b };
    }
    placed.push({ cand: match[b], grant });
  }
  return { ok: true, placed };
}
