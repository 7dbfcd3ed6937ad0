import { pino, type Logger } from 'pino';
import { SchedulerInputError } from './errors.js';
import { FifoHolds, type Hold } from './fifo-holds.js';
import { placeBundles, type Candidate } from './group-placement.js';
import { ResourcePool, type Grant, type Shortage } from './resource-pool.js';
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
import { UNIT, formatAmount, formatQuantity, namesOf, quantify, shapeKey, sumQuantities, type Quantity } from './units.js';
import { parseAssignment, parseDemand, parseNodeSpec, parsePlacementGroupSpec, parsePlacementGroupState } from './validate.js';

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
   * Actors that lost their resources: those placed on the node, those placed
   * in a group that had a bundle there, and pending demands with hard
   * affinity to the node (dropped from the queue). The caller restarts or fails them.
   */
  actors: string[];
  /** Placement groups that had a bundle on the node; every reservation of theirs was freed and they are pending again. */
  groups: string[];
}

interface NodeEntry {
  spec: Required<NodeSpec>;
  pool: ResourcePool;
  /** Actors placed on the node's free pool (not in a group). */
  actors: Set<string>;
  /** Groups with at least one bundle here. */
  groups: Set<string>;
}

interface Bundle {
  nodeId: string;
  grant: Grant;
  /** Physical GPU ids reserved for the bundle. */
  gpuIds: number[];
  nodePool: ResourcePool;
  /** The bundle's own pool that its actors draw from (made on first use). */
  pool?: ResourcePool;
}

interface GroupEntry {
  spec: PlacementGroupSpec;
  bundles: Quantity[];
  names: string[];
  state: 'pending' | 'created' | 'removed';
  reserved?: Bundle[];
  reason?: string;
  /** Actors placed in the group. */
  actors: Set<string>;
  /** Pending actors targeting the group. */
  waiting: Set<string>;
  /** `nodesVersion` when feasibility was last checked, and the verdict. */
  checkedAt?: number;
  infeasible?: string;
}

interface Placed {
  q: Quantity;
  grant: Grant;
  pool: ResourcePool;
  group?: GroupEntry;
  assignment: Assignment;
}

interface QueuedActor {
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

interface QueuedGroup {
  kind: 'placement-group';
  id: string;
  group: GroupEntry;
  reason: string;
  blocks: string[];
  blockNodes?: string[];
}

type Queued = QueuedActor | QueuedGroup;

type Attempt<T> =
  | { kind: 'placed'; value: T }
  | { kind: 'pending'; reason: string; blocks: string[]; blockNodes?: string[] }
  | { kind: 'infeasible'; message: string };

/** `any` packs a node until the resources the demand uses are this full, then moves on. */
const PACK_THRESHOLD = 0.5;

/**
 * The resource scheduler: nodes, actor demands, placement groups and a FIFO
 * pending queue. Pure and synchronous (no I/O, no timers); the caller acts on
 * the assignments it returns and calls {@link Scheduler.drainPending} after
 * anything that frees or adds resources. Policies are described in
 * `runtime/src/scheduler/README.md`.
 */
export class Scheduler {
  private readonly log: Logger;
  private readonly keepInfeasible: boolean;
  private readonly removedMemory: number;
  private readonly nodeMap = new Map<string, NodeEntry>();
  private nodeList: NodeEntry[] = [];
  private cands: Candidate[] = [];
  private readonly removedNodes = new Set<string>();
  private readonly placed = new Map<string, Placed>();
  private readonly groups = new Map<string, GroupEntry>();
  /** Recently removed groups, oldest first. */
  private readonly tombstones = new Map<string, PlacementGroupState>();
  private queue = new Map<string, Queued>();
  /** FIFO fairness: resources held back for earlier pending entries. */
  private readonly holds: FifoHolds;
  /** Set when an entry with holds left the queue: rebuild them before the next placement. */
  private holdsDirty = false;
  /** Bumped whenever the node set changes. */
  private nodesVersion = 0;

  constructor(opts: SchedulerOptions = {}) {
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'scheduler' });
    this.holds = new FifoHolds((opts.fairness ?? 'fifo') === 'fifo');
    this.keepInfeasible = opts.keepInfeasible ?? false;
    this.removedMemory = opts.removedGroupMemory ?? 1_000;
  }

  // ---------------------------------------------------------------- nodes

  /** Adds a node (validated). A node id that was removed may come back. */
  addNode(spec: NodeSpec): void {
    const s = parseNodeSpec(spec) as Required<NodeSpec>;
    if (this.nodeMap.has(s.id)) {
      throw new SchedulerInputError(`node ${s.id} is already registered; remove it first or use a different id`);
    }
    const entry: NodeEntry = { spec: s, pool: ResourcePool.forNode(s.resources), actors: new Set(), groups: new Set() };
    this.nodeMap.set(s.id, entry);
    this.nodeList.push(entry);
    this.removedNodes.delete(s.id);
    this.rebuildCandidates();
    this.log.info({ node: s.id, resources: s.resources }, 'node added');
  }

  /**
   * Removes a node (dead or drained). Unknown ids are ignored. See
   * {@link NodeRemoval} for what is reported; groups that lost a bundle go to
   * the front of the pending queue.
   */
  removeNode(id: string): NodeRemoval {
    const node = this.nodeMap.get(id);
    if (!node) return { actors: [], groups: [] };
    this.nodeMap.delete(id);
    this.nodeList = this.nodeList.filter((n) => n !== node);
    this.removedNodes.add(id);
    this.rebuildCandidates();
    const actors: string[] = [];
    for (const a of node.actors) {
      this.placed.delete(a);
      actors.push(a);
    }
    const groups: string[] = [];
    const requeue: [string, Queued][] = [];
    for (const gid of node.groups) {
      const g = this.groups.get(gid);
      if (!g || g.state !== 'created' || !g.reserved) continue;
      for (const a of g.actors) {
        this.placed.delete(a);
        actors.push(a);
      }
      g.actors.clear();
      g.reserved.forEach((b, i) => {
        const other = this.nodeMap.get(b.nodeId);
        if (!other) return;
        other.pool.give(g.bundles[i], b.grant);
        other.groups.delete(gid);
      });
      g.reserved = undefined;
      g.state = 'pending';
      g.reason = `waiting: rescheduling after node ${id} was removed`;
      groups.push(gid);
      requeue.push([groupKey(gid), { kind: 'placement-group', id: gid, group: g, reason: g.reason, blocks: [] }]);
    }
    for (const [key, e] of this.queue) {
      if (e.kind === 'actor' && e.demand.placement.kind === 'node' && e.demand.placement.nodeId === id && !e.demand.placement.soft) {
        this.dequeue(key);
        actors.push(e.id);
      }
    }
    if (requeue.length) this.queue = new Map([...requeue, ...this.queue]);
    this.holdsDirty = true;
    this.log.warn({ node: id, actors: actors.length, groups }, 'node removed');
    return { actors, groups };
  }

  /** Live nodes with their totals and usage (bundle reservations count as used). */
  nodes(): NodeUsage[] {
    return this.nodeList.map((n) => ({
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
    const existing = this.placed.get(d.id);
    if (existing) {
      throw new SchedulerInputError(`demand ${d.id} is already scheduled on node ${existing.assignment.nodeId}; release it before submitting it again`);
    }
    if (this.queue.has(actorKey(d.id))) {
      throw new SchedulerInputError(`demand ${d.id} is already pending; cancel it before submitting it again`);
    }
    if (this.holdsDirty) this.rebuildHolds();
    const q = quantify(d.resources);
    const r = this.tryActor(d, q);
    if (r.kind === 'placed') {
      this.log.debug({ actor: d.id, node: r.value.nodeId, gpuIds: r.value.gpuIds }, 'actor scheduled');
      return { status: 'scheduled', assignment: r.value };
    }
    if (r.kind === 'infeasible' && !this.keepInfeasible) throw new InfeasibleError(r.message);
    const e: QueuedActor =
      r.kind === 'infeasible'
        ? { kind: 'actor', id: d.id, demand: d, q, reason: `infeasible: ${r.message}`, blocks: [] }
        : { kind: 'actor', id: d.id, demand: d, q, reason: r.reason, blocks: r.blocks, blockNodes: r.blockNodes };
    this.enqueue(actorKey(d.id), e);
    this.holdOf(e);
    if (d.placement.kind === 'group') this.groups.get(d.placement.groupId)?.waiting.add(d.id);
    this.log.debug({ actor: d.id, reason: e.reason }, 'actor pending');
    return { status: 'pending', reason: e.reason };
  }

  /**
   * The actor ended: frees its resources (to its node or its bundle). A
   * pending demand with this id is dropped instead. Unknown ids are ignored.
   */
  release(demandId: string): void {
    const p = this.placed.get(demandId);
    if (!p) {
      this.cancel(demandId);
      return;
    }
    p.pool.give(p.q, p.grant);
    this.placed.delete(demandId);
    if (p.group) p.group.actors.delete(demandId);
    else this.nodeMap.get(p.assignment.nodeId)?.actors.delete(demandId);
  }

  /** Drops a pending demand. A scheduled one is released instead; unknown ids are ignored. */
  cancel(demandId: string): void {
    const key = actorKey(demandId);
    if (this.queue.has(key)) this.dequeue(key);
    else if (this.placed.has(demandId)) this.release(demandId);
  }

  /** The current assignment of a scheduled demand. */
  assignment(demandId: string): Assignment | undefined {
    return this.placed.get(demandId)?.assignment;
  }

  // ---------------------------------------------------------------- groups

  /**
   * Reserves every bundle atomically (or none: the group is then pending
   * with a reason). Throws InfeasibleError when the group can never fit
   * (unless `keepInfeasible`), SchedulerInputError for malformed input.
   */
  createPlacementGroup(spec: PlacementGroupSpec): PlacementGroupState {
    const s = parsePlacementGroupSpec(spec);
    const prev = this.groups.get(s.id);
    if (prev) {
      throw new SchedulerInputError(`placement group ${s.id} already exists (${prev.state}); remove it first or use a different id`);
    }
    if (this.holdsDirty) this.rebuildHolds();
    this.tombstones.delete(s.id);
    const bundles = s.bundles.map((b) => quantify(b));
    const g: GroupEntry = {
      spec: s,
      bundles,
      names: namesOf(sumQuantities(bundles)),
      state: 'pending',
      actors: new Set(),
      waiting: new Set(),
    };
    const r = this.tryGroup(g);
    if (r.kind === 'infeasible' && !this.keepInfeasible) throw new InfeasibleError(r.message);
    this.groups.set(s.id, g);
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
      this.enqueue(groupKey(s.id), e);
      this.holdOf(e);
      this.log.debug({ group: s.id, reason: g.reason }, 'placement group pending');
    }
    return snapshot(g);
  }

  /**
   * Removes a group: frees its reservations and reports the actors placed in
   * it (the caller kills them). Pending demands that target it are dropped
   * and reported too. Removing a removed group reports nothing.
   */
  removePlacementGroup(id: string): { actors: string[] } {
    const g = this.groups.get(id);
    if (!g) {
      if (this.tombstones.has(id)) return { actors: [] };
      throw new SchedulerInputError(`unknown placement group ${id}; create it first (or check the id)`);
    }
    const actors: string[] = [];
    for (const a of g.actors) {
      this.placed.delete(a);
      actors.push(a);
    }
    for (const a of g.waiting) {
      this.dequeue(actorKey(a));
      actors.push(a);
    }
    if (g.state === 'pending') this.dequeue(groupKey(id));
    if (g.reserved) {
      g.reserved.forEach((b, i) => {
        const node = this.nodeMap.get(b.nodeId);
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
    this.groups.delete(id);
    const tomb: PlacementGroupState = { id, strategy: g.spec.strategy, bundles: g.spec.bundles, state: 'removed' };
    if (g.spec.name !== undefined) tomb.name = g.spec.name;
    this.tombstones.set(id, tomb);
    if (this.tombstones.size > this.removedMemory) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.log.debug({ group: id, actors: actors.length }, 'placement group removed');
    return { actors };
  }

  /** A snapshot of a group's state (removed groups are remembered for a while). */
  group(id: string): PlacementGroupState | undefined {
    const g = this.groups.get(id);
    if (g) return snapshot(g);
    const t = this.tombstones.get(id);
    return t && { ...t, bundles: t.bundles.map((b) => ({ ...b })) };
  }

  // ---------------------------------------------------------------- restore

  /**
   * Re-registers a placement group as it was (a cluster head that restarted
   * recovers it from its store): a `created` group reserves exactly its
   * recorded nodes and GPU ids; a `pending` one is created anew (and may be
   * placed at once); a `removed` one is only remembered as removed. Restore
   * groups before the actors in them. Throws SchedulerInputError when the
   * recorded placement no longer fits (nothing is reserved then).
   */
  restorePlacementGroup(state: PlacementGroupState): PlacementGroupState {
    const r = parsePlacementGroupState(state);
    const { spec } = r;
    if (this.groups.has(spec.id)) {
      throw new SchedulerInputError(`placement group ${spec.id} already exists; restore each group once`);
    }
    if (r.state === 'removed') {
      const tomb: PlacementGroupState = { id: spec.id, strategy: spec.strategy, bundles: spec.bundles, state: 'removed' };
      if (spec.name !== undefined) tomb.name = spec.name;
      this.tombstones.set(spec.id, tomb);
      return { ...tomb };
    }
    if (r.state === 'pending') return this.createPlacementGroup(spec);
    const bundles = spec.bundles.map((b) => quantify(b));
    const reserved: Bundle[] = [];
    const fail = (msg: string): never => {
      reserved.forEach((b, i) => b.nodePool.give(bundles[i], b.grant));
      throw new SchedulerInputError(`cannot restore placement group ${spec.id}: ${msg}`);
    };
    for (let i = 0; i < bundles.length; i++) {
      const nodeId = r.bundleNodes![i];
      const gpuIds = r.bundleGpuIds![i];
      const node = this.nodeMap.get(nodeId);
      if (!node) fail(`bundle ${i} was on node ${nodeId}, which is not registered (add the node first)`);
      const grant = node!.pool.takeExact(bundles[i], gpuIds);
      if (!grant) fail(`bundle ${i} ${formatQuantity(bundles[i])} no longer fits node ${nodeId} on GPU ids [${gpuIds.join(', ')}]`);
      reserved.push({ nodeId, grant: grant!, gpuIds: [...gpuIds], nodePool: node!.pool });
    }
    const g: GroupEntry = {
      spec,
      bundles,
      names: namesOf(sumQuantities(bundles)),
      state: 'created',
      reserved,
      actors: new Set(),
      waiting: new Set(),
    };
    for (const b of reserved) this.nodeMap.get(b.nodeId)?.groups.add(spec.id);
    this.groups.set(spec.id, g);
    this.tombstones.delete(spec.id);
    this.log.info({ group: spec.id, nodes: r.bundleNodes }, 'placement group restored');
    return snapshot(g);
  }

  /**
   * Re-registers an assignment made earlier (see `restorePlacementGroup`):
   * takes exactly its resources and GPU ids on its node, or in its bundle.
   * Throws SchedulerInputError when that no longer fits or the id is in use.
   */
  restoreAssignment(assignment: Assignment): Assignment {
    const a = parseAssignment(assignment);
    if (this.placed.has(a.demandId) || this.queue.has(actorKey(a.demandId))) {
      throw new SchedulerInputError(`demand ${a.demandId} is already known to the scheduler; restore each assignment once`);
    }
    const q = quantify(a.resources);
    const fail = (msg: string): never => {
      throw new SchedulerInputError(`cannot restore assignment ${a.demandId}: ${msg}`);
    };
    const gpus = `GPU ids [${a.gpuIds.join(', ')}]`;
    if (a.groupId !== undefined) {
      const g = this.groups.get(a.groupId);
      if (!g || g.state !== 'created' || !g.reserved) return fail(`placement group ${a.groupId} is not created (restore the group first)`);
      const i = a.bundleIndex!;
      if (i >= g.bundles.length) return fail(`placement group ${a.groupId} has no bundle ${i}`);
      if (g.reserved[i].nodeId !== a.nodeId) return fail(`bundle ${i} of placement group ${a.groupId} is on node ${g.reserved[i].nodeId}, not ${a.nodeId}`);
      const pool = bundlePool(g, i);
      const grant = pool.takeExact(q, a.gpuIds) ?? fail(`${formatQuantity(q)} on ${gpus} no longer fits bundle ${i} of placement group ${a.groupId}`);
      this.placed.set(a.demandId, { q, grant, pool, group: g, assignment: a });
      g.actors.add(a.demandId);
    } else {
      const node = this.nodeMap.get(a.nodeId) ?? fail(`node ${a.nodeId} is not registered (add the node first)`);
      const grant = node.pool.takeExact(q, a.gpuIds) ?? fail(`${formatQuantity(q)} on ${gpus} no longer fits node ${a.nodeId}`);
      this.placed.set(a.demandId, { q, grant, pool: node.pool, assignment: a });
      node.actors.add(a.demandId);
    }
    return { ...a, gpuIds: [...a.gpuIds] };
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
    this.holds.clear();
    this.holdsDirty = false;
    if (this.queue.size === 0) return { assignments, groups };
    const failedShapes = new Map<string, QueuedActor>();
    let groupCreated = false;
    const tryEntry = (key: string, e: Queued): void => {
      if (e.kind === 'placement-group') {
        const r = this.tryGroup(e.group);
        if (r.kind === 'placed') {
          this.queue.delete(key);
          groups.push(snapshot(e.group));
          groupCreated = true;
          return;
        }
        e.group.reason = e.reason = r.kind === 'infeasible' ? `infeasible: ${r.message}` : r.reason;
        e.blocks = r.kind === 'pending' ? r.blocks : [];
        e.blockNodes = r.kind === 'pending' ? r.blockNodes : undefined;
        this.holdOf(e);
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
      const r = this.tryActor(e.demand, e.q);
      if (r.kind === 'placed') {
        this.queue.delete(key);
        if (e.demand.placement.kind === 'group') this.groups.get(e.demand.placement.groupId)?.waiting.delete(e.id);
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
        this.holdOf(e);
      }
      if (shape) failedShapes.set(shape, e);
    };
    for (const [key, e] of this.queue) tryEntry(key, e);
    if (groupCreated) {
      for (const [key, e] of this.queue) {
        if (e.kind === 'actor' && e.demand.placement.kind === 'group') tryEntry(key, e);
      }
    }
    if (assignments.length || groups.length) {
      this.log.debug({ assignments: assignments.length, groups: groups.length, pending: this.queue.size }, 'pending drained');
    }
    return { assignments, groups };
  }

  /** Pending demands and groups in FIFO order, each with why it waits. */
  pending(): PendingEntry[] {
    return [...this.queue.values()].map((e) => ({ kind: e.kind, id: e.id, reason: e.reason }));
  }

  // ---------------------------------------------------------------- internals

  private tryActor(d: Demand, q: Quantity): Attempt<Assignment> {
    const p = d.placement;
    if (p.kind === 'group') return this.tryInGroup(d, q, p.groupId, p.bundleIndex);
    if (p.kind === 'node') {
      const node = this.nodeMap.get(p.nodeId);
      if (p.soft) {
        if (node && node.pool.fits(q) && !this.holds.on(namesOf(q), node.spec.id)) return this.placeOnNode(d, q, node);
        return this.tryAnywhere(d, q, false);
      }
      if (!node) {
        const why = this.removedNodes.has(p.nodeId)
          ? `node ${p.nodeId} was removed`
          : `there is no node ${p.nodeId} (nodes: ${this.nodeList.map((n) => n.spec.id).join(', ') || 'none'})`;
        return { kind: 'infeasible', message: `demand ${d.id} has hard affinity to node ${p.nodeId} but ${why}; use soft: true to fall back to other nodes` };
      }
      const never = node.pool.totalShortages(q);
      if (never.length) {
        return { kind: 'infeasible', message: `demand ${d.id} ${formatQuantity(q)} can never fit node ${p.nodeId} (hard affinity): ${formatShortages(never, 'total')}` };
      }
      const held = this.holds.on(namesOf(q), node.spec.id);
      if (held) return blockedAttempt(held);
      if (node.pool.fits(q)) return this.placeOnNode(d, q, node);
      const short = node.pool.shortages(q);
      return { kind: 'pending', reason: `waiting: ${formatShortages(short, 'free')} on node ${p.nodeId}`, blocks: short.map((s) => s.name), blockNodes: [p.nodeId] };
    }
    if (p.kind === 'labels') {
      const scope = formatLabels(p.labels);
      const matching = this.nodeList.filter((n) => hasLabels(n, p.labels));
      if (p.soft) {
        if (matching.length) {
          const r = this.tryAnywhere(d, q, false, matching, scope);
          if (r.kind === 'placed') return r;
        }
        return this.tryAnywhere(d, q, false);
      }
      if (matching.length === 0) {
        const known = this.nodeList.map((n) => `${n.spec.id} {${formatLabels(n.spec.labels)}}`).join(', ') || 'none';
        return {
          kind: 'infeasible',
          message: `demand ${d.id} needs a node labelled ${scope} and no node is (nodes: ${known}); use soft: true to fall back to other nodes`,
        };
      }
      return this.tryAnywhere(d, q, false, matching, scope);
    }
    return this.tryAnywhere(d, q, p.kind === 'spread');
  }

  /**
   * `any` packs (see README), `spread` picks the least loaded node; both over
   * `nodes` (all live nodes unless a label selector narrowed them to `scope`).
   */
  private tryAnywhere(d: Demand, q: Quantity, spread: boolean, nodes: NodeEntry[] = this.nodeList, scope?: string): Attempt<Assignment> {
    const global = this.holds.global(namesOf(q));
    if (global) {
      if (!anyFitsTotal(q, nodes)) return { kind: 'infeasible', message: this.infeasibleMessage(`demand ${d.id}`, q, nodes, scope) };
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
      if (this.holds.hasNodeHolds()) {
        const b = this.holds.onNode(namesOf(q), node.spec.id);
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
    if (best) return this.placeOnNode(d, q, best);
    if (heldBy) return blockedAttempt(heldBy);
    if (!anyFitsTotal(q, nodes)) return { kind: 'infeasible', message: this.infeasibleMessage(`demand ${d.id}`, q, nodes, scope) };
    return this.pendingOnBestNode(q, nodes, scope);
  }

  private tryInGroup(d: Demand, q: Quantity, groupId: string, bundleIndex: number | undefined): Attempt<Assignment> {
    const g = this.groups.get(groupId);
    if (!g) {
      return {
        kind: 'infeasible',
        message: `demand ${d.id} targets placement group ${groupId}, which ${this.tombstones.has(groupId) ? 'was removed' : 'does not exist'}; create the group first`,
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
    if (g.state === 'pending' || !g.reserved) {
      return { kind: 'pending', reason: `waiting: placement group ${groupId} is pending (${g.reason ?? 'not placed yet'})`, blocks: [] };
    }
    for (const i of within) {
      const b = g.reserved[i];
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
      this.placed.set(d.id, { q, grant, pool, group: g, assignment });
      g.actors.add(d.id);
      return { kind: 'placed', value: assignment };
    }
    let bestI = within[0];
    let bestShort = bundlePool(g, bestI).shortages(q);
    for (const i of within.slice(1)) {
      const s = bundlePool(g, i).shortages(q);
      if (s.length < bestShort.length) {
        bestI = i;
        bestShort = s;
      }
    }
    return { kind: 'pending', reason: `waiting: ${formatShortages(bestShort, 'free')} in bundle ${bestI} of placement group ${groupId}`, blocks: [] };
  }

  private placeOnNode(d: Demand, q: Quantity, node: NodeEntry): Attempt<Assignment> {
    const grant = node.pool.take(q);
    if (!grant) throw new Error(`scheduler bug: ${d.id} fit node ${node.spec.id} but take() failed`);
    const assignment: Assignment = { demandId: d.id, nodeId: node.spec.id, resources: { ...d.resources }, gpuIds: node.pool.gpuIdsOf(grant) };
    this.placed.set(d.id, { q, grant, pool: node.pool, assignment });
    node.actors.add(d.id);
    return { kind: 'placed', value: assignment };
  }

  private tryGroup(g: GroupEntry): Attempt<true> {
    const { strategy } = g.spec;
    const global = this.holds.global(g.names);
    let cands = this.groupCands(g);
    if (this.holds.hasNodeHolds()) cands = cands.filter((c) => !this.holds.onNode(g.names, c.nodeId));
    if (!global) {
      const r = placeBundles(strategy, g.bundles, cands);
      if (r.ok) {
        g.reserved = r.placed.map((p, i) => {
          const c = cands[p.cand];
          this.nodeMap.get(c.nodeId)?.groups.add(g.spec.id);
          return { nodeId: c.nodeId, grant: p.grant, gpuIds: c.pool.gpuIdsOf(p.grant), nodePool: c.pool };
        });
        g.state = 'created';
        g.reason = undefined;
        this.log.debug({ group: g.spec.id, nodes: g.reserved.map((b) => b.nodeId) }, 'placement group created');
        return { kind: 'placed', value: true };
      }
    }
    // Feasibility depends only on the node set: check it once per change of that set.
    if (g.checkedAt !== this.nodesVersion) {
      g.infeasible = this.groupInfeasibility(g);
      g.checkedAt = this.nodesVersion;
    }
    if (g.infeasible) return { kind: 'infeasible', message: g.infeasible };
    if (global) return blockedAttempt(global);
    return this.groupPendingReason(g);
  }

  /** The nodes a group may use: all, or those matching its label selector. */
  private groupNodes(g: GroupEntry): NodeEntry[] {
    const labels = g.spec.labels;
    return labels ? this.nodeList.filter((n) => hasLabels(n, labels)) : this.nodeList;
  }

  private groupCands(g: GroupEntry): Candidate[] {
    const labels = g.spec.labels;
    return labels ? this.cands.filter((c) => hasLabels(this.nodeMap.get(c.nodeId)!, labels)) : this.cands;
  }

  /** Why a group can never fit the live nodes, or undefined when it could. */
  private groupInfeasibility(g: GroupEntry): string | undefined {
    const { strategy, id } = g.spec;
    const scope = g.spec.labels ? formatLabels(g.spec.labels) : undefined;
    const what = `placement group ${id} (${strategy}, ${g.bundles.length} bundle${g.bundles.length === 1 ? '' : 's'}${scope ? `, nodes labelled ${scope}` : ''})`;
    const nodes = this.groupNodes(g);
    if (this.nodeList.length === 0) return `${what} cannot be placed: the cluster has no nodes`;
    if (nodes.length === 0) return `${what} cannot be placed: no node is labelled ${scope} (nodes: ${this.nodeList.map((n) => `${n.spec.id} {${formatLabels(n.spec.labels)}}`).join(', ')})`;
    if (strategy === 'STRICT_SPREAD' && nodes.length < g.bundles.length) {
      return `${what} needs ${g.bundles.length} distinct nodes but the cluster has ${nodes.length}${scope ? ' with those labels' : ''}; use SPREAD for best-effort spreading`;
    }
    for (let b = 0; b < g.bundles.length; b++) {
      if (!anyFitsTotal(g.bundles[b], nodes)) return this.infeasibleMessage(`${what} bundle ${b}`, g.bundles[b], nodes, scope);
    }
    const empties: Candidate[] = this.groupCands(g).map((c) => ({ nodeId: c.nodeId, pool: c.pool.emptyCopy() }));
    const r = placeBundles(strategy, g.bundles, empties);
    if (r.ok) return undefined;
    if (strategy === 'STRICT_PACK') {
      const sum = sumQuantities(g.bundles);
      const best = this.bestNode(sum, true, nodes);
      return `${what} needs ${formatQuantity(sum)} on one node, more than any node has: ${formatShortages(best.short, 'total')} (node ${best.node.spec.id})`;
    }
    if (strategy === 'STRICT_SPREAD') {
      return `${what} cannot give each bundle its own node: bundle ${r.bundle} ${formatQuantity(g.bundles[r.bundle])} is left without a node that could hold it`;
    }
    return `${what} does not fit the cluster even when it is idle (bundle ${r.bundle} ${formatQuantity(g.bundles[r.bundle])} finds no room)`;
  }

  private groupPendingReason(g: GroupEntry): Attempt<true> {
    const { strategy } = g.spec;
    const nodes = this.groupNodes(g);
    const cands = this.groupCands(g);
    if (strategy === 'STRICT_PACK') {
      const sum = sumQuantities(g.bundles);
      const best = this.bestNode(sum, false, nodes);
      const short = best.short;
      return {
        kind: 'pending',
        reason: `waiting: needs ${formatQuantity(sum)} on one node for STRICT_PACK: ${formatShortages(short, 'free')}${nodes.length > 1 ? ` (best node ${best.node.spec.id})` : ''}`,
        blocks: short.map((s) => s.name),
        blockNodes: this.feasibleNodes([sum], nodes),
      };
    }
    // Find the first bundle that finds no room when the bundles are placed in order (simulated, then undone).
    const r = placeBundles(strategy, g.bundles, cands);
    if (r.ok) {
      for (let i = 0; i < r.placed.length; i++) cands[r.placed[i].cand].pool.give(g.bundles[i], r.placed[i].grant);
      return this.heldReason(g.names);
    }
    const b = Math.max(0, r.bundle);
    const q = g.bundles[b];
    const best = this.bestNode(q, false, nodes);
    if (best.short.length === 0) {
      const rule = strategy === 'STRICT_SPREAD' ? ' (STRICT_SPREAD: each bundle on a distinct node)' : '';
      return {
        kind: 'pending',
        reason: `waiting: bundle ${b} ${formatQuantity(q)} has no node left with room${rule}`,
        blocks: namesOf(q),
        blockNodes: this.feasibleNodes(g.bundles, nodes),
      };
    }
    return {
      kind: 'pending',
      reason: `waiting: bundle ${b} needs ${formatQuantity(q)}: ${formatShortages(best.short, 'free')}${nodes.length > 1 ? ` (best node ${best.node.spec.id})` : ''}`,
      blocks: best.short.map((s) => s.name),
      blockNodes: this.feasibleNodes(g.bundles, nodes),
    };
  }

  private pendingOnBestNode(q: Quantity, nodes: NodeEntry[] = this.nodeList, scope?: string): Attempt<Assignment> {
    const best = this.bestNode(q, false, nodes);
    if (best.short.length === 0) return this.heldReason(namesOf(q));
    const where = scope
      ? ` on nodes labelled ${scope}${nodes.length > 1 ? ` (best node ${best.node.spec.id} of ${nodes.length})` : ''}`
      : nodes.length > 1
        ? ` (best node ${best.node.spec.id} of ${nodes.length})`
        : '';
    return {
      kind: 'pending',
      reason: `waiting: ${formatShortages(best.short, 'free')}${where}`,
      blocks: best.short.map((s) => s.name),
      blockNodes: this.feasibleNodes([q], nodes),
    };
  }

  /** Pending because room that exists is held for an earlier pending entry. */
  private heldReason(names: readonly string[]): { kind: 'pending'; reason: string; blocks: string[] } {
    const held = this.holds.anywhere(names);
    if (held) return blockedAttempt(held);
    return { kind: 'pending', reason: 'waiting: room is held for earlier pending demands (FIFO)', blocks: [] };
  }

  /**
   * The nodes (of `nodes`) where at least one of `qs` could ever fit, or
   * undefined when that is every live node (a pending entry then holds
   * resources back everywhere).
   */
  private feasibleNodes(qs: readonly Quantity[], nodes: NodeEntry[] = this.nodeList): string[] | undefined {
    const out: string[] = [];
    for (const node of nodes) if (qs.some((q) => node.pool.fitsTotal(q))) out.push(node.spec.id);
    return out.length === this.nodeList.length ? undefined : out;
  }

  /**
   * The node closest to fitting `q`: fewest short resources, then smallest
   * relative shortfall; among nodes that could ever hold it when there are any.
   */
  private bestNode(q: Quantity, total: boolean, nodes: NodeEntry[] = this.nodeList): { node: NodeEntry; short: Shortage[] } {
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

  private anyNodeFitsTotal(q: Quantity): boolean {
    return anyFitsTotal(q, this.nodeList);
  }

  /** Why `q` fits none of `nodes` even when idle. */
  private infeasibleMessage(what: string, q: Quantity, nodes: NodeEntry[] = this.nodeList, scope?: string): string {
    if (this.nodeList.length === 0) return `${what} ${formatQuantity(q)} cannot be scheduled: the cluster has no nodes`;
    const among = scope ? ` labelled ${scope}` : '';
    const offered = new Set<string>();
    for (const n of nodes) for (const r of n.pool.resourceNames()) offered.add(r);
    const missing = namesOf(q).filter((r) => !offered.has(r));
    if (missing.length) {
      const list = missing.map((m) => `"${m}"`).join(', ');
      return `${what} ${formatQuantity(q)} cannot be scheduled: no node${among} has ${list} (nodes${among} offer: ${[...offered].sort().join(', ') || 'nothing'})`;
    }
    const best = this.bestNode(q, true, nodes);
    return `${what} ${formatQuantity(q)} is larger than any node${among}: ${formatShortages(best.short, 'total')} (best node ${best.node.spec.id})`;
  }

  // ---------------------------------------------------------------- FIFO fairness

  private enqueue(key: string, e: Queued): void {
    this.queue.set(key, e);
  }

  private dequeue(key: string): void {
    const e = this.queue.get(key);
    if (!e) return;
    this.queue.delete(key);
    if (e.kind === 'actor' && e.demand.placement.kind === 'group') this.groups.get(e.demand.placement.groupId)?.waiting.delete(e.id);
    if (e.blocks.length) this.holdsDirty = true;
  }

  private holdOf(e: Queued): void {
    this.holds.add(e.id, e.blocks, e.blockNodes);
  }

  private rebuildHolds(): void {
    this.holds.clear();
    for (const e of this.queue.values()) this.holdOf(e);
    this.holdsDirty = false;
  }

  private rebuildCandidates(): void {
    this.nodesVersion++;
    this.cands = this.nodeList.map((n) => ({ nodeId: n.spec.id, pool: n.pool }));
  }

}

/** The pool a bundle's actors draw from. */
function bundlePool(g: GroupEntry, i: number): ResourcePool {
  const b = g.reserved![i];
  return (b.pool ??= ResourcePool.forBundle(g.bundles[i], b.grant, b.nodePool));
}

function anyFitsTotal(q: Quantity, nodes: readonly NodeEntry[]): boolean {
  for (const node of nodes) if (node.pool.fitsTotal(q)) return true;
  return false;
}

function hasLabels(node: NodeEntry, labels: Record<string, string>): boolean {
  for (const k in labels) if (node.spec.labels[k] !== labels[k]) return false;
  return true;
}

/** `role=simulator,zone=a` */
function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function actorKey(id: string): string {
  return `a:${id}`;
}

function groupKey(id: string): string {
  return `g:${id}`;
}

function blockedAttempt(b: Hold): { kind: 'pending'; reason: string; blocks: string[] } {
  return { kind: 'pending', reason: `waiting: queued behind ${b.by}, which needs ${b.resource} first (FIFO)`, blocks: [] };
}

/** Whether an actor's quantity fits inside a bundle's quantity. */
function fitsWithin(q: Quantity, bundle: Quantity): boolean {
  if (q.gpu > bundle.gpu) return false;
  for (let i = 0; i < q.names.length; i++) {
    const j = bundle.names.indexOf(q.names[i]);
    if (j < 0 || bundle.units[j] < q.units[i]) return false;
  }
  return true;
}

/** `needs GPU:1, free GPU:0` for each short resource, joined by `; `. */
function formatShortages(short: readonly Shortage[], label: 'free' | 'total'): string {
  return short
    .map((s) => `needs ${s.name}:${formatAmount(s.name, s.need)}, ${label} ${s.name}:${formatAmount(s.name, s.free)}${s.note ? ` (${s.note})` : ''}`)
    .join('; ');
}

function snapshot(g: GroupEntry): PlacementGroupState {
  const s: PlacementGroupState = {
    id: g.spec.id,
    strategy: g.spec.strategy,
    bundles: g.spec.bundles.map((b) => ({ ...b })),
    state: g.state,
  };
  if (g.spec.name !== undefined) s.name = g.spec.name;
  if (g.spec.labels) s.labels = { ...g.spec.labels };
  if (g.reserved) {
    s.bundleNodes = g.reserved.map((b) => b.nodeId);
    s.bundleGpuIds = g.reserved.map((b) => [...b.gpuIds]);
  }
  if (g.reason !== undefined) s.reason = g.reason;
  return s;
}
