import type { ResourceMap } from '@cohort/runtime';
import type { ClusterStateStore, HeadRecord } from './state-store.js';

/** One node in {@link ClusterStatus}. */
export interface NodeStatus {
  id: string;
  alive: boolean;
  state: 'alive' | 'dead' | 'left';
  nodeType?: string;
  hostname?: string;
  labels: Record<string, string>;
  resources: { total: ResourceMap; used: ResourceMap; free: ResourceMap };
  reason?: string;
}

/** One actor in {@link ClusterStatus}. */
export interface ActorStatus {
  id: string;
  name: string;
  className: string;
  state: 'PENDING' | 'ALIVE' | 'RESTARTING' | 'DEAD';
  node: string | null;
  /** GPU ids granted on its node (empty without a GPU share). */
  gpuIds: number[];
  /** Pid of its worker process on its node, while it has one. */
  pid?: number;
  /** Its placement group and bundle, when placed in one. */
  placementGroup?: string;
  bundle?: number;
  restarts: number;
  reason?: string;
}

export interface PlacementGroupStatus {
  id: string;
  name?: string;
  strategy: string;
  state: 'pending' | 'created' | 'removed';
  bundles: ResourceMap[];
  labels?: Record<string, string>;
  bundleNodes?: string[];
  bundleGpuIds?: number[][];
  reason?: string;
}

/** What `cohort status --json` prints. */
export interface ClusterStatus {
  cluster: string;
  head: HeadRecord | null;
  nodes: NodeStatus[];
  actors: ActorStatus[];
  placementGroups: PlacementGroupStatus[];
  /** Demands that wait, with the reason (`waiting: needs GPU:1, free GPU:0`). */
  pending: Array<{ kind: 'actor' | 'placement-group'; id: string; name?: string; reason: string }>;
  /** Actor counts by state. */
  actorsByState: Record<string, number>;
}

function add(into: ResourceMap, r: ResourceMap): void {
  for (const [k, v] of Object.entries(r)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Reads the cluster's tables from KV and derives usage per node: live actors
 * outside placement groups plus created groups' bundle reservations.
 */
export async function readClusterStatus(store: ClusterStateStore, cluster: string): Promise<ClusterStatus> {
  const [nodes, actors, groups, head] = await Promise.all([store.nodes.list(), store.actors.list(), store.placementGroups.list(), store.meta.get('head')]);
  const used = new Map<string, ResourceMap>();
  const use = (node: string, r: ResourceMap) => {
    if (!used.has(node)) used.set(node, {});
    add(used.get(node)!, r);
  };
  for (const { value: a } of actors.values()) {
    if (a.nodeId && (a.state === 'ALIVE' || a.state === 'RESTARTING') && !a.placementGroupId) use(a.nodeId, a.resources);
  }
  for (const { value: g } of groups.values()) {
    if (g.state === 'created' && g.bundleNodes) g.bundles.forEach((b, i) => use(g.bundleNodes![i], b));
  }
  const nodeStatus: NodeStatus[] = [...nodes.values()]
    .map(({ value: n }) => {
      const u = n.state === 'alive' ? (used.get(n.id) ?? {}) : {};
      const free: ResourceMap = {};
      for (const [k, v] of Object.entries(n.resources)) free[k] = n.state === 'alive' ? Math.max(0, v - (u[k] ?? 0)) : 0;
      return { id: n.id, alive: n.state === 'alive', state: n.state, nodeType: n.nodeType, hostname: n.hostname, labels: n.labels, resources: { total: n.resources, used: u, free }, reason: n.reason };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
  const actorStatus: ActorStatus[] = [...actors.values()]
    .map(({ value: a }) => ({
      id: a.id,
      name: a.name ?? a.id,
      className: a.className,
      state: a.state,
      node: a.nodeId ?? null,
      gpuIds: a.gpuIds ?? [],
      ...(a.pid !== undefined && (a.state === 'ALIVE' || a.state === 'RESTARTING') ? { pid: a.pid } : {}),
      ...(a.placementGroupId ? { placementGroup: a.placementGroupId, bundle: a.bundleIndex } : {}),
      restarts: a.restarts,
      reason: a.reason,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const pgs: PlacementGroupStatus[] = [...groups.values()].map(({ value: g }) => ({ id: g.id, name: g.name, strategy: g.strategy, state: g.state, bundles: g.bundles, labels: g.labels, bundleNodes: g.bundleNodes, bundleGpuIds: g.bundleGpuIds, reason: g.reason }));
  const pending: ClusterStatus['pending'] = [
    ...actorStatus.filter((a) => a.state === 'PENDING').map((a) => ({ kind: 'actor' as const, id: a.id, name: a.name, reason: a.reason ?? 'waiting' })),
    ...pgs.filter((g) => g.state === 'pending').map((g) => ({ kind: 'placement-group' as const, id: g.id, name: g.name, reason: g.reason ?? 'waiting' })),
  ];
  const actorsByState: Record<string, number> = {};
  for (const a of actorStatus) actorsByState[a.state] = (actorsByState[a.state] ?? 0) + 1;
  return { cluster, head: head?.value ?? null, nodes: nodeStatus, actors: actorStatus, placementGroups: pgs, pending, actorsByState };
}

function fmtRes(r: ResourceMap): string {
  const parts = Object.entries(r).map(([k, v]) => (k === 'memory' ? `memory:${(v / 2 ** 30).toFixed(1)}Gi` : `${k}:${Number.isInteger(v) ? v : v.toFixed(2)}`));
  return parts.length ? parts.join(' ') : '-';
}

/** Human-readable rendering of a status (what `cohort status` prints). */
export function formatClusterStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  lines.push(`cluster ${s.cluster}${s.head ? ` · head epoch ${s.head.epoch} on ${s.head.hostname} (pid ${s.head.pid}) · ${s.head.natsUrl}` : ' · no head record'}`);
  const alive = s.nodes.filter((n) => n.alive).length;
  lines.push('', `Nodes (${alive} alive, ${s.nodes.length - alive} dead or left):`);
  for (const n of s.nodes) {
    lines.push(`  ${n.alive ? '●' : '○'} ${n.id}${n.nodeType ? ` [${n.nodeType}]` : ''} ${n.state}${n.reason && !n.alive ? ` (${n.reason})` : ''}`);
    if (n.alive) lines.push(`      used ${fmtRes(n.resources.used)} / total ${fmtRes(n.resources.total)} · free ${fmtRes(n.resources.free)}`);
  }
  const byState = Object.entries(s.actorsByState).map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push('', `Actors (${s.actors.length}${byState ? `: ${byState}` : ''}):`);
  for (const a of s.actors) lines.push(`  ${a.name.padEnd(24)} ${a.state.padEnd(10)} ${a.node ?? '-'}${a.restarts ? ` restarts=${a.restarts}` : ''}${a.reason && a.state !== 'ALIVE' ? ` (${a.reason})` : ''}`);
  if (s.placementGroups.length) {
    lines.push('', 'Placement groups:');
    for (const g of s.placementGroups) lines.push(`  ${(g.name ?? g.id).padEnd(24)} ${g.strategy.padEnd(13)} ${g.state}${g.bundleNodes ? ` on ${g.bundleNodes.join(',')}` : ''}`);
  }
  lines.push('', `Pending demands (${s.pending.length}):`);
  for (const p of s.pending) lines.push(`  ${p.kind} ${p.name ?? p.id}: ${p.reason}`);
  return lines.join('\n');
}
