import type { Logger } from 'pino';
import { FifoHolds } from './fifo-holds.js';
import type { Candidate } from './group-placement.js';
import { ResourcePool, type Grant } from './resource-pool.js';
import type { Assignment, Demand, NodeSpec, PlacementGroupSpec, PlacementGroupState } from './types.js';
import type { Quantity } from './units.js';

// The scheduler's state and its bookkeeping, shared by the files that act on
// it: scheduler.ts (the public API and the FIFO queue), placement.ts (where a
// demand or a group goes), diagnosis.ts (why one waits or can never fit) and
// restore.ts (re-registering records after a head restart).

export interface NodeEntry {
  spec: Required<NodeSpec>;
  pool: ResourcePool;
  /** Actors placed on the node's free pool (not in a group). */
  actors: Set<string>;
  /** Groups with at least one bundle here. */
  groups: Set<string>;
}

export interface Bundle {
  nodeId: string;
  grant: Grant;
  /** Physical GPU ids reserved for the bundle. */
  gpuIds: number[];
  nodePool: ResourcePool;
  /** The bundle's own pool that its actors draw from (made on first use). */
  pool?: ResourcePool;
}

export interface GroupEntry {
  spec: PlacementGroupSpec;
  bundles: Quantity[];
  names: string[];
  state: 'pending' | 'created' | 'removed';
  /**
   * Each bundle's reservation. All set once `created`; while a group that
   * lost bundles with a node is `pending` again, the surviving bundles keep
   * theirs (and their actors keep running) and the lost ones are undefined.
   */
  reserved?: Array<Bundle | undefined>;
  reason?: string;
  /** Actors placed in the group. */
  actors: Set<string>;
  /** Pending actors targeting the group. */
  waiting: Set<string>;
  /** `nodesVersion` when feasibility was last checked, and the verdict. */
  checkedAt?: number;
  infeasible?: string;
}

export interface Placed {
  q: Quantity;
  grant: Grant;
  pool: ResourcePool;
  group?: GroupEntry;
  assignment: Assignment;
}

export interface QueuedActor {
  kind: 'actor';
  id: string;
  demand: Demand;
  q: Quantity;
  reason: string;
  /** Resources this entry holds back from later demands (FIFO fairness). */
  blocks: string[];
  /** With `blocks`: only on these nodes (those the entry could ever use); undefined = every node. */
  blockNodes?: string[];
}

export interface QueuedGroup {
  kind: 'placement-group';
  id: string;
  group: GroupEntry;
  reason: string;
  blocks: string[];
  blockNodes?: string[];
}

export type Queued = QueuedActor | QueuedGroup;

export type Attempt<T> =
  | { kind: 'placed'; value: T }
  | { kind: 'pending'; reason: string; blocks: string[]; blockNodes?: string[] }
  | { kind: 'infeasible'; message: string };

/** The scheduler's nodes, placements, groups and pending queue. */
export class SchedulerState {
  readonly nodeMap = new Map<string, NodeEntry>();
  nodeList: NodeEntry[] = [];
  cands: Candidate[] = [];
  readonly removedNodes = new Set<string>();
  readonly placed = new Map<string, Placed>();
  readonly groups = new Map<string, GroupEntry>();
  /** Recently removed groups, oldest first. */
  readonly tombstones = new Map<string, PlacementGroupState>();
  queue = new Map<string, Queued>();
  /** FIFO fairness: resources held back for earlier pending entries. */
  readonly holds: FifoHolds;
  /** Set when an entry with holds left the queue: rebuild them before the next placement. */
  holdsDirty = false;
  /** Bumped whenever the node set changes. */
  nodesVersion = 0;

  constructor(
    readonly log: Logger,
    fifo: boolean,
    readonly keepInfeasible: boolean,
    readonly removedMemory: number,
  ) {
    this.holds = new FifoHolds(fifo);
  }

  enqueue(key: string, e: Queued): void {
    this.queue.set(key, e);
  }

  dequeue(key: string): void {
    const e = this.queue.get(key);
    if (!e) return;
    this.queue.delete(key);
    if (e.kind === 'actor' && e.demand.placement.kind === 'group') this.groups.get(e.demand.placement.groupId)?.waiting.delete(e.id);
    if (e.blocks.length) this.holdsDirty = true;
  }

  holdOf(e: Queued): void {
    this.holds.add(e.id, e.blocks, e.blockNodes);
  }

  rebuildHolds(): void {
    this.holds.clear();
    for (const e of this.queue.values()) this.holdOf(e);
    this.holdsDirty = false;
  }

  rebuildCandidates(): void {
    this.nodesVersion++;
    this.cands = this.nodeList.map((n) => ({ nodeId: n.spec.id, pool: n.pool }));
  }
}

/** The pool a bundle's actors draw from. */
export function bundlePool(g: GroupEntry, i: number): ResourcePool {
  const b = g.reserved?.[i];
  if (!b) throw new Error(`scheduler bug: bundle ${i} of placement group ${g.spec.id} is not reserved`);
  return (b.pool ??= ResourcePool.forBundle(g.bundles[i], b.grant, b.nodePool));
}

export function anyFitsTotal(q: Quantity, nodes: readonly NodeEntry[]): boolean {
  for (const node of nodes) if (node.pool.fitsTotal(q)) return true;
  return false;
}

/** The nodes a group may use: all, or those matching its label selector. */
export function groupNodes(st: SchedulerState, g: GroupEntry): NodeEntry[] {
  const labels = g.spec.labels;
  return labels ? st.nodeList.filter((n) => hasLabels(n, labels)) : st.nodeList;
}

/** The placement candidates of a group: all nodes' pools, or those matching its label selector. */
export function groupCands(st: SchedulerState, g: GroupEntry): Candidate[] {
  const labels = g.spec.labels;
  return labels ? st.cands.filter((c) => hasLabels(st.nodeMap.get(c.nodeId)!, labels)) : st.cands;
}

export function hasLabels(node: NodeEntry, labels: Record<string, string>): boolean {
  for (const k in labels) if (node.spec.labels[k] !== labels[k]) return false;
  return true;
}

/** The group's reservations when every bundle has one, else undefined. */
export function complete(g: GroupEntry): Bundle[] | undefined {
  const r = g.reserved;
  return r && r.every((b) => b !== undefined) ? (r as Bundle[]) : undefined;
}

/**
 * The bundles a pending group still needs (all of them, or those it lost with
 * a node) and the nodes of the bundles it kept, one entry per kept bundle.
 */
export function missingBundles(g: GroupEntry): { indexes: number[]; keptNodes: string[] } {
  const indexes: number[] = [];
  const keptNodes: string[] = [];
  g.bundles.forEach((_, i) => {
    const b = g.reserved?.[i];
    if (b) keptNodes.push(b.nodeId);
    else indexes.push(i);
  });
  return { indexes, keptNodes };
}

export function actorKey(id: string): string {
  return `a:${id}`;
}

export function groupKey(id: string): string {
  return `g:${id}`;
}

/** Whether an actor's quantity fits inside a bundle's quantity. */
export function fitsWithin(q: Quantity, bundle: Quantity): boolean {
  if (q.gpu > bundle.gpu) return false;
  for (let i = 0; i < q.names.length; i++) {
    const j = bundle.names.indexOf(q.names[i]);
    if (j < 0 || bundle.units[j] < q.units[i]) return false;
  }
  return true;
}

export function snapshot(g: GroupEntry): PlacementGroupState {
  const s: PlacementGroupState = {
    id: g.spec.id,
    strategy: g.spec.strategy,
    bundles: g.spec.bundles.map((b) => ({ ...b })),
    state: g.state,
  };
  if (g.spec.name !== undefined) s.name = g.spec.name;
  if (g.spec.labels) s.labels = { ...g.spec.labels };
  const whole = complete(g);
  if (whole) {
    s.bundleNodes = whole.map((b) => b.nodeId);
    s.bundleGpuIds = whole.map((b) => [...b.gpuIds]);
  }
  if (g.reason !== undefined) s.reason = g.reason;
  return s;
}
