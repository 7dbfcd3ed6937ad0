import type { ActorHandle } from '@cohort/runtime';
import type { Logger } from 'pino';
import { localName } from './job-actors.js';

/** One recovery the driver made, recorded in the step's metrics. */
export interface RecoveryEvent {
  /** What was lost and what was done about it. */
  kind: 'replaced' | 'restored-from-checkpoint' | 'restarted' | 'redone';
  role: string;
  actor: string;
  /** The node the lost actor ran on, when known. */
  node?: string;
  /** From the loss being noticed to the role working again. */
  seconds: number;
  detail?: string;
}

/** How a replica group reaches its actors (the driver's arrays), spawns a replacement of rank r and moves state. */
export interface ReplicaAdapter<H> {
  role: string;
  handles: () => H[];
  set: (rank: number, h: H) => void;
  spawn: (rank: number) => Promise<H>;
  /** Forms the group's collective again with the current handles. */
  formGroup: () => Promise<void>;
  /** Updates a replica applied so far. */
  version: (h: H) => PromiseLike<number>;
  /** `h` takes `source`'s parameters and optimizer state (replica to replica, over the data plane). */
  loadStateFrom: (h: H, source: H) => PromiseLike<{ version: number; bytes: number; seconds: number }>;
  /**
   * Why a lost replica's state exists on no peer (e.g. ZeRO-1: each learner's
   * AdamW shard lives only on it): then any loss sends the run to its checkpoint.
   */
  noPeerState?: string;
}

/** Every replica of the group is gone: the run goes back to its last checkpoint. */
export class AllReplicasLostError extends Error {
  override readonly name = 'AllReplicasLostError';
  constructor(
    readonly role: string,
    cause: string,
    message = `every ${role} was lost (${cause})`,
  ) {
    super(message);
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const isDeath = (e: unknown) => (e as Error)?.name === 'ActorDiedError';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** After the first death, how long to wait for other calls to fail too (a lost node takes several replicas at once). */
const GRACE_MS = 300;
const MAX_ATTEMPTS = 4;

/**
 * A fixed, bit-identical data-parallel group (the learners, or PPO's
 * critics) that survives the loss of members: a lost replica is replaced by
 * a new actor in the same bundle, which takes parameters and optimizer state
 * from a surviving peer over the data plane (never from disk), and the
 * group's collective is formed again. Calls made through {@link each} are
 * redone after a recovery (they must be idempotent); {@link update} makes one
 * data-parallel update happen exactly once whatever dies mid-way. When every
 * replica is gone it throws {@link AllReplicasLostError}.
 */
export class ReplicaGroup<H extends ActorHandle<unknown>> {
  /** Recoveries since the last {@link drainEvents}. */
  private events: RecoveryEvent[] = [];

  constructor(
    private readonly a: ReplicaAdapter<H>,
    private readonly log: Logger,
    /** The node an actor runs on (for the events), when known. */
    private readonly nodeOf: (h: H) => Promise<string | undefined> = async (h) => (await h.$info().catch(() => undefined))?.nodeId,
  ) {}

  drainEvents(): RecoveryEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Runs `fn` on every replica (rank order); a replica that died is replaced and the calls are made again. */
  async each<R>(what: string, fn: (h: H, rank: number) => R | PromiseLike<R>): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      const hs = [...this.a.handles()];
      const out = await Promise.all(hs.map((h, r) => settle(fn(h, r))));
      if (out.every((o) => o.ok)) return out.map((o) => (o as { value: R }).value);
      const dead = out.flatMap((o, r) => (!o.ok && isDeath(o.error) ? [r] : []));
      const other = out.find((o) => !o.ok && !isDeath(o.error));
      if (other || dead.length === 0 || attempt >= MAX_ATTEMPTS) throw ((other ?? out.find((o) => !o.ok)) as { error: unknown }).error;
      await this.replace(dead, what, hs);
    }
  }

  /** {@link each} on one rank (e.g. learner 0 publishing weights or writing a checkpoint). */
  async one<R>(what: string, rank: number, fn: (h: H) => R | PromiseLike<R>): Promise<R> {
    return (await this.each(what, (h, r) => (r === rank ? fn(h) : (undefined as R))))[rank];
  }

  /**
   * One data-parallel update (`fn` on every replica at once: gradient,
   * all-reduce, apply), exactly once. If replicas die mid-way, they are
   * replaced, the collective is formed again (which frees survivors waiting
   * for the dead), every replica takes the state of the survivor that got
   * furthest, and the update is made again only if no survivor applied it.
   * `version` is the group's version before the update. Returns the results
   * of the replicas that finished it (all of them when nothing was lost).
   */
  async update<R>(what: string, version: number, fn: (h: H, rank: number) => R | PromiseLike<R>): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      const hs = [...this.a.handles()];
      const states: Array<Outcome<R> | undefined> = hs.map(() => undefined);
      const calls = hs.map((h, r) => settle(fn(h, r)).then((o) => (states[r] = o)));
      const all = Promise.all(calls);
      const firstDeath = new Promise<void>((resolve) => calls.forEach((c) => void c.then((o) => !o.ok && isDeath(o.error) && resolve())));
      await Promise.race([all, firstDeath]);
      if (states.every((o) => o?.ok)) return states.map((o) => (o as { value: R }).value);
      if (!states.some((o) => o && !o.ok && isDeath(o.error))) {
        // Everything settled and no one died: a real error, not something to recover from.
        throw (states.find((o) => o && !o.ok) as { error: unknown }).error;
      }
      await Promise.race([all, sleep(GRACE_MS)]);
      const dead = states.flatMap((o, r) => (o && !o.ok && isDeath(o.error) ? [r] : []));
      if (attempt >= MAX_ATTEMPTS) throw (states[dead[0]] as { error: unknown }).error;
      // Replacing and re-forming the group frees the survivors still waiting in the collective.
      await this.replace(dead, what, hs, all);
      // Deaths noticed only once the group was formed again (a lost node's replicas fail one by one): replaced too.
      const late = states.flatMap((o, r) => (o && !o.ok && isDeath(o.error) && !dead.includes(r) ? [r] : []));
      if (late.length) await this.replace(late, what, hs);
      dead.push(...late);
      const done = states.flatMap((o, r) => (o?.ok && !dead.includes(r) ? [(o as { value: R }).value] : []));
      const versions = await Promise.all(this.a.handles().map((h) => this.a.version(h)));
      if (Math.max(...versions) > version) {
        if (done.length === 0) throw new Error(`${this.a.role}s: the update was applied but no survivor returned its result`);
        this.log.warn({ role: this.a.role, what, version: version + 1 }, 'a replica was lost mid-update; the survivors had applied it: not redone');
        return done;
      }
      this.events.push({ kind: 'redone', role: this.a.role, actor: `${this.a.role}s`, seconds: 0, detail: `${what}: no survivor had applied it` });
    }
  }

  /**
   * Replaces the replicas of `ranks` (dead): new actors in their bundles,
   * the collective formed again, then every replica behind the furthest
   * survivor takes that survivor's state. `pending` settles once the group is formed again.
   */
  private async replace(ranks: number[], what: string, old: H[], pending?: Promise<unknown>): Promise<void> {
    const t0 = performance.now();
    const hs = this.a.handles();
    const lost = `${what}: ${ranks.map((r) => localName(old[r].$name, old[r].$id)).join(', ')} died`;
    if (ranks.length >= hs.length) throw new AllReplicasLostError(this.a.role, lost);
    if (this.a.noPeerState) throw new AllReplicasLostError(this.a.role, lost, `${lost}, and its state is on no peer (${this.a.noPeerState})`);
    const nodes = await Promise.all(ranks.map((r) => this.nodeOf(old[r])));
    for (const r of ranks) void old[r].$kill().catch(() => undefined);
    const fresh = await Promise.all(ranks.map((r) => this.a.spawn(r)));
    await Promise.all(fresh.map((h) => h.$ready()));
    ranks.forEach((r, i) => this.a.set(r, fresh[i]));
    await this.a.formGroup();
    if (pending) await pending;
    const now = this.a.handles();
    // -1: a replacement; -2: a survivor that died meanwhile (replaced by the caller once noticed).
    const versions = await Promise.all(now.map((h, r) => (ranks.includes(r) ? -1 : Promise.resolve(this.a.version(h)).then((v) => v, () => -2))));
    const src = versions.indexOf(Math.max(...versions));
    if (versions[src] < 0) throw new AllReplicasLostError(this.a.role, `${what}: no survivor answered`);
    const loads = await Promise.all(now.map((h, r) => (versions[r] !== -2 && versions[r] < versions[src] ? this.a.loadStateFrom(h, now[src]) : null)));
    const seconds = (performance.now() - t0) / 1000;
    ranks.forEach((r, i) => {
      const load = loads[r];
      this.events.push({
        kind: 'replaced',
        role: this.a.role,
        actor: localName(old[r].$name, old[r].$id),
        ...(nodes[i] ? { node: nodes[i] } : {}),
        seconds,
        detail: `${what}: replaced by ${localName(now[r].$name, now[r].$id)}, state of version ${versions[src]} (${load?.bytes ?? 0} bytes) from ${localName(now[src].$name, now[src].$id)}`,
      });
    });
    this.log.warn({ role: this.a.role, lost: ranks, source: src, version: versions[src], seconds }, 'replicas replaced from a surviving peer');
  }
}

function settle<T>(p: T | PromiseLike<T>): Promise<Outcome<T>> {
  return Promise.resolve(p).then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}
