import type { Logger } from 'pino';
import { Scheduler, type Assignment, type Demand, type NodeUsage, type PendingEntry, type PlacementGroupState, type PlacementRequest, type ScheduleResult } from '../scheduler/index.js';
import { ActorDiedError, CohortError, InvalidOptionsError, ModuleLoadError, errorFromWire, type WireError } from '../errors.js';
import { resolveActorOptions, resolvePlacementGroupOptions, toResourceMap } from '../options.js';
import type { ActorEvent, ActorInfo, ActorSpec, ControlPlane, PlacementGroupRequest, WorkerBoot } from '../control-plane.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { WorkerLaunch } from '../worker-launcher.js';

/** What the control plane keeps about one actor. */
export interface ActorRecord {
  info: ActorInfo;
  spec: ActorSpec;
  demand: Demand;
  assignment?: Assignment;
  waiters: Array<{ min: number; resolve: (i: ActorInfo) => void; reject: (e: Error) => void }>;
  restartTimer?: NodeJS.Timeout;
  /** Cannot be restarted (e.g. recovered by a restarted head without its constructor arguments). */
  unrestartable?: boolean;
}

export interface GroupRecord {
  state: PlacementGroupState;
  waiters: Array<{ resolve: (s: PlacementGroupState) => void; reject: (e: Error) => void }>;
}

export interface ActorLifecycleOptions {
  logger: Logger;
  /** First restart delay; doubles per restart up to {@link MAX_BACKOFF_MS}. */
  restartBackoffMs: number;
  /** Scheduler: keep demands no node can meet now pending (a cluster whose nodes may join later). */
  keepInfeasible?: boolean;
  /** Put in `createActor` / `createPlacementGroup` errors once closed. */
  closedMessage: string;
  /** Node id workers are told when the record has none. */
  defaultNodeId?: string;
}

export const MAX_BACKOFF_MS = 5000;

/**
 * The actor lifecycle both control planes share (local mode and the cluster
 * head): the scheduler, the actor directory with names, the pending queue,
 * worker start, restart with backoff, typed deaths (owners, placement groups),
 * lifecycle events and the worker registration protocol. Subclasses say how a
 * worker starts and stops on a node, and may persist changes.
 */
export abstract class ActorLifecycle<R extends ActorRecord = ActorRecord> implements ControlPlane {
  readonly scheduler: Scheduler;
  protected readonly actors = new Map<string, R>();
  protected readonly names = new Map<string, string>();
  protected readonly groups = new Map<string, GroupRecord>();
  private readonly listeners: Array<(e: ActorEvent) => void> = [];
  protected seq = 0;
  protected closed = false;

  constructor(private readonly lo: ActorLifecycleOptions) {
    this.scheduler = new Scheduler({ logger: lo.logger, keepInfeasible: lo.keepInfeasible });
  }

  // ------------------------------------------------------------ subclass hooks

  /** A fresh actor id. */
  protected abstract newActorId(className: string): string;
  /** A fresh placement group id. */
  protected abstract newGroupId(): string;
  /** The record for a new (or recovered) actor, with the subclass's own fields. */
  protected abstract newRecord(base: ActorRecord): R;
  /** Starts a worker for `rec`'s current incarnation on `rec.assignment`'s node; its end is reported with {@link workerEnded}. */
  protected abstract startProcess(rec: R): void;
  /** Kills `rec`'s worker; a restart or the death follows from the reported end. */
  protected abstract stopProcess(rec: R): void | Promise<void>;
  /** The actor's record changed (state, address, reason): a hook for persistence. */
  protected changed(_rec: R): void {}
  /** A placement group changed state. */
  protected groupChanged(_g: PlacementGroupState): void {}

  // ------------------------------------------------------------------ events

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  subscribe(fn: (e: ActorEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Data-plane address of a live actor's worker (undefined otherwise). */
  addressOf(id: string): string | undefined {
    return this.actors.get(id)?.info.address;
  }

  /**
   * Pushes each lifecycle event to its owner when the owner is an actor (an
   * owner inside an actor observes its actors' failures: \`onActorEvent\` in a
   * worker), over the owner's data-plane channel. Drivers hear events another
   * way (\`isDriver\` owners are skipped): in-process in local mode, over NATS
   * in a cluster.
   */
  forwardEventsToActorOwners(endpoint: Endpoint, isDriver: (owner: string) => boolean): () => void {
    return this.subscribe((e) => {
      if (isDriver(e.owner)) return;
      const address = this.addressOf(e.owner);
      if (!address || endpoint.closed) return;
      try {
        endpoint.notify(endpoint.channelTo(address), 'actor-event', e);
      } catch (err) {
        this.lo.logger.debug({ err, owner: e.owner }, 'could not forward an actor event to its owner');
      }
    });
  }

  protected emit(rec: R, type: ActorEvent['type'], cause?: string): void {
    const e: ActorEvent = { type, actorId: rec.info.id, name: rec.info.name, owner: rec.info.owner, incarnation: rec.info.incarnation, cause };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.lo.logger.error({ err }, 'actor event listener threw');
      }
    }
    this.changed(rec);
  }

  // ------------------------------------------------------------------ actors

  async createActor(spec: ActorSpec): Promise<ActorInfo> {
    if (this.closed) throw new CohortError(this.lo.closedMessage);
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
    const id = this.newActorId(spec.className);
    let placement: PlacementRequest = { kind: 'any' };
    if (options.placementGroup) placement = { kind: 'group', groupId: options.placementGroup, bundleIndex: options.bundleIndex };
    else if (options.nodeAffinity) placement = { kind: 'node', nodeId: options.nodeAffinity.nodeId, soft: options.nodeAffinity.soft };
    else if (options.spread) placement = { kind: 'spread' };
    const demand: Demand = { id, resources: toResourceMap(options.resources), placement };
    const rec = this.newRecord({
      spec: { ...spec, options },
      demand,
      waiters: [],
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
    });
    const result = this.scheduler.submit(demand); // throws InfeasibleError for a demand that can never fit
    this.actors.set(id, rec);
    if (options.name) this.names.set(options.name, id);
    this.placed(rec, result);
    return { ...rec.info };
  }

  /** Puts a demand to the scheduler; launches at once or waits (pending, with the reason). */
  protected submit(rec: R): void {
    this.placed(rec, this.scheduler.submit(rec.demand));
  }

  private placed(rec: R, result: ScheduleResult): void {
    if (result.status === 'scheduled') {
      this.launch(rec, result.assignment);
      return;
    }
    rec.info.state = 'pending';
    rec.info.nodeId = undefined;
    rec.info.pendingReason = result.reason;
    this.lo.logger.info({ actor: rec.info.name ?? rec.info.id, reason: result.reason }, 'actor pending');
    this.changed(rec);
  }

  private launch(rec: R, a: Assignment): void {
    rec.assignment = a;
    rec.info.nodeId = a.nodeId;
    rec.info.gpuIds = a.gpuIds;
    rec.info.pendingReason = undefined;
    this.startWorker(rec);
  }

  protected startWorker(rec: R): void {
    rec.info.state = rec.info.incarnation === 0 && rec.info.restarts === 0 ? 'starting' : 'restarting';
    rec.info.address = undefined;
    rec.info.pid = undefined;
    this.startProcess(rec);
  }

  /** The launch a worker launcher gets for `rec`'s current incarnation. */
  protected workerLaunch(rec: R, o: { controlAddress: string; logLevel: string; workerEnv?: Record<string, string> }): WorkerLaunch {
    return {
      actorId: rec.info.id,
      incarnation: rec.info.incarnation,
      name: rec.info.name,
      gpuIds: rec.info.gpuIds,
      controlAddress: o.controlAddress,
      logLevel: o.logLevel,
      env: { ...ortThreadsEnv(rec.spec.options), ...(o.workerEnv ?? {}), ...rec.spec.options.env },
      nodeId: rec.info.nodeId,
      shared: rec.spec.options.process === 'shared',
    };
  }

  protected canRestart(rec: R): boolean {
    const { restarts, maxRestarts } = rec.info;
    return !rec.unrestartable && (maxRestarts === -1 || restarts < maxRestarts);
  }

  /** The cause recorded when an actor's worker process ends, the same on every provider: `worker process PID on node N ended (exit code 3)`. */
  protected workerExitCause(rec: R, how: string): string {
    return `worker process ${rec.info.pid ?? '?'} on node ${rec.info.nodeId ?? this.lo.defaultNodeId ?? '?'} ended (${how})`;
  }

  /** The worker of incarnation `inc` ended (`cause` says how): restart with backoff, or death. */
  protected workerEnded(rec: R, inc: number, cause: string): void {
    if (rec.info.incarnation !== inc || rec.info.state === 'dead' || this.closed) return;
    this.lo.logger.warn({ actor: rec.info.name ?? rec.info.id, cause }, 'actor worker exited');
    rec.info.address = undefined;
    rec.info.lastExit = cause;
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    const { restarts, maxRestarts } = rec.info;
    if (this.canRestart(rec)) {
      rec.info.restarts++;
      rec.info.incarnation++;
      rec.info.state = 'restarting';
      const delay = Math.min(MAX_BACKOFF_MS, this.lo.restartBackoffMs * 2 ** restarts);
      this.emit(rec, 'restarting', cause);
      rec.restartTimer = setTimeout(() => {
        rec.restartTimer = undefined;
        if (rec.info.state === 'restarting' && !this.closed && rec.assignment) this.startWorker(rec);
      }, delay);
      return;
    }
    this.markDead(rec, `${cause}; no restarts left (maxRestarts=${maxRestarts})`);
  }

  protected killOwned(ownerId: string, cause: string): void {
    for (const r of this.actors.values()) {
      if (r.info.owner === ownerId && !r.info.detached && r.info.state !== 'dead') this.markDead(r, cause);
    }
  }

  /** Marks an actor dead: waiters get ActorDiedError, its worker is killed, its resources are freed (unless `release` is false). */
  protected markDead(rec: R, cause: string, release = true): void {
    if (rec.info.state === 'dead') return;
    const wasPending = rec.info.state === 'pending' || !rec.assignment;
    rec.info.state = 'dead';
    rec.info.deathCause = cause;
    if (rec.restartTimer) clearTimeout(rec.restartTimer);
    void Promise.resolve(this.stopProcess(rec)).catch(() => undefined);
    rec.info.address = undefined;
    if (rec.info.name && this.names.get(rec.info.name) === rec.info.id) this.names.delete(rec.info.name);
    const err = new ActorDiedError(rec.info.id, rec.info.name, cause);
    for (const w of rec.waiters.splice(0)) w.reject(err);
    if (wasPending) this.scheduler.cancel(rec.info.id);
    else if (release) this.scheduler.release(rec.info.id);
    this.emit(rec, 'died', cause);
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    this.drain();
  }

  /** Starts what became schedulable and completes placement groups that got their bundles. */
  protected drain(): void {
    if (this.closed) return;
    const { assignments, groups } = this.scheduler.drainPending();
    for (const g of groups) {
      const gr = this.groups.get(g.id);
      if (!gr) continue;
      gr.state = g;
      this.groupChanged(g);
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
        this.changed(rec);
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
    else await this.stopProcess(rec);
  }

  async listActors(): Promise<ActorInfo[]> {
    return [...this.actors.values()].map((r) => ({ ...r.info }));
  }

  // -------------------------------------------------------- placement groups

  async createPlacementGroup(req: PlacementGroupRequest): Promise<PlacementGroupState> {
    if (this.closed) throw new CohortError(this.lo.closedMessage);
    const opts = resolvePlacementGroupOptions(req);
    const state = this.scheduler.createPlacementGroup({ id: this.newGroupId(), name: opts.name, bundles: opts.bundles, strategy: opts.strategy, ...(opts.labels ? { labels: opts.labels } : {}) });
    this.groups.set(state.id, { state, waiters: [] });
    this.groupChanged(state);
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
    // Pending actors that targeted the group can never be placed now.
    for (const rec of this.actors.values()) {
      if (rec.info.state === 'pending' && rec.spec.options.placementGroup === id) this.markDead(rec, `its placement group ${id} was removed`);
    }
    this.groupChanged({ ...g.state, state: 'removed' });
    this.drain();
  }

  async pending(): Promise<PendingEntry[]> {
    return this.scheduler.pending();
  }

  async listNodes(): Promise<NodeUsage[]> {
    return this.scheduler.nodes();
  }

  // ------------------------------------------------------ worker registration

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
      nodeId: rec.info.nodeId ?? this.lo.defaultNodeId ?? '?',
      owner: rec.info.owner,
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
}

/**
 * ONNX Runtime intra-op threads for a dedicated worker, from the CPUs the actor
 * holds (at least 1), as Ray sets OMP_NUM_THREADS from num_cpus: a worker
 * holding half a core must not start one spinning thread per core of the
 * machine. A COHORT_ORT_THREADS in the driver's environment or the actor's
 * `env` wins; shared worker processes keep one environment and get none.
 */
export function ortThreadsEnv(o: { resources?: { CPU?: number }; process?: string }, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (o.process === 'shared' || env.COHORT_ORT_THREADS) return {};
  return { COHORT_ORT_THREADS: String(Math.max(1, Math.floor(o.resources?.CPU ?? 1))) };
}
