import { pino, type Logger } from 'pino';
import { SchedulerInputError } from './errors.js';
import { tryActor, tryGroup } from './placement.js';
import { restoreAssignment, restorePlacementGroup } from './restore.js';
import { actorKey, groupKey, SchedulerState, snapshot, type GroupEntry, type NodeEntry, type Queued, type QueuedActor, type QueuedGroup } from './state.js';
import { ResourcePool } from './resource-pool.js';
import {
  InfeasibleError,
  type Assignment,
  type Demand,
  type NodeSpec,
  type NodeUsage,
  type PendingEntry,
  type PlacementGroupSpec,
  type PlacementGroupState,
  type ScheduleResult,
} from './types.js';
import { namesOf, quantify, shapeKey, sumQuantities } from './units.js';
import { parseDemand, parseNodeSpec, parsePlacementGroupSpec } from './validate.js';

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  logger?: Logger;
  /**
   * `fifo` (default): a pending demand holds back later demands that use a
   * resource it is short of, so a big demand is not starved by a stream of
   * small ones. `greedy`: any later demand that fits is placed at once.
   */
  fairness?: 'fifo' | 'greedy';
  /**
   * When true, a demand or group that fits no current node stays pending
   * with an `infeasible: ...` reason instead of throwing InfeasibleError (for
   * a cluster head whose nodes may join later). Default false.
   */
  keepInfeasible?: boolean;
  /** How many removed placement groups `group(id)` still reports as removed (default 1,000). */
  removedGroupMemory?: number;
}

/** What `removeNode` reports. */
export interface NodeRemoval {
  /**
   * Actors that lost their resources: those placed on the node (on its free
   * pool or in a bundle reserved there) and pending demands with hard
   * affinity to the node (dropped from the queue). The caller restarts or
   * fails them. Actors in a group's bundles on other nodes keep running and
   * are not listed (except for STRICT_PACK, whose bundles share one node).
   */
  actors: string[];
  /**
   * Placement groups that had a bundle on the node. They are pending again
   * until the lost bundles are re-placed (by the group's strategy, counting
   * the bundles it kept); the bundles on other nodes keep their reservation.
   */
  groups: string[];
}

/**
 * The resource scheduler: nodes, actor demands, placement groups and a FIFO
 * pending queue. Pure and synchronous (no I/O, no timers); the caller acts on
 * the assignments it returns and calls {@link Scheduler.drainPending} after
 * anything that frees or adds resources. Policies are described in
 * `runtime/src/scheduler/README.md`. Where things go is placement.ts, why they
 * wait diagnosis.ts, re-registering after a head restart restore.ts; the
 * state they share is state.ts.
 */
export class Scheduler {
  private readonly st: SchedulerState;

  constructor(opts: SchedulerOptions = {}) {
    const log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'scheduler' });
    this.st = new SchedulerState(log, (opts.fairness ?? 'fifo') === 'fifo', opts.keepInfeasible ?? false, opts.removedGroupMemory ?? 1_000);
  }

  // ---------------------------------------------------------------- nodes

  /** Adds a node (validated). A node id that was removed may come back. */
  addNode(spec: NodeSpec): void {
    const s = parseNodeSpec(spec) as Required<NodeSpec>;
    if (this.st.nodeMap.has(s.id)) {
      throw new SchedulerInputError(`node ${s.id} is already registered; remove it first or use a different id`);
    }
    const entry: NodeEntry = { spec: s, pool: ResourcePool.forNode(s.resources), actors: new Set(), groups: new Set() };
    this.st.nodeMap.set(s.id, entry);
    this.st.nodeList.push(entry);
    this.st.removedNodes.delete(s.id);
    this.st.rebuildCandidates();
    this.st.log.info({ node: s.id, resources: s.resources }, 'node added');
  }

  /**
   * Removes a node (dead or drained). Unknown ids are ignored. See
   * {@link NodeRemoval} for what is reported; groups that lost a bundle go to
   * the front of the pending queue.
   */
  removeNode(id: string): NodeRemoval {
    const node = this.st.nodeMap.get(id);
    if (!node) return { actors: [], groups: [] };
    this.st.nodeMap.delete(id);
    this.st.nodeList = this.st.nodeList.filter((n) => n !== node);
    this.st.removedNodes.add(id);
    this.st.rebuildCandidates();
    const actors: string[] = [];
    for (const a of node.actors) {
      this.st.placed.delete(a);
      actors.push(a);
    }
    const groups: string[] = [];
    const requeue: [string, Queued][] = [];
    for (const gid of node.groups) {
      const g = this.st.groups.get(gid);
      if (!g || !g.reserved) continue;
      // Only the bundles that were on this node are lost (STRICT_PACK keeps all bundles on one node, so it loses them all).
      const lost = new Set<number>();
      g.reserved.forEach((b, i) => {
        if (b && (b.nodeId === id || g.spec.strategy === 'STRICT_PACK')) lost.add(i);
      });
      if (lost.size === 0) continue;
      for (const a of [...g.actors]) {
        const p = this.st.placed.get(a);
        if (p && !lost.has(p.assignment.bundleIndex ?? -1)) continue;
        this.st.placed.delete(a);
        g.actors.delete(a);
        actors.push(a);
      }
      for (const i of lost) {
        const b = g.reserved[i]!;
        const other = this.st.nodeMap.get(b.nodeId);
        if (other) other.pool.give(g.bundles[i], b.grant);
        g.reserved[i] = undefined;
      }
      for (const other of this.st.nodeList) if (!g.reserved.some((b) => b?.nodeId === other.spec.id)) other.groups.delete(gid);
      if (g.reserved.every((b) => b === undefined)) g.reserved = undefined;
      g.state = 'pending';
      g.reason = `waiting: rescheduling bundle${lost.size === 1 ? '' : 's'} ${[...lost].join(', ')} after node ${id} was removed`;
      groups.push(gid);
      // A group already pending (it lost bundles before) moves to the front too.
      this.st.dequeue(groupKey(gid));
      requeue.push([groupKey(gid), { kind: 'placement-group', id: gid, group: g, reason: g.reason, blocks: [] }]);
    }
    for (const [key, e] of this.st.queue) {
      if (e.kind === 'actor' && e.demand.placement.kind === 'node' && e.demand.placement.nodeId === id && !e.demand.placement.soft) {
        this.st.dequeue(key);
        actors.push(e.id);
      }
    }
    if (requeue.length) this.st.queue = new Map([...requeue, ...this.st.queue]);
    this.st.holdsDirty = true;
    this.st.log.warn({ node: id, actors: actors.length, groups }, 'node removed');
    return { actors, groups };
  }

  /** Live nodes with their totals and usage (bundle reservations count as used). */
  nodes(): NodeUsage[] {
    return this.st.nodeList.map((n) => ({
      id: n.spec.id,
      labels: { ...n.spec.labels },
      total: n.pool.totalMap(),
      used: n.pool.usedMap(),
      gpuUsed: n.pool.gpuUsedFractions(),
    }));
  }

  // ---------------------------------------------------------------- actors

  /**
   * Places an actor demand now, or queues it (`pending` with a reason).
   * Throws InfeasibleError when it can never fit (unless `keepInfeasible`),
   * SchedulerInputError for malformed input or an id already in use.
   */
  submit(demand: Demand): ScheduleResult {
    const d = parseDemand(demand);
    const existing = this.st.placed.get(d.id);
    if (existing) {
      throw new SchedulerInputError(`demand ${d.id} is already scheduled on node ${existing.assignment.nodeId}; release it before submitting it again`);
    }
    if (this.st.queue.has(actorKey(d.id))) {
      throw new SchedulerInputError(`demand ${d.id} is already pending; cancel it before submitting it again`);
    }
    if (this.st.holdsDirty) this.st.rebuildHolds();
    const q = quantify(d.resources);
    const r = tryActor(this.st, d, q);
    if (r.kind === 'placed') {
      this.st.log.debug({ actor: d.id, node: r.value.nodeId, gpuIds: r.value.gpuIds }, 'actor scheduled');
      return { status: 'scheduled', assignment: r.value };
    }
    if (r.kind === 'infeasible' && !this.st.keepInfeasible) throw new InfeasibleError(r.message);
    const e: QueuedActor =
      r.kind === 'infeasible'
        ? { kind: 'actor', id: d.id, demand: d, q, reason: `infeasible: ${r.message}`, blocks: [] }
        : { kind: 'actor', id: d.id, demand: d, q, reason: r.reason, blocks: r.blocks, blockNodes: r.blockNodes };
    this.st.enqueue(actorKey(d.id), e);
    this.st.holdOf(e);
    if (d.placement.kind === 'group') this.st.groups.get(d.placement.groupId)?.waiting.add(d.id);
    this.st.log.debug({ actor: d.id, reason: e.reason }, 'actor pending');
    return { status: 'pending', reason: e.reason };
  }

  /**
   * The actor ended: frees its resources (to its node or its bundle). A
   * pending demand with this id is dropped instead. Unknown ids are ignored.
   */
  release(demandId: string): void {
    const p = this.st.placed.get(demandId);
    if (!p) {
      this.cancel(demandId);
      return;
    }
    p.pool.give(p.q, p.grant);
    this.st.placed.delete(demandId);
    if (p.group) p.group.actors.delete(demandId);
    else this.st.nodeMap.get(p.assignment.nodeId)?.actors.delete(demandId);
  }

  /** Drops a pending demand. A scheduled one is released instead; unknown ids are ignored. */
  cancel(demandId: string): void {
    const key = actorKey(demandId);
    if (this.st.queue.has(key)) this.st.dequeue(key);
    else if (this.st.placed.has(demandId)) this.release(demandId);
  }

  /** The current assignment of a scheduled demand. */
  assignment(demandId: string): Assignment | undefined {
    return this.st.placed.get(demandId)?.assignment;
  }

  // ---------------------------------------------------------------- groups

  /**
   * Reserves every bundle atomically (or none: the group is then pending
   * with a reason). Throws InfeasibleError when the group can never fit
   * (unless `keepInfeasible`), SchedulerInputError for malformed input.
   */
  createPlacementGroup(spec: PlacementGroupSpec): PlacementGroupState {
    const s = parsePlacementGroupSpec(spec);
    const prev = this.st.groups.get(s.id);
    if (prev) {
      throw new SchedulerInputError(`placement group ${s.id} already exists (${prev.state}); remove it first or use a different id`);
    }
    if (this.st.holdsDirty) this.st.rebuildHolds();
    this.st.tombstones.delete(s.id);
    const bundles = s.bundles.map((b) => quantify(b));
    const g: GroupEntry = {
      spec: s,
      bundles,
      names: namesOf(sumQuantities(bundles)),
      state: 'pending',
      actors: new Set(),
      waiting: new Set(),
    };
    const r = tryGroup(this.st, g);
    if (r.kind === 'infeasible' && !this.st.keepInfeasible) throw new InfeasibleError(r.message);
    this.st.groups.set(s.id, g);
    if (r.kind !== 'placed') {
      g.reason = r.kind === 'infeasible' ? `infeasible: ${r.message}` : r.reason;
      const e: QueuedGroup = {
        kind: 'placement-group',
        id: s.id,
        group: g,
        reason: g.reason,
        blocks: r.kind === 'pending' ? r.blocks : [],
        blockNodes: r.kind === 'pending' ? r.blockNodes : undefined,
      };
      this.st.enqueue(groupKey(s.id), e);
      this.st.holdOf(e);
      this.st.log.debug({ group: s.id, reason: g.reason }, 'placement group pending');
    }
    return snapshot(g);
  }

  /**
   * Removes a group: frees its reservations and reports the actors placed in
   * it (the caller kills them). Pending demands that target it are dropped
   * and reported too. Removing a removed group reports nothing.
   */
  removePlacementGroup(id: string): { actors: string[] } {
    const g = this.st.groups.get(id);
    if (!g) {
      if (this.st.tombstones.has(id)) return { actors: [] };
      throw new SchedulerInputError(`unknown placement group ${id}; create it first (or check the id)`);
    }
    const actors: string[] = [];
    for (const a of g.actors) {
      this.st.placed.delete(a);
      actors.push(a);
    }
    for (const a of g.waiting) {
      this.st.dequeue(actorKey(a));
      actors.push(a);
    }
    if (g.state === 'pending') this.st.dequeue(groupKey(id));
    if (g.reserved) {
      g.reserved.forEach((b, i) => {
        const node = b && this.st.nodeMap.get(b.nodeId);
        if (!node) return;
        node.pool.give(g.bundles[i], b.grant);
        node.groups.delete(id);
      });
    }
    g.reserved = undefined;
    g.actors.clear();
    g.waiting.clear();
    g.state = 'removed';
    g.reason = undefined;
    this.st.groups.delete(id);
    const tomb: PlacementGroupState = { id, strategy: g.spec.strategy, bundles: g.spec.bundles, state: 'removed' };
    if (g.spec.name !== undefined) tomb.name = g.spec.name;
    this.st.tombstones.set(id, tomb);
    if (this.st.tombstones.size > this.st.removedMemory) this.st.tombstones.delete(this.st.tombstones.keys().next().value!);
    this.st.log.debug({ group: id, actors: actors.length }, 'placement group removed');
    return { actors };
  }

  /** A snapshot of a group's state (removed groups are remembered for a while). */
  group(id: string): PlacementGroupState | undefined {
    const g = this.st.groups.get(id);
    if (g) return snapshot(g);
    const t = this.st.tombstones.get(id);
    return t && { ...t, bundles: t.bundles.map((b) => ({ ...b })) };
  }

  // ---------------------------------------------------------------- restore (restore.ts)

  /**
   * Re-registers a placement group as it was (a cluster head that restarted
   * recovers it from its store): a `created` group reserves exactly its
   * recorded nodes and GPU ids; a `pending` one is created anew (and may be
   * placed at once); a `removed` one is only remembered as removed. Restore
   * groups before the actors in them. Throws SchedulerInputError when the
   * recorded placement no longer fits (nothing is reserved then).
   */
  restorePlacementGroup(state: PlacementGroupState): PlacementGroupState {
    return restorePlacementGroup(this.st, state, (spec) => this.createPlacementGroup(spec));
  }

  /**
   * Re-registers an assignment made earlier (see `restorePlacementGroup`):
   * takes exactly its resources and GPU ids on its node, or in its bundle.
   * Throws SchedulerInputError when that no longer fits or the id is in use.
   */
  restoreAssignment(assignment: Assignment): Assignment {
    return restoreAssignment(this.st, assignment);
  }

  // ---------------------------------------------------------------- queue

  /**
   * Retries the pending queue in FIFO order and returns what got placed:
   * actor assignments and groups that are now created. Call it after
   * release, cancel, addNode, removeNode or removePlacementGroup.
   */
  drainPending(): { assignments: Assignment[]; groups: PlacementGroupState[] } {
    const assignments: Assignment[] = [];
    const groups: PlacementGroupState[] = [];
    this.st.holds.clear();
    this.st.holdsDirty = false;
    if (this.st.queue.size === 0) return { assignments, groups };
    const failedShapes = new Map<string, QueuedActor>();
    let groupCreated = false;
    const tryEntry = (key: string, e: Queued): void => {
      if (e.kind === 'placement-group') {
        const r = tryGroup(this.st, e.group);
        if (r.kind === 'placed') {
          this.st.queue.delete(key);
          groups.push(snapshot(e.group));
          groupCreated = true;
          return;
        }
        e.group.reason = e.reason = r.kind === 'infeasible' ? `infeasible: ${r.message}` : r.reason;
        e.blocks = r.kind === 'pending' ? r.blocks : [];
        e.blockNodes = r.kind === 'pending' ? r.blockNodes : undefined;
        this.st.holdOf(e);
        return;
      }
      const pk = e.demand.placement.kind;
      const shape = pk === 'any' || pk === 'spread' ? `${pk}|${shapeKey(e.q)}` : undefined;
      const same = shape === undefined ? undefined : failedShapes.get(shape);
      if (same) {
        // An identical demand already failed in this pass; nothing got freed since.
        e.reason = same.reason;
        e.blocks = [];
        return;
      }
      const r = tryActor(this.st, e.demand, e.q);
      if (r.kind === 'placed') {
        this.st.queue.delete(key);
        if (e.demand.placement.kind === 'group') this.st.groups.get(e.demand.placement.groupId)?.waiting.delete(e.id);
        assignments.push(r.value);
        return;
      }
      if (r.kind === 'infeasible') {
        e.reason = `infeasible: ${r.message}`;
        e.blocks = [];
        e.blockNodes = undefined;
      } else {
        e.reason = r.reason;
        e.blocks = r.blocks;
        e.blockNodes = r.blockNodes;
        this.st.holdOf(e);
      }
      if (shape) failedShapes.set(shape, e);
    };
    for (const [key, e] of this.st.queue) tryEntry(key, e);
    if (groupCreated) {
      for (const [key, e] of this.st.queue) {
        if (e.kind === 'actor' && e.demand.placement.kind === 'group') tryEntry(key, e);
      }
    }
    if (assignments.length || groups.length) {
      this.st.log.debug({ assignments: assignments.length, groups: groups.length, pending: this.st.queue.size }, 'pending drained');
    }
    return { assignments, groups };
  }

  /** Pending demands and groups in FIFO order, each with why it waits. */
  pending(): PendingEntry[] {
    return [...this.st.queue.values()].map((e) => ({ kind: e.kind, id: e.id, reason: e.reason }));
  }
}
