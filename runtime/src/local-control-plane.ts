import type { Logger } from 'pino';
import { Scheduler, type Assignment, type Demand, type PendingEntry, type PlacementGroupState, type PlacementRequest } from './scheduler/index.js';
import { ActorDiedError, CohortError, InvalidOptionsError, ModuleLoadError, errorFromWire, type WireError } from './errors.js';
import { resolveActorOptions, toResourceMap, resolvePlacementGroupOptions } from './options.js';
import type { ActorEvent, ActorInfo, ActorSpec, ControlPlane, PlacementGroupRequest, WorkerBoot } from './control-plane.js';
import type { NodeAgent, WorkerExit, WorkerProcess } from './node-agent.js';

interface ActorRecord {
  info: ActorInfo;
  spec: ActorSpec;
  worker?: WorkerProcess;
  assignment?: Assignment;
  waiters: Array<{ min: number; resolve: (i: ActorInfo) => void; reject: (e: Error) => void }>;
  restartTimer?: NodeJS.Timeout;
}

interface GroupRecord {
  state: PlacementGroupState;
  waiters: Array<{ resolve: (s: PlacementGroupState) => void; reject: (e: Error) => void }>;
}

export interface LocalControlPlaneOptions {
  logger: Logger;
  agent: NodeAgent;
  /** Data-plane address workers register with. */
  controlAddress: string;
  logLevel: string;
  restartBackoffMs: number;
  nodeResources: Record<string, number>;
  nodeLabels: Record<string, string>;
  /** Extra environment for every worker (runtime limits). */
  workerEnv: Record<string, string>;
}

const MAX_BACKOFF_MS = 5000;

/**
 * The control plane of one machine: the scheduler, the actor directory and the
 * lifecycle (start, restart with backoff, death, owner exit, placement groups).
 * Lives in the driver process.
 */
export class LocalControlPlane implements ControlPlane {
  readonly scheduler: Scheduler;
  private readonly actors = new Map<string, ActorRecord>();
  private readonly names = new Map<string, string>();
  private readonly groups = new Map<string, GroupRecord>();
  private readonly listeners: Array<(e: ActorEvent) => void> = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly o: LocalControlPlaneOptions) {
    this.scheduler = new Scheduler({ logger: o.logger });
    this.scheduler.addNode({ id: o.agent.nodeId, resources: o.nodeResources, labels: o.nodeLabels });
  }

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  subscribe(fn: (e: ActorEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(rec: ActorRecord, type: ActorEvent['type'], cause?: string): void {
    const e: ActorEvent = { type, actorId: rec.info.id, name: rec.info.name, owner: rec.info.owner, incarnation: rec.info.incarnation, cause };
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.o.logger.error({ err }, 'actor event listener threw');
      }
    }
  }

  async createActor(spec: ActorSpec): Promise<ActorInfo> {
    if (this.closed) throw new CohortError('the runtime is shut down');
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
    const id = `a${++this.seq}-${spec.className}`;
    let placement: PlacementRequest = { kind: 'any' };
    if (options.placementGroup) placement = { kind: 'group', groupId: options.placementGroup, bundleIndex: options.bundleIndex };
    else if (options.nodeAffinity) placement = { kind: 'node', nodeId: options.nodeAffinity.nodeId, soft: options.nodeAffinity.soft };
    else if (options.spread) placement = { kind: 'spread' };
    const demand: Demand = { id, resources: toResourceMap(options.resources), placement };
    const result = this.scheduler.submit(demand); // throws InfeasibleError for a demand that can never fit
    const rec: ActorRecord = {
      spec: { ...spec, options },
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
    };
    this.actors.set(id, rec);
    if (options.name) this.names.set(options.name, id);
    if (result.status === 'scheduled') this.launch(rec, result.assignment);
    else {
      rec.info.pendingReason = result.reason;
      this.o.logger.info({ actor: options.name ?? id, reason: result.reason }, 'actor pending');
    }
    return { ...rec.info };
  }

  private launch(rec: ActorRecord, a: Assignment): void {
    rec.assignment = a;
    rec.info.nodeId = a.nodeId;
    rec.info.gpuIds = a.gpuIds;
    rec.info.pendingReason = undefined;
    this.startWorker(rec);
  }

  private startWorker(rec: ActorRecord): void {
    rec.info.state = rec.info.incarnation === 0 && rec.info.restarts === 0 ? 'starting' : 'restarting';
    rec.info.address = undefined;
    const inc = rec.info.incarnation;
    const w = this.o.agent.start(
      {
        actorId: rec.info.id,
        incarnation: inc,
        name: rec.info.name,
        gpuIds: rec.info.gpuIds,
        controlAddress: this.o.controlAddress,
        logLevel: this.o.logLevel,
        env: { ...this.o.workerEnv, ...rec.spec.options.env },
        nodeId: rec.info.nodeId,
        shared: rec.spec.options.process === 'shared',
      },
      (exit) => this.onExit(rec, inc, exit),
    );
    rec.worker = w;
    rec.info.pid = w.pid;
  }

  private onExit(rec: ActorRecord, inc: number, exit: WorkerExit): void {
    if (rec.info.incarnation !== inc || rec.info.state === 'dead' || this.closed) return;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    const cause = `worker process ${rec.info.pid} ended (${how})`;
    this.o.logger.warn({ actor: rec.info.name ?? rec.info.id, cause }, 'actor worker exited');
    rec.worker = undefined;
    rec.info.address = undefined;
    rec.info.lastExit = cause;
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    const { restarts, maxRestarts } = rec.info;
    if (maxRestarts === -1 || restarts < maxRestarts) {
      rec.info.restarts++;
      rec.info.incarnation++;
      rec.info.state = 'restarting';
      const delay = Math.min(MAX_BACKOFF_MS, this.o.restartBackoffMs * 2 ** restarts);
      this.emit(rec, 'restarting', cause);
      rec.restartTimer = setTimeout(() => {
        rec.restartTimer = undefined;
        if (rec.info.state === 'restarting' && !this.closed) this.startWorker(rec);
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

  private markDead(rec: ActorRecord, cause: string): void {
    if (rec.info.state === 'dead') return;
    const wasPending = rec.info.state === 'pending';
    rec.info.state = 'dead';
    rec.info.deathCause = cause;
    rec.info.address = undefined;
    if (rec.restartTimer) clearTimeout(rec.restartTimer);
    rec.worker?.kill();
    rec.worker = undefined;
    if (rec.info.name && this.names.get(rec.info.name) === rec.info.id) this.names.delete(rec.info.name);
    const err = new ActorDiedError(rec.info.id, rec.info.name, cause);
    for (const w of rec.waiters.splice(0)) w.reject(err);
    if (wasPending) this.scheduler.cancel(rec.info.id);
    else if (rec.assignment) this.scheduler.release(rec.info.id);
    this.emit(rec, 'died', cause);
    this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
    this.drain();
  }

  /** Starts what became schedulable and completes placement groups that got their bundles. */
  private drain(): void {
    if (this.closed) return;
    const { assignments, groups } = this.scheduler.drainPending();
    for (const g of groups) {
      const gr = this.groups.get(g.id);
      if (!gr) continue;
      gr.state = g;
      if (g.state === 'created') for (const w of gr.waiters.splice(0)) w.resolve(g);
    }
    for (const a of assignments) {
      const rec = this.actors.get(a.demandId);
      if (rec && rec.info.state === 'pending') this.launch(rec, a);
    }
  }

  /** Data-plane address of a live actor's worker (undefined otherwise). */
  addressOf(id: string): string | undefined {
    return this.actors.get(id)?.info.address;
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
    else rec.worker?.kill();
  }

  async listActors(): Promise<ActorInfo[]> {
    return [...this.actors.values()].map((r) => ({ ...r.info }));
  }

  async createPlacementGroup(req: PlacementGroupRequest): Promise<PlacementGroupState> {
    if (this.closed) throw new CohortError('the runtime is shut down');
    const opts = resolvePlacementGroupOptions(req);
    const id = `pg${++this.seq}`;
    const state = this.scheduler.createPlacementGroup({ id, name: opts.name, bundles: opts.bundles, strategy: opts.strategy });
    this.groups.set(id, { state, waiters: [] });
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
      nodeId: rec.info.nodeId ?? this.o.agent.nodeId,
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

  /** Kills every actor and stops restarts. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const rec of this.actors.values()) if (rec.info.state !== 'dead') this.markDead(rec, 'the runtime shut down');
    await this.o.agent.shutdown();
  }
}
