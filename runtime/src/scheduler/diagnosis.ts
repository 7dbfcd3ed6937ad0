import type { Hold } from './fifo-holds.js';
import { placeBundles, type Candidate } from './group-placement.js';
import type { Shortage } from './resource-pool.js';
import { anyFitsTotal, groupCands, groupNodes, missingBundles, type Attempt, type GroupEntry, type NodeEntry, type SchedulerState } from './state.js';
import type { Assignment } from './types.js';
import { formatAmount, formatQuantity, namesOf, sumQuantities, type Quantity } from './units.js';

// Why a demand or group waits, or can never fit: the reasons README.md lists
// under "Infeasible vs pending", naming each short resource and the best node.

/** Why a group can never fit the live nodes, or undefined when it could. */
export function groupInfeasibility(st: SchedulerState, g: GroupEntry): string | undefined {
  const { strategy, id } = g.spec;
  const scope = g.spec.labels ? formatLabels(g.spec.labels) : undefined;
  const what = `placement group ${id} (${strategy}, ${g.bundles.length} bundle${g.bundles.length === 1 ? '' : 's'}${scope ? `, nodes labelled ${scope}` : ''})`;
  const nodes = groupNodes(st, g);
  if (st.nodeList.length === 0) return `${what} cannot be placed: the cluster has no nodes`;
  if (nodes.length === 0) return `${what} cannot be placed: no node is labelled ${scope} (nodes: ${st.nodeList.map((n) => `${n.spec.id} {${formatLabels(n.spec.labels)}}`).join(', ')})`;
  if (strategy === 'STRICT_SPREAD' && nodes.length < g.bundles.length) {
    return `${what} needs ${g.bundles.length} distinct nodes but the cluster has ${nodes.length}${scope ? ' with those labels' : ''}; use SPREAD for best-effort spreading`;
  }
  for (let b = 0; b < g.bundles.length; b++) {
    if (!anyFitsTotal(g.bundles[b], nodes)) return infeasibleMessage(st, `${what} bundle ${b}`, g.bundles[b], nodes, scope);
  }
  const empties: Candidate[] = groupCands(st, g).map((c) => ({ nodeId: c.nodeId, pool: c.pool.emptyCopy() }));
  const r = placeBundles(strategy, g.bundles, empties);
  if (r.ok) return undefined;
  if (strategy === 'STRICT_PACK') {
    const sum = sumQuantities(g.bundles);
    const best = bestNode(st, sum, true, nodes);
    return `${what} needs ${formatQuantity(sum)} on one node, more than any node has: ${formatShortages(best.short, 'total')} (node ${best.node.spec.id})`;
  }
  if (strategy === 'STRICT_SPREAD') {
    return `${what} cannot give each bundle its own node: bundle ${r.bundle} ${formatQuantity(g.bundles[r.bundle])} is left without a node that could hold it`;
  }
  return `${what} does not fit the cluster even when it is idle (bundle ${r.bundle} ${formatQuantity(g.bundles[r.bundle])} finds no room)`;
}

export function groupPendingReason(st: SchedulerState, g: GroupEntry): Attempt<true> {
  const { strategy } = g.spec;
  const nodes = groupNodes(st, g);
  const cands = groupCands(st, g);
  if (strategy === 'STRICT_PACK') {
    const sum = sumQuantities(g.bundles);
    const best = bestNode(st, sum, false, nodes);
    const short = best.short;
    return {
      kind: 'pending',
      reason: `waiting: needs ${formatQuantity(sum)} on one node for STRICT_PACK: ${formatShortages(short, 'free')}${nodes.length > 1 ? ` (best node ${best.node.spec.id})` : ''}`,
      blocks: short.map((s) => s.name),
      blockNodes: feasibleNodes(st, [sum], nodes),
    };
  }
  // Find the first bundle that finds no room when the bundles (those still missing) are placed in order (simulated, then undone).
  const { indexes, keptNodes } = missingBundles(g);
  const kept = keptNodes.map((id) => cands.findIndex((c) => c.nodeId === id)).filter((c) => c >= 0);
  const missing = indexes.map((i) => g.bundles[i]);
  const r = placeBundles(strategy, missing, cands, kept);
  if (r.ok) {
    for (let i = 0; i < r.placed.length; i++) cands[r.placed[i].cand].pool.give(missing[i], r.placed[i].grant);
    return heldReason(st, g.names);
  }
  const b = indexes[Math.max(0, r.bundle)];
  const q = g.bundles[b];
  const best = bestNode(st, q, false, nodes);
  if (best.short.length === 0) {
    const rule = strategy === 'STRICT_SPREAD' ? ' (STRICT_SPREAD: each bundle on a distinct node)' : '';
    return {
      kind: 'pending',
      reason: `waiting: bundle ${b} ${formatQuantity(q)} has no node left with room${rule}`,
      blocks: namesOf(q),
      blockNodes: feasibleNodes(st, g.bundles, nodes),
    };
  }
  return {
    kind: 'pending',
    reason: `waiting: bundle ${b} needs ${formatQuantity(q)}: ${formatShortages(best.short, 'free')}${nodes.length > 1 ? ` (best node ${best.node.spec.id})` : ''}`,
    blocks: best.short.map((s) => s.name),
    blockNodes: feasibleNodes(st, g.bundles, nodes),
  };
}

export function pendingOnBestNode(st: SchedulerState, q: Quantity, nodes: NodeEntry[] = st.nodeList, scope?: string): Attempt<Assignment> {
  const best = bestNode(st, q, false, nodes);
  if (best.short.length === 0) return heldReason(st, namesOf(q));
  const where = scope
    ? ` on nodes labelled ${scope}${nodes.length > 1 ? ` (best node ${best.node.spec.id} of ${nodes.length})` : ''}`
    : nodes.length > 1
      ? ` (best node ${best.node.spec.id} of ${nodes.length})`
      : '';
  return {
    kind: 'pending',
    reason: `waiting: ${formatShortages(best.short, 'free')}${where}`,
    blocks: best.short.map((s) => s.name),
    blockNodes: feasibleNodes(st, [q], nodes),
  };
}

/** Pending because room that exists is held for an earlier pending entry. */
export function heldReason(st: SchedulerState, names: readonly string[]): { kind: 'pending'; reason: string; blocks: string[] } {
  const held = st.holds.anywhere(names);
  if (held) return blockedAttempt(held);
  return { kind: 'pending', reason: 'waiting: room is held for earlier pending demands (FIFO)', blocks: [] };
}

/**
 * The nodes (of `nodes`) where at least one of `qs` could ever fit, or
 * undefined when that is every live node (a pending entry then holds
 * resources back everywhere).
 */
export function feasibleNodes(st: SchedulerState, qs: readonly Quantity[], nodes: NodeEntry[] = st.nodeList): string[] | undefined {
  const out: string[] = [];
  for (const node of nodes) if (qs.some((q) => node.pool.fitsTotal(q))) out.push(node.spec.id);
  return out.length === st.nodeList.length ? undefined : out;
}

/**
 * The node closest to fitting `q`: fewest short resources, then smallest
 * relative shortfall; among nodes that could ever hold it when there are any.
 */
export function bestNode(st: SchedulerState, q: Quantity, total: boolean, nodes: NodeEntry[] = st.nodeList): { node: NodeEntry; short: Shortage[] } {
  let best: { node: NodeEntry; short: Shortage[] } | undefined;
  let bestScore = Infinity;
  const onlyFeasible = !total && anyFitsTotal(q, nodes);
  for (const node of nodes) {
    if (onlyFeasible && !node.pool.fitsTotal(q)) continue;
    const short = total ? node.pool.totalShortages(q) : node.pool.shortages(q);
    let score = short.length * 10;
    for (const s of short) score += (s.need - s.free) / s.need;
    if (score < bestScore) {
      best = { node, short };
      bestScore = score;
    }
  }
  if (!best) throw new Error('scheduler bug: bestNode() with no nodes');
  return best;
}

/** Why `q` fits none of `nodes` even when idle. */
export function infeasibleMessage(st: SchedulerState, what: string, q: Quantity, nodes: NodeEntry[] = st.nodeList, scope?: string): string {
  if (st.nodeList.length === 0) return `${what} ${formatQuantity(q)} cannot be scheduled: the cluster has no nodes`;
  const among = scope ? ` labelled ${scope}` : '';
  const offered = new Set<string>();
  for (const n of nodes) for (const r of n.pool.resourceNames()) offered.add(r);
  const missing = namesOf(q).filter((r) => !offered.has(r));
  if (missing.length) {
    const list = missing.map((m) => `"${m}"`).join(', ');
    return `${what} ${formatQuantity(q)} cannot be scheduled: no node${among} has ${list} (nodes${among} offer: ${[...offered].sort().join(', ') || 'nothing'})`;
  }
  const best = bestNode(st, q, true, nodes);
  return `${what} ${formatQuantity(q)} is larger than any node${among}: ${formatShortages(best.short, 'total')} (best node ${best.node.spec.id})`;
}

/** `role=simulator,zone=a` */
export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function blockedAttempt(b: Hold): { kind: 'pending'; reason: string; blocks: string[] } {
  return { kind: 'pending', reason: `waiting: queued behind ${b.by}, which needs ${b.resource} first (FIFO)`, blocks: [] };
}

/** `needs GPU:1, free GPU:0` for each short resource, joined by `; `. */
export function formatShortages(short: readonly Shortage[], label: 'free' | 'total'): string {
  return short
    .map((s) => `needs ${s.name}:${formatAmount(s.name, s.need)}, ${label} ${s.name}:${formatAmount(s.name, s.free)}${s.note ? ` (${s.note})` : ''}`)
    .join('; ');
}
