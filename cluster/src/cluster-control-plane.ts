import type { Logger } from 'pino';
import {
  ActorDiedError,
  CohortError,
  InvalidOptionsError,
  ModuleLoadError,
  Scheduler,
  resolveActorOptions,
  type ActorEvent,
  type ActorInfo,
  type ActorSpec,
  type Assignment,
  type Channel,
  type ControlPlane,
  type Demand,
  type Endpoint,
  type PendingEntry,
  type PlacementGroupRequest,
  type PlacementGroupState,
  type PlacementRequest,
  type RunningActor,
  type WorkerBoot,
  type WorkerLaunch,
} from '@cohort/runtime';
import { errorFromWire, type WireError } from '@cohort/runtime/errors.js';
import { resolvePlacementGroupOptions, toResourceMap } from '@cohort/runtime/options.js';
import type { NodeAnnouncement } from './membership.js';
import type { ActorRecord as StoredActor, ClusterStateStore } from './state-store.js';

/** Data-plane operations a cluster node agent serves. */
export const AGENT_OPS = { start: 'agent.start', kill: 'agent.kill', running: 'agent.running' } as const;
/** Data-plane operation the head serves for worker exits reported by agents. */
export const HEAD_WORKER_EXIT = 'cluster.workerExit';

/** What an agent reports when a worker it started ends. */
export interface WorkerExitReport {
  actorId: string;
  incarnation: number;
  code: number | null;
  signal: string | null;
}

interface Rec {
  info: ActorInfo;
  spec: ActorSpec;
  /** JSON of {args, options} for KV (undefined when not JSON-safe). */
  specJson?: string;
  /** Recovered by a restarted head without a usable spec: cannot be restarted. */
  unrestartable?: boolean;
  demand: Demand;
  assignment?: Assignment;
  waiters: Array<{ min: number; resolve: (i: ActorInfo) => void; reject: (e: Error) => void }>;
  restartTimer?: NodeJS.Timeout;
  persist: Promise<void>;
}

interface GroupRec {
  state: PlacementGroupState;
  waiters: Array<{ resolve: (s: PlacementGroupState) => void; reject: (e: Error) => void }>;
}

export interface ClusterControlPlaneOptions {
  logger: Logger;
  /** The head's data-plane endpoint (workers register here; agents are dialed from here). */
  endpoint: Endpoint;
  store: ClusterStateStore;
  /** Head epoch: actor and group ids carry it so they never collide with a previous head's. */
  epoch: number;
  logLevel: string;
  restartBackoffMs?: number;
  /** Extra environment for every worker. */
  workerEnv?: Record<string, string>;
}

const MAX_BACKOFF_MS = 5000;

/** JSON of the constructor args and options when they survive a JSON round trip unchanged, else undefined. */
function jsonSpec(args: unknown[], options: unknown): string | undefined {
  try {
    const text = JSON.stringify({ args, options });
    return JSON.stringify(JSON.parse(text).args) === JSON.stringify(args) && isPlain(args) ? text : undefined;
  } catch {
    return undefined;
  }
}

function isPlain(v: unknown): boolean {
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return true;
  if (Array.isArray(v)) return v.every(isPlain);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    return (proto === Object.prototype || proto === null) && Object.values(v as object).every(isPlain);
  }
  return false;
}
const STATE_TO_KV: Record<ActorInfo['state'], StoredActor['state']> = { pending: 'PENDING', starting: 'PENDING', alive: 'ALIVE', restarting: 'RESTARTING', dead: 'DEAD' };

/**
 * The control plane over many nodes: the runtime's {@link Scheduler} fed with
 * the nodes that membership reports, an actor directory mirrored to KV, and the
 * lifecycle of the local runtime (restart with backoff, typed deaths, owners)
 * plus node loss: actors of a dead node restart elsewhere when they have
 * restarts left and resources exist, else die with `ActorDiedError` naming the node.
 * It implements the runtime's `ControlPlane`, so drivers and workers use it
 * through the runtime's own client, unchanged.
 */
export class ClusterControlPlane implements ControlPlane {
  readonly scheduler: Scheduler;
  private readonly nodes = new Map<string, NodeAnnouncement & { address: string }>();
  private readonly actors = new Map<string, Rec>();
  private readonly names = new Map<string, string>();
  private readonly groups = new Map<string, GroupRec>();
  private readonly listeners: Array<(e: ActorEvent) => void> = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly o: ClusterControlPlaneOptions) {
    this.scheduler = new Scheduler({ logger: o.logger.child({ component: 'scheduler' }), keepInfeasible: true });
    o.endpoint.handle(HEAD_WORKER_EXIT, (body) => {
      const r = body as WorkerExitReport;
      const rec = this.actors.get(r.actorId);
      if (rec) this.onExit(rec, r.incarnation, r.signal ? `signal ${r.signal}` : `exit code ${r.code}`);
      return null;
    });
  }

  // ------------------------------------------------------------------ nodes

  /** A node joined (or came back): its resources become schedulable. Needs the agent's data-plane address. */
  addNode(n: NodeAnnouncement): void {
    if (!n.address) {
      this.o.logger.warn({ node: n.nodeId }, 'node has no data-plane address; it cannot run actors');
      return;
    }
    if (this.nodes.has(n.nodeId)) return;
    this.nodes.set(n.nodeId, { ...n, address: n.address });
    this.scheduler.addNode({ id: n.nodeId, resources: n.resources, labels: n.labels });
    this.drain();
  }

  /** A node died or left: its actors restart elsewhere or die with the cause. */
  removeNode(nodeId: string, reason: string): void {
    if (!this.nodes.delete(nodeId)) return;
    const { actors } = this.scheduler.removeNode(nodeId);
    const cause = `node ${nodeId} was lost (${reason})`;
    for (const id of actors) {
      const rec = this.actors.get(id);
      if (!rec || rec.info.state === 'dead') continue;
      rec.assignment = undefined;
      rec.info.address = undefined;
      rec.info.lastExit = cause;
      if (rec.restartTimer) clearTimeout(rec.restartTimer);
      this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
      const { restarts, maxRestarts } = rec.info;
      if (!rec.unrestartable && (maxRestarts === -1 || restarts < maxRestarts)) {
        rec.info.restarts++;
        rec.info.incarnation++;
        this.emit(rec, 'restarting', cause);
        this.submit(rec);
      } else {
        this.markDead(rec, `${cause}; no restarts left (maxRestarts=${maxRestarts})`, false);
      }
    }
    this.drain();
  }

  /** Node ids the control plane schedules on. */
  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  // ---------------------------------------------------------------- events

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  subscribe(fn: (e: ActorEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(rec: Rec, type: ActorEvent['type'], cause?: string): void {
    const e: ActorEvent = { type, actorId: rec.info.id, name: rec.info.name, owner: rec.info.owner, incarnation: rec.info.incarnation, cause };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.o.logger.error({ err }, 'actor event listener threw');
      }
    }
    this.persist(rec);
  }

  private persist(rec: Rec): void {
    const i = rec.info;
    const value: StoredActor = {
      id: i.id,
      name: i.name,
      className: i.className,
      module: i.module,
      state: STATE_TO_KV[i.state],
      nodeId: i.nodeId,
      address: i.address,
      pid: i.pid,
      resources: rec.demand.resources,
      gpuIds: i.gpuIds,
      placementGroupId: rec.assignment?.groupId,
      bundleIndex: rec.assignment?.bundleIndex,
      restarts: i.restarts,
      maxRestarts: i.maxRestarts,
      incarnation: i.incarnation,
      maxTaskRetries: i.maxTaskRetries,
      maxConcurrency: i.maxConcurrency,
      spec: rec.specJson,
      lifetime: i.detached ? 'detached' : 'owned',
      owner: i.owner,
      reason: i.state === 'dead' ? i.deathCause : (i.pendingReason ?? i.lastExit),
      updatedAt: Date.now(),
    };
    rec.persist = rec.persist.then(() => this.o.store.actors.put(i.id, value)).then(
      () => undefined,
      (err) => this.o.logger.warn({ err, actor: i.id }, 'could not write the actor directory entry'),
    );
  }

  private persistGroup(g: PlacementGroupState): void {
    void this.o.store.placementGroups
      .put(g.id, { id: g.id, name: g.name, strategy: g.strategy, bundles: g.bundles, state: g.state, bundleNodes: g.bundleNodes, bundleGpuIds: g.bundleGpuIds, reason: g.reason, updatedAt: Date.now() })
      .catch((err) => this.o.logger.warn({ err, group: g.id }, 'could not write the placement group'));
  }

  // ---------------------------------------------------------------- actors

  async createActor(spec: ActorSpec): Promise<ActorInfo> {
    if (this.closed) throw new CohortError('the cluster head is shutting down');
    const options = resolveActorOptions(spec.options);
    if (typeof spec.module !== 'string' || !spec.module) throw new InvalidOptionsError('actor module must be a non-empty module URL or path');
    if (typeof spec.className !== 'string' || !spec.className) throw new InvalidOptionsError('actor className must be a non-empty string');
    if (!Array.isArray(spec.args)) throw new InvalidOptionsError('constructor arguments must be an array');
    if (options.name) {
      const existingId = this.names.get(options.name);
      if (existingId) {
        const ex = this.actors.get(existingId)!;
        if (options.getIfExists) return { ...ex.info };
        throw new InvalidOptionsError(`an actor named "${options.name}" already exists (${existingId}); choose another name, kill it first, or pass getIfExists: true`);
      }
    }
    if (options.placementGroup && !this.groups.has(options.placementGroup)) {
      throw new InvalidOptionsError(`placement group "${options.placementGroup}" does not exist (create it with createPlacementGroup() first)`);
    }
    const id = `e${this.o.epoch}-a${++this.seq}-${spec.className.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    let placement: PlacementRequest = { kind: 'any' };
    if (options.placementGroup) placement = { kind: 'group', groupId: options.placementGroup, bundleIndex: options.bundleIndex };
    else if (options.nodeAffinity) placement = { kind: 'node', nodeId: options.nodeAffinity.nodeId, soft: options.nodeAffinity.soft };
    else if (options.spread) placement = { kind: 'spread' };
    const demand: Demand = { id, resources: toResourceMap(options.resources), placement };
    const rec: Rec = {
      spec: { ...spec, options },
      demand,
      waiters: [],
      persist: Promise.resolve(),
      info: {
        id,
        name: options.name,
        className: spec.className,
        module: spec.module,
        state: 'pending',
        incarnation: 0,
        restarts: 0,
        maxRestarts: options.maxRestarts,
        maxTaskRetries: options.maxTaskRetries,
        maxConcurrency: options.maxConcurrency,
        owner: spec.owner,
        detached: options.lifetime === 'detached',
        gpuIds: [],
      },
    };
    rec.specJson = jsonSpec(spec.args, options);
    this.actors.set(id, rec);
    if (options.name) this.names.set(options.name, id);
    this.submit(rec);
    return { ...rec.info };
  }

  /**
   * A restarted head re-adopts the actors and placement groups stored in KV.
   * `running` holds what the agents of live nodes report their workers serve
   * (re-registration): those actors are adopted as they run (address, pid,
   * incarnation from the worker), whatever KV says, and reported actors KV lost
   * are adopted too (they keep serving but cannot be restarted). Without a
   * report from a node, KV is trusted: actors stored alive there are adopted.
   * Actors whose node is gone, or whose node reported it does not run them,
   * restart elsewhere when they can; pending ones are queued again. Call after
   * the live nodes were added.
   */
  recover(stored: StoredActor[], groups: PlacementGroupState[], running: Map<string, RunningActor[]> = new Map()): { adopted: number; restarted: number; failed: number; reregistered: number } {
    let adopted = 0;
    let restarted = 0;
    let failed = 0;
    let reregistered = 0;
    for (const g of groups) {
      if (g.state === 'removed' || this.groups.has(g.id)) continue;
      try {
        const st = this.scheduler.createPlacementGroup({ id: g.id, name: g.name, bundles: g.bundles, strategy: g.strategy });
        this.groups.set(g.id, { state: st, waiters: [] });
      } catch (err) {
        this.o.logger.warn({ err, group: g.id }, 'could not recover a placement group');
      }
    }
    const reported = new Map<string, { nodeId: string; r: RunningActor }>();
    for (const [nodeId, list] of running) if (this.nodes.has(nodeId)) for (const r of list) reported.set(r.actorId, { nodeId, r });
    const byId = new Map(stored.map((a) => [a.id, a]));
    // Actors a worker serves that KV lost (e.g. the head died before the write): adopted from the report.
    for (const [id, { nodeId, r }] of reported) {
      if (byId.has(id) || this.actors.has(id)) continue;
      byId.set(id, { id, name: r.name, className: r.className, module: r.module, state: 'ALIVE', nodeId, address: r.address, pid: r.pid, resources: {}, gpuIds: [], restarts: r.incarnation, maxRestarts: 0, incarnation: r.incarnation, owner: 'driver', lifetime: 'detached', updatedAt: Date.now() });
      this.o.logger.warn({ actor: r.name ?? id, node: nodeId }, 'a worker serves an actor the stored directory lost; adopted without its spec (it cannot restart)');
    }
    for (const a of byId.values()) {
      const rep = reported.get(a.id);
      if (this.actors.has(a.id)) continue;
      if (a.state === 'DEAD') {
        // Declared dead before the head went down: a worker still serving it is stale.
        const node = rep ? this.nodes.get(rep.nodeId) : undefined;
        if (node && rep) this.o.endpoint.request(node.address, AGENT_OPS.kill, { pid: rep.r.pid, actorId: a.id }).catch(() => undefined);
        continue;
      }
      let spec: { args: unknown[]; options: ActorSpec['options'] } | undefined;
      try {
        spec = a.spec ? (JSON.parse(a.spec) as typeof spec) : undefined;
      } catch {
        spec = undefined;
      }
      const options = spec?.options ?? resolveActorOptions({ name: a.name, maxRestarts: a.maxRestarts });
      const placement: PlacementRequest = a.placementGroupId && this.groups.has(a.placementGroupId) ? { kind: 'group', groupId: a.placementGroupId, bundleIndex: a.bundleIndex } : { kind: 'any' };
      const rec: Rec = {
        spec: { module: a.module ?? '', className: a.className, args: spec?.args ?? [], options, owner: a.owner ?? 'driver' },
        specJson: a.spec,
        unrestartable: !spec || !a.module,
        demand: { id: a.id, resources: a.resources, placement },
        waiters: [],
        persist: Promise.resolve(),
        info: {
          id: a.id,
          name: a.name,
          className: a.className,
          module: a.module ?? '',
          state: 'pending',
          address: a.address,
          incarnation: a.incarnation ?? a.restarts,
          restarts: a.restarts,
          maxRestarts: a.maxRestarts,
          maxTaskRetries: a.maxTaskRetries ?? 0,
          maxConcurrency: a.maxConcurrency ?? 1,
          owner: a.owner ?? 'driver',
          detached: a.lifetime === 'detached',
          nodeId: a.nodeId,
          gpuIds: a.gpuIds,
          pid: a.pid,
        },
      };
      if (rep) {
        // The worker's own report wins over KV (which may lag behind the last changes before the head died).
        Object.assign(rec.info, { nodeId: rep.nodeId, address: rep.r.address, pid: rep.r.pid, incarnation: rep.r.incarnation, restarts: Math.max(rec.info.restarts, rep.r.incarnation) });
      }
      this.actors.set(a.id, rec);
      if (a.name) this.names.set(a.name, a.id);
      const nodeLive = rec.info.nodeId !== undefined && this.nodes.has(rec.info.nodeId);
      const nodeReported = nodeLive && running.has(rec.info.nodeId!);
      const runs = rep !== undefined || (!nodeReported && nodeLive && (a.state === 'ALIVE' || a.state === 'RESTARTING') && !!a.address);
      if (runs) {
        // Re-reserve its resources on the node it runs on; the worker keeps running.
        const r = this.scheduler.submit({ ...rec.demand, placement: placement.kind === 'group' ? placement : { kind: 'node', nodeId: rec.info.nodeId! } });
        if (r.status === 'scheduled') {
          rec.assignment = { ...r.assignment, gpuIds: a.gpuIds };
          rec.info.state = rep || a.state === 'ALIVE' ? 'alive' : 'restarting';
          adopted++;
          if (rep) reregistered++;
          this.persist(rec);
          continue;
        }
        this.scheduler.cancel(a.id);
      }
      if (rec.unrestartable) {
        this.markDead(rec, `recovered by a restarted head without its constructor arguments (${runs ? 'its resources are taken' : `its node ${a.nodeId ?? '?'} is gone or no longer runs it`}); spawn it again`, false);
        failed++;
        continue;
      }
      if (a.state !== 'PENDING') {
        if (!(rec.info.maxRestarts === -1 || rec.info.restarts < rec.info.maxRestarts)) {
          this.markDead(rec, `its worker on node ${a.nodeId ?? '?'} was lost while the head was down; no restarts left (maxRestarts=${rec.info.maxRestarts})`, false);
          failed++;
          continue;
        }
        rec.info.restarts++;
        rec.info.incarnation++;
        restarted++;
      }
      rec.info.address = undefined;
      this.submit(rec);
    }
    this.drain();
    return { adopted, restarted, failed, reregistered };
  }

  /** Puts a demand to the scheduler; launches at once or waits (pending, with the reason). */
  private submit(rec: Rec): void {
    const result = this.scheduler.submit(rec.demand);
    if (result.status === 'scheduled') this.launch(rec, result.assignment);
    else {
      rec.info.state = 'pending';
      rec.info.nodeId = undefined;
      rec.info.pendingReason = result.reason;
      this.o.logger.info({ actor: rec.info.name ?? rec.info.id, reason: result.reason }, 'actor pending');
      this.persist(rec);
    }
  }

  private launch(rec: Rec, a: Assignment): void {
    rec.assignment = a;
    rec.info.nodeId = a.nodeId;
    rec.info.gpuIds = a.gpuIds;
    rec.info.pendingReason = undefined;
    this.startWorker(rec);
  }

  private startWorker(rec: Rec): void {
    const nodeId = rec.assignment!.nodeId;
    const node = this.nodes.get(nodeId);
    rec.info.state = rec.info.incarnation === 0 ? 'starting' : 'restarting';
    rec.info.address = undefined;
    rec.info.pid = undefined;
    this.persist(rec);
    if (!node) return; // the node is being removed; removeNode reschedules it
    const inc = rec.info.incarnation;
    const launch: WorkerLaunch = {
      actorId: rec.info.id,
      incarnation: inc,
      name: rec.info.name,
      gpuIds: rec.info.gpuIds,
      controlAddress: this.o.endpoint.address,
      logLevel: this.o.logLevel,
      env: { ...(this.o.workerEnv ?? {}), ...rec.spec.options.env },
      shared: rec.spec.options.process === 'shared',
    };
    this.o.endpoint.request(node.address, AGENT_OPS.start, launch).then(
      (r) => {
        const pid = (r as { pid: number }).pid;
        if (rec.info.incarnation === inc && rec.info.pid === undefined) rec.info.pid = pid;
      },
      (err: Error) => {
        if (rec.info.incarnation === inc) this.onExit(rec, inc, `could not start a worker on node ${nodeId}: ${err.message}`);
      },
    );
  }

  private onExit(rec: Rec, inc: number, how: string): void {
    if (rec.info.incarnation !== inc || rec.info.state === 'dead' || this.closed) return;
    const cause = /^could not/.test(how) ? how : `worker process ${rec.info.pid ?? '?'} on node ${rec.info.nodeId} ended (${how})`;
    this.o.logger.warn({ actor: rec.info.name ?? rec.info.id, cause }, 'actor worker exited');
    rec.info.address = undefined;
    rec.info.lastExit = cause;
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    const { restarts, maxRestarts } = rec.info;
    if (!rec.unrestartable && (maxRestarts === -1 || restarts < maxRestarts)) {
      rec.info.restarts++;
      rec.info.incarnation++;
      rec.info.state = 'restarting';
      const delay = Math.min(MAX_BACKOFF_MS, (this.o.restartBackoffMs ?? 100) * 2 ** restarts);
      this.emit(rec, 'restarting', cause);
      rec.restartTimer = setTimeout(() => {
        rec.restartTimer = undefined;
        if (rec.info.state === 'restarting' && !this.closed && rec.assignment) this.startWorker(rec);
      }, delay);
      return;
    }
    this.markDead(rec, `${cause}; no restarts left (maxRestarts=${maxRestarts})`);
  }

  private killOwned(ownerId: string, cause: string): void {
    for (const r of this.actors.values()) {
      if (r.info.owner === ownerId && !r.info.detached && r.info.state !== 'dead') this.markDead(r, cause);
    }
  }

  /** The owner process (a driver) went away: its non-detached actors end. */
  ownerGone(ownerId: string, cause: string): void {
    this.killOwned(ownerId, cause);
  }

  private markDead(rec: Rec, cause: string, release = true): void {
    if (rec.info.state === 'dead') return;
    const wasPending = rec.info.state === 'pending' || !rec.assignment;
    rec.info.state = 'dead';
    rec.info.deathCause = cause;
    rec.info.address = undefined;
    if (rec.restartTimer) clearTimeout(rec.restartTimer);
    const node = rec.assignment ? this.nodes.get(rec.assignment.nodeId) : undefined;
    if (node && rec.info.pid !== undefined) this.o.endpoint.request(node.address, AGENT_OPS.kill, { pid: rec.info.pid, actorId: rec.info.id }).catch(() => undefined);
    if (rec.info.name && this.names.get(rec.info.name) === rec.info.id) this.names.delete(rec.info.name);
    const err = new ActorDiedError(rec.info.id, rec.info.name, cause);
    for (const w of rec.waiters.splice(0)) w.reject(err);
    if (wasPending) this.scheduler.cancel(rec.info.id);
    else if (release) this.scheduler.release(rec.info.id);
    this.emit(rec, 'died', cause);
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    this.drain();
  }

  private drain(): void {
    if (this.closed) return;
    const { assignments, groups } = this.scheduler.drainPending();
    for (const g of groups) {
      const gr = this.groups.get(g.id);
      if (!gr) continue;
      gr.state = g;
      this.persistGroup(g);
      if (g.state === 'created') for (const w of gr.waiters.splice(0)) w.resolve(g);
    }
    for (const a of assignments) {
      const rec = this.actors.get(a.demandId);
      if (rec && rec.info.state === 'pending') this.launch(rec, a);
    }
    for (const p of this.scheduler.pending()) {
      const rec = p.kind === 'actor' ? this.actors.get(p.id) : undefined;
      if (rec && rec.info.pendingReason !== p.reason) {
        rec.info.pendingReason = p.reason;
        this.persist(rec);
      }
    }
  }

  async waitAlive(id: string, minIncarnation: number): Promise<ActorInfo> {
    const rec = this.actors.get(id);
    if (!rec) throw new ActorDiedError(id, undefined, 'no such actor');
    if (rec.info.state === 'dead') throw new ActorDiedError(id, rec.info.name, rec.info.deathCause ?? 'dead');
    if (rec.info.state === 'alive' && rec.info.incarnation >= minIncarnation) return { ...rec.info };
    return new Promise((resolve, reject) => rec.waiters.push({ min: minIncarnation, resolve, reject }));
  }

  async getActor(key: { id?: string; name?: string }): Promise<ActorInfo | undefined> {
    const id = key.id ?? (key.name !== undefined ? this.names.get(key.name) : undefined);
    const rec = id ? this.actors.get(id) : undefined;
    return rec ? { ...rec.info } : undefined;
  }

  async killActor(id: string, noRestart: boolean): Promise<void> {
    const rec = this.actors.get(id);
    if (!rec) throw new InvalidOptionsError(`no actor with id "${id}"`);
    if (rec.info.state === 'dead') return;
    if (noRestart) this.markDead(rec, 'killed by kill()');
    else {
      const node = rec.assignment ? this.nodes.get(rec.assignment.nodeId) : undefined;
      if (node && rec.info.pid !== undefined) await this.o.endpoint.request(node.address, AGENT_OPS.kill, { pid: rec.info.pid, actorId: rec.info.id });
    }
  }

  async listActors(): Promise<ActorInfo[]> {
    return [...this.actors.values()].map((r) => ({ ...r.info }));
  }

  async createPlacementGroup(req: PlacementGroupRequest): Promise<PlacementGroupState> {
    if (this.closed) throw new CohortError('the cluster head is shutting down');
    const opts = resolvePlacementGroupOptions(req);
    const id = `e${this.o.epoch}-pg${++this.seq}`;
    const state = this.scheduler.createPlacementGroup({ id, name: opts.name, bundles: opts.bundles, strategy: opts.strategy });
    this.groups.set(id, { state, waiters: [] });
    this.persistGroup(state);
    return state;
  }

  async waitPlacementGroup(id: string): Promise<PlacementGroupState> {
    const g = this.groups.get(id);
    if (!g) throw new InvalidOptionsError(`placement group "${id}" does not exist`);
    const now = this.scheduler.group(id) ?? g.state;
    if (now.state === 'created') return now;
    if (now.state === 'removed') throw new CohortError(`placement group ${id} was removed before it was ready`);
    return new Promise((resolve, reject) => g.waiters.push({ resolve, reject }));
  }

  async removePlacementGroup(id: string): Promise<void> {
    const g = this.groups.get(id);
    if (!g) throw new InvalidOptionsError(`placement group "${id}" does not exist`);
    this.groups.delete(id);
    const { actors } = this.scheduler.removePlacementGroup(id);
    for (const w of g.waiters.splice(0)) w.reject(new CohortError(`placement group ${id} was removed before it was ready`));
    for (const a of actors) {
      const rec = this.actors.get(a);
      if (rec) this.markDead(rec, `its placement group ${id} was removed`);
    }
    for (const rec of this.actors.values()) {
      if (rec.info.state === 'pending' && rec.spec.options.placementGroup === id) this.markDead(rec, `its placement group ${id} was removed`);
    }
    this.persistGroup({ ...g.state, state: 'removed' });
    this.drain();
  }

  async pending(): Promise<PendingEntry[]> {
    return this.scheduler.pending();
  }

  async workerStarted(actorId: string, incarnation: number, address: string, pid: number): Promise<WorkerBoot> {
    const rec = this.actors.get(actorId);
    if (!rec || rec.info.incarnation !== incarnation || rec.info.state === 'dead') {
      throw new CohortError(`worker for ${actorId}#${incarnation} is stale; exiting`);
    }
    rec.info.address = address;
    rec.info.pid = pid;
    return {
      module: rec.spec.module,
      className: rec.spec.className,
      args: rec.spec.args,
      name: rec.info.name,
      maxConcurrency: rec.info.maxConcurrency,
      gpuIds: rec.info.gpuIds,
      nodeId: rec.info.nodeId ?? '?',
    };
  }

  async workerReady(actorId: string, incarnation: number): Promise<void> {
    const rec = this.actors.get(actorId);
    if (!rec || rec.info.incarnation !== incarnation || rec.info.state === 'dead') return;
    rec.info.state = 'alive';
    const ready = rec.waiters.filter((w) => w.min <= incarnation);
    rec.waiters = rec.waiters.filter((w) => w.min > incarnation);
    for (const w of ready) w.resolve({ ...rec.info });
    this.emit(rec, 'alive');
  }

  async workerFailed(actorId: string, incarnation: number, error: WireError): Promise<void> {
    const rec = this.actors.get(actorId);
    if (!rec || rec.info.incarnation !== incarnation) return;
    const e = errorFromWire(error);
    const prefix = e instanceof ModuleLoadError ? '' : 'constructor failed: ';
    this.markDead(rec, `${prefix}${e.message}`);
  }

  /** Stops scheduling; with `killActors` every non-detached actor is killed first. Waits for KV writes. */
  async shutdown(killActors = false): Promise<void> {
    if (killActors) for (const rec of this.actors.values()) if (rec.info.state !== 'dead' && !rec.info.detached) this.markDead(rec, 'the cluster head shut down');
    this.closed = true;
    for (const rec of this.actors.values()) if (rec.restartTimer) clearTimeout(rec.restartTimer);
    await Promise.all([...this.actors.values()].map((r) => r.persist));
  }

  /** Binds channel owners: when the channel of a driver closes, its owned actors end. */
  trackOwner(ch: Channel, owner: string): void {
    if (!owner.startsWith('driver-')) return;
    this.owners.set(owner, ch);
  }

  /** @internal owner → channel of driver processes. */
  readonly owners = new Map<string, Channel>();
}
