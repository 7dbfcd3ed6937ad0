import { placeBundles } from './group-placement.js';
import { blockedAttempt, formatLabels, formatShortages, groupInfeasibility, groupPendingReason, infeasibleMessage, pendingOnBestNode } from './diagnosis.js';
import type { Hold } from './fifo-holds.js';
import { anyFitsTotal, bundlePool, fitsWithin, groupCands, hasLabels, missingBundles, type Attempt, type GroupEntry, type NodeEntry, type SchedulerState } from './state.js';
import type { Assignment, Demand } from './types.js';
import { UNIT, formatQuantity, namesOf, type Quantity } from './units.js';

// Where a demand or a placement group goes: the policies of README.md
// ("Where an actor goes", "Placement groups"). Each attempt either places
// (and records the placement in the state) or says why not, through diagnosis.ts.

/** `any` packs a node until the resources the demand uses are this full, then moves on. */
const PACK_THRESHOLD = 0.5;

/** Places an actor demand by its placement kind, or says why it waits / can never fit. */
export function tryActor(st: SchedulerState, d: Demand, q: Quantity): Attempt<Assignment> {
  const p = d.placement;
  if (p.kind === 'group') return tryInGroup(st, d, q, p.groupId, p.bundleIndex);
  if (p.kind === 'node') {
    const node = st.nodeMap.get(p.nodeId);
    if (p.soft) {
      if (node && node.pool.fits(q) && !st.holds.on(namesOf(q), node.spec.id)) return placeOnNode(st, d, q, node);
      return tryAnywhere(st, d, q, false);
    }
    if (!node) {
      const why = st.removedNodes.has(p.nodeId)
        ? `node ${p.nodeId} was removed`
        : `there is no node ${p.nodeId} (nodes: ${st.nodeList.map((n) => n.spec.id).join(', ') || 'none'})`;
      return { kind: 'infeasible', message: `demand ${d.id} has hard affinity to node ${p.nodeId} but ${why}; use soft: true to fall back to other nodes` };
    }
    const never = node.pool.totalShortages(q);
    if (never.length) {
      return { kind: 'infeasible', message: `demand ${d.id} ${formatQuantity(q)} can never fit node ${p.nodeId} (hard affinity): ${formatShortages(never, 'total')}` };
    }
    const held = st.holds.on(namesOf(q), node.spec.id);
    if (held) return blockedAttempt(held);
    if (node.pool.fits(q)) return placeOnNode(st, d, q, node);
    const short = node.pool.shortages(q);
    return { kind: 'pending', reason: `waiting: ${formatShortages(short, 'free')} on node ${p.nodeId}`, blocks: short.map((s) => s.name), blockNodes: [p.nodeId] };
  }
  if (p.kind === 'labels') {
    const scope = formatLabels(p.labels);
    const matching = st.nodeList.filter((n) => hasLabels(n, p.labels));
    if (p.soft) {
      if (matching.length) {
        const r = tryAnywhere(st, d, q, false, matching, scope);
        if (r.kind === 'placed') return r;
      }
      return tryAnywhere(st, d, q, false);
    }
    if (matching.length === 0) {
      const known = st.nodeList.map((n) => `${n.spec.id} {${formatLabels(n.spec.labels)}}`).join(', ') || 'none';
      return {
        kind: 'infeasible',
        message: `demand ${d.id} needs a node labelled ${scope} and no node is (nodes: ${known}); use soft: true to fall back to other nodes`,
      };
    }
    return tryAnywhere(st, d, q, false, matching, scope);
  }
  return tryAnywhere(st, d, q, p.kind === 'spread');
}

/**
 * `any` packs (see README), `spread` picks the least loaded node; both over
 * `nodes` (all live nodes unless a label selector narrowed them to `scope`).
 */
export function tryAnywhere(st: SchedulerState, d: Demand, q: Quantity, spread: boolean, nodes: NodeEntry[] = st.nodeList, scope?: string): Attempt<Assignment> {
  const global = st.holds.global(namesOf(q));
  if (global) {
    if (!anyFitsTotal(q, nodes)) return { kind: 'infeasible', message: infeasibleMessage(st, `demand ${d.id}`, q, nodes, scope) };
    return blockedAttempt(global);
  }
  const avoidGpuNodes = q.gpu === 0;
  // A demand for nothing is weighed as one actor per CPU (Ray counts 1 CPU
  // for placing a default actor), so zero-resource actors do not all pile
  // onto the first node.
  const empty = q.gpu === 0 && q.names.length === 0;
  let best: NodeEntry | undefined;
  let bestTier = Infinity;
  let bestUtil = Infinity;
  let bestCount = Infinity;
  let heldBy: Hold | undefined;
  for (const node of nodes) {
    if (!node.pool.fits(q)) continue;
    if (st.holds.hasNodeHolds()) {
      const b = st.holds.onNode(namesOf(q), node.spec.id);
      if (b) {
        heldBy ??= b;
        continue;
      }
    }
    const util = empty ? (node.actors.size + 1) / Math.max(1, node.pool.total('CPU') / UNIT) : node.pool.utilizationAfter(q);
    if (spread) {
      const count = node.actors.size;
      if (util < bestUtil || (util === bestUtil && count < bestCount)) {
        best = node;
        bestUtil = util;
        bestCount = count;
      }
      continue;
    }
    // any: non-GPU demands keep off GPU nodes when they can; then the first
    // node (join order) that stays under the pack threshold; else the least utilized.
    const tier = (avoidGpuNodes && node.pool.gpuTotal > 0 ? 2 : 0) + (util <= PACK_THRESHOLD ? 0 : 1);
    const key = tier % 2 === 0 ? 0 : util;
    if (tier < bestTier || (tier === bestTier && key < bestUtil)) {
      best = node;
      bestTier = tier;
      bestUtil = key;
    }
  }
  if (best) return placeOnNode(st, d, q, best);
  if (heldBy) return blockedAttempt(heldBy);
  if (!anyFitsTotal(q, nodes)) return { kind: 'infeasible', message: infeasibleMessage(st, `demand ${d.id}`, q, nodes, scope) };
  return pendingOnBestNode(st, q, nodes, scope);
}

export function tryInGroup(st: SchedulerState, d: Demand, q: Quantity, groupId: string, bundleIndex: number | undefined): Attempt<Assignment> {
  const g = st.groups.get(groupId);
  if (!g) {
    return {
      kind: 'infeasible',
      message: `demand ${d.id} targets placement group ${groupId}, which ${st.tombstones.has(groupId) ? 'was removed' : 'does not exist'}; create the group first`,
    };
  }
  const n = g.bundles.length;
  if (bundleIndex !== undefined && bundleIndex >= n) {
    return {
      kind: 'infeasible',
      message: `demand ${d.id} asks for bundle ${bundleIndex} of placement group ${groupId}, which has ${n} bundle${n === 1 ? '' : 's'} (indexes 0..${n - 1})`,
    };
  }
  const indexes = bundleIndex === undefined ? g.bundles.map((_, i) => i) : [bundleIndex];
  const within = indexes.filter((i) => fitsWithin(q, g.bundles[i]));
  if (within.length === 0) {
    const i = indexes[0];
    const where = bundleIndex === undefined ? `every bundle of placement group ${groupId} (e.g. bundle ${i} ${formatQuantity(g.bundles[i])})` : `bundle ${i} ${formatQuantity(g.bundles[i])} of placement group ${groupId}`;
    return { kind: 'infeasible', message: `demand ${d.id} ${formatQuantity(q)} exceeds ${where}; an actor in a group draws only from its bundle's reservation` };
  }
  // A group that lost bundles with a node keeps the others: actors may go there meanwhile.
  const ready = g.reserved ? within.filter((i) => g.reserved![i] !== undefined) : [];
  if (ready.length === 0) {
    return { kind: 'pending', reason: `waiting: placement group ${groupId} is pending (${g.reason ?? 'not placed yet'})`, blocks: [] };
  }
  for (const i of ready) {
    const b = g.reserved![i]!;
    const pool = bundlePool(g, i);
    const grant = pool.take(q);
    if (!grant) continue;
    const assignment: Assignment = {
      demandId: d.id,
      nodeId: b.nodeId,
      resources: { ...d.resources },
      gpuIds: pool.gpuIdsOf(grant),
      groupId,
      bundleIndex: i,
    };
    st.placed.set(d.id, { q, grant, pool, group: g, assignment });
    g.actors.add(d.id);
    return { kind: 'placed', value: assignment };
  }
  let bestI = ready[0];
  let bestShort = bundlePool(g, bestI).shortages(q);
  for (const i of ready.slice(1)) {
    const s = bundlePool(g, i).shortages(q);
    if (s.length < bestShort.length) {
      bestI = i;
      bestShort = s;
    }
  }
  return { kind: 'pending', reason: `waiting: ${formatShortages(bestShort, 'free')} in bundle ${bestI} of placement group ${groupId}`, blocks: [] };
}

export function placeOnNode(st: SchedulerState, d: Demand, q: Quantity, node: NodeEntry): Attempt<Assignment> {
  const grant = node.pool.take(q);
  if (!grant) throw new Error(`scheduler bug: ${d.id} fit node ${node.spec.id} but take() failed`);
  const assignment: Assignment = { demandId: d.id, nodeId: node.spec.id, resources: { ...d.resources }, gpuIds: node.pool.gpuIdsOf(grant) };
  st.placed.set(d.id, { q, grant, pool: node.pool, assignment });
  node.actors.add(d.id);
  return { kind: 'placed', value: assignment };
}

export function tryGroup(st: SchedulerState, g: GroupEntry): Attempt<true> {
  const { strategy } = g.spec;
  const global = st.holds.global(g.names);
  let cands = groupCands(st, g);
  if (st.holds.hasNodeHolds()) cands = cands.filter((c) => !st.holds.onNode(g.names, c.nodeId));
  if (!global) {
    // All bundles, or only those the group lost with a node (the others keep their place and actors).
    const { indexes, keptNodes } = missingBundles(g);
    const kept = keptNodes.map((id) => cands.findIndex((c) => c.nodeId === id)).filter((c) => c >= 0);
    const r = placeBundles(strategy, indexes.map((i) => g.bundles[i]), cands, kept);
    if (r.ok) {
      const reserved = g.reserved ?? new Array(g.bundles.length).fill(undefined);
      r.placed.forEach((p, k) => {
        const c = cands[p.cand];
        st.nodeMap.get(c.nodeId)?.groups.add(g.spec.id);
        reserved[indexes[k]] = { nodeId: c.nodeId, grant: p.grant, gpuIds: c.pool.gpuIdsOf(p.grant), nodePool: c.pool };
      });
      g.reserved = reserved;
      g.state = 'created';
      g.reason = undefined;
      st.log.debug({ group: g.spec.id, nodes: reserved.map((b) => b?.nodeId), placed: indexes }, 'placement group created');
      return { kind: 'placed', value: true };
    }
  }
  // Feasibility depends only on the node set: check it once per change of that set.
  if (g.checkedAt !== st.nodesVersion) {
    g.infeasible = groupInfeasibility(st, g);
    g.checkedAt = st.nodesVersion;
  }
  if (g.infeasible) return { kind: 'infeasible', message: g.infeasible };
  if (global) return blockedAttempt(global);
  return groupPendingReason(st, g);
}
