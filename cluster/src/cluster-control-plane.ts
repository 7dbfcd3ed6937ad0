import type { Logger } from 'pino';
import { resolveActorOptions, type ActorInfo, type ActorSpec, type Channel, type Endpoint, type PlacementGroupState, type PlacementRequest, type RunningActor } from '@cohort/runtime';
import { ActorLifecycle, type ActorRecord } from '@cohort/runtime/internal';
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

interface Rec extends ActorRecord {
  /** JSON of {args, options} for KV (undefined when not JSON-safe). */
  specJson?: string;
  /** The KV write in progress (changes during it are written once it ends, latest state only). */
  persist: Promise<void>;
  writing?: boolean;
  dirty?: boolean;
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
 * The control plane over many nodes: the runtime's actor lifecycle
 * ({@link ActorLifecycle}: scheduler, directory, restart with backoff, typed
 * deaths, owners, placement groups) fed with the nodes that membership reports,
 * workers started through each node's agent, the directory mirrored to KV, plus
 * node loss: actors of a dead node restart elsewhere when they have
 * restarts left and resources exist, else die with `ActorDiedError` naming the node.
 * It implements the runtime's `ControlPlane`, so drivers and workers use it
 * through the runtime's own client, unchanged.
 */
export class ClusterControlPlane extends ActorLifecycle<Rec> {
  private readonly nodes = new Map<string, NodeAnnouncement & { address: string }>();

  constructor(private readonly o: ClusterControlPlaneOptions) {
    super({ logger: o.logger.child({ component: 'scheduler' }), restartBackoffMs: o.restartBackoffMs ?? 100, keepInfeasible: true, closedMessage: 'the cluster head is shutting down' });
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

  /**
   * A node died or left: its actors restart elsewhere or die with the cause.
   * A placement group with a bundle there gets only that bundle re-placed;
   * its actors on other nodes keep running. Should the scheduler ever report
   * an actor whose worker runs on a live node (a group whose strategy needs a
   * whole restart), that worker is stopped before the actor is restarted, so
   * no worker is left running without its actor.
   */
  removeNode(nodeId: string, reason: string): void {
    if (!this.nodes.delete(nodeId)) return;
    const { actors, groups } = this.scheduler.removeNode(nodeId);
    for (const gid of groups) {
      const gr = this.groups.get(gid);
      const now = this.scheduler.group(gid);
      if (!gr || !now) continue;
      gr.state = now;
      this.groupChanged(now);
    }
    const cause = `node ${nodeId} was lost (${reason})`;
    for (const id of actors) {
      const rec = this.actors.get(id);
      if (!rec || rec.info.state === 'dead') continue;
      if (rec.assignment && rec.assignment.nodeId !== nodeId) {
        this.o.logger.warn({ actor: rec.info.name ?? id, node: rec.assignment.nodeId }, 'stopping a worker on a live node: its placement group is placed again as a whole');
        void Promise.resolve(this.stopProcess(rec)).catch(() => undefined);
      }
      rec.assignment = undefined;
      rec.info.address = undefined;
      rec.info.lastExit = cause;
      if (rec.restartTimer) clearTimeout(rec.restartTimer);
      this.killOwned(rec.info.id, `its owner ${rec.info.name ?? rec.info.id} died`);
      if (this.canRestart(rec)) {
        rec.info.restarts++;
        rec.info.incarnation++;
        this.emit(rec, 'restarting', cause);
        this.submit(rec);
      } else {
        this.markDead(rec, `${cause}; no restarts left (maxRestarts=${rec.info.maxRestarts})`, false);
      }
    }
    this.drain();
  }

  /** Node ids the control plane schedules on. */
  nodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  // ------------------------------------------------------------ persistence

  protected override changed(rec: Rec): void {
    this.persist(rec);
  }

  protected override groupChanged(g: PlacementGroupState): void {
    this.persistGroup(g);
  }

  /** Mirrors the record to KV; changes made while a write is in flight are folded into one write of the latest state. */
  private persist(rec: Rec): void {
    if (rec.writing) {
      rec.dirty = true;
      return;
    }
    rec.writing = true;
    rec.persist = (async () => {
      do {
        rec.dirty = false;
        try {
          await this.o.store.actors.put(rec.info.id, this.stored(rec));
        } catch (err) {
          this.o.logger.warn({ err, actor: rec.info.id }, 'could not write the actor directory entry');
        }
      } while (rec.dirty);
      rec.writing = false;
    })();
  }

  private stored(rec: Rec): StoredActor {
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
    return value;
  }

  private persistGroup(g: PlacementGroupState): void {
    void this.o.store.placementGroups
      .put(g.id, { id: g.id, name: g.name, strategy: g.strategy, bundles: g.bundles, labels: g.labels, state: g.state, bundleNodes: g.bundleNodes, bundleGpuIds: g.bundleGpuIds, reason: g.reason, updatedAt: Date.now() })
      .catch((err) => this.o.logger.warn({ err, group: g.id }, 'could not write the placement group'));
  }

  // ---------------------------------------------------------------- actors

  protected newActorId(className: string): string {
    return `e${this.o.epoch}-a${++this.seq}-${className.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  }

  protected newGroupId(): string {
    return `e${this.o.epoch}-pg${++this.seq}`;
  }

  protected newRecord(base: ActorRecord): Rec {
    return { ...base, specJson: jsonSpec(base.spec.args, base.spec.options), persist: Promise.resolve() };
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

  protected startProcess(rec: Rec): void {
    const nodeId = rec.assignment!.nodeId;
    const node = this.nodes.get(nodeId);
    this.persist(rec);
    if (!node) return; // the node is being removed; removeNode reschedules it
    const inc = rec.info.incarnation;
    const launch = this.workerLaunch(rec, { controlAddress: this.o.endpoint.address, logLevel: this.o.logLevel, workerEnv: this.o.workerEnv });
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

  protected async stopProcess(rec: Rec): Promise<void> {
    const node = rec.assignment ? this.nodes.get(rec.assignment.nodeId) : undefined;
    if (node && rec.info.pid !== undefined) await this.o.endpoint.request(node.address, AGENT_OPS.kill, { pid: rec.info.pid, actorId: rec.info.id });
  }

  private onExit(rec: Rec, inc: number, how: string): void {
    this.workerEnded(rec, inc, /^could not/.test(how) ? how : this.workerExitCause(rec, how));
  }

  /** The owner process (a driver) went away: its non-detached actors end. */
  ownerGone(ownerId: string, cause: string): void {
    this.killOwned(ownerId, cause);
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
