import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';

/** Ids used as KV keys: letters, digits and `-_.=` (NATS key charset, no `/` or spaces). */
export const KEY_PATTERN = /^[A-Za-z0-9_=-][A-Za-z0-9_.=-]*$/;

const resourceMap = z.record(z.string(), z.number());

/** One row of the node table. */
export const NodeRecordSchema = z.object({
  id: z.string().regex(KEY_PATTERN),
  /** `alive` while heartbeats arrive; `dead` after the timeout; `left` after a clean leave. */
  state: z.enum(['alive', 'dead', 'left']),
  resources: resourceMap,
  labels: z.record(z.string(), z.string()).default({}),
  /** gRPC address of the node agent (`host:port`), when it serves one. */
  address: z.string().optional(),
  hostname: z.string().optional(),
  pid: z.number().int().optional(),
  nodeType: z.string().optional(),
  /** Epoch ms. */
  joinedAt: z.number(),
  /** Epoch ms of the state change (death or leave). */
  changedAt: z.number().optional(),
  reason: z.string().optional(),
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;

/** One row of the actor directory. */
export const ActorRecordSchema = z.object({
  id: z.string().regex(KEY_PATTERN),
  name: z.string().optional(),
  className: z.string(),
  module: z.string().optional(),
  state: z.enum(['PENDING', 'ALIVE', 'RESTARTING', 'DEAD']),
  nodeId: z.string().optional(),
  /** gRPC address of the worker serving the actor. */
  address: z.string().optional(),
  pid: z.number().int().optional(),
  resources: resourceMap,
  gpuIds: z.array(z.number().int()).default([]),
  placementGroupId: z.string().optional(),
  bundleIndex: z.number().int().optional(),
  restarts: z.number().int().min(0).default(0),
  maxRestarts: z.number().int().min(-1).default(0),
  /** Bumped on each restart (the worker's registration must match it). */
  incarnation: z.number().int().min(0).optional(),
  maxTaskRetries: z.number().int().min(-1).optional(),
  maxConcurrency: z.number().int().min(1).optional(),
  /**
   * JSON of the constructor arguments and resolved options, so a restarted head
   * can restart the actor later. Absent when the arguments are not plain JSON
   * (binary, handles): such an actor keeps running but cannot be restarted by a new head.
   */
  spec: z.string().optional(),
  lifetime: z.enum(['owned', 'detached']).default('owned'),
  owner: z.string().optional(),
  /** Why it is pending or why it died. */
  reason: z.string().optional(),
  updatedAt: z.number(),
});
export type ActorRecord = z.infer<typeof ActorRecordSchema>;

/** One placement group. */
export const PlacementGroupRecordSchema = z.object({
  id: z.string().regex(KEY_PATTERN),
  name: z.string().optional(),
  strategy: z.enum(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD']),
  bundles: z.array(resourceMap),
  /** Node-label selector of the bundles. */
  labels: z.record(z.string(), z.string()).optional(),
  state: z.enum(['pending', 'created', 'removed']),
  bundleNodes: z.array(z.string()).optional(),
  bundleGpuIds: z.array(z.array(z.number().int())).optional(),
  reason: z.string().optional(),
  updatedAt: z.number(),
});
export type PlacementGroupRecord = z.infer<typeof PlacementGroupRecordSchema>;

/** Facts about the head itself (where it listens), under key `head` of the meta bucket. */
export const HeadRecordSchema = z.object({
  natsUrl: z.string(),
  grpcAddress: z.string().optional(),
  pid: z.number().int(),
  hostname: z.string(),
  startedAt: z.number(),
  /** Increments each time a head starts on this cluster state. */
  epoch: z.number().int().min(1),
});
export type HeadRecord = z.infer<typeof HeadRecordSchema>;

/** A value with the KV revision it was read at (for compare-and-set updates). */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/** Raised when a stored value does not match its schema (written by an incompatible version, or corrupted). */
export class StateCorruptError extends Error {
  override readonly name = 'StateCorruptError';
}

/** Raised by a compare-and-set update whose revision is stale. */
export class StaleRevisionError extends Error {
  override readonly name = 'StaleRevisionError';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A zod-validated table over one JetStream KV bucket. */
export class TypedTable<S extends z.ZodType> {
  constructor(
    readonly kv: KV,
    readonly table: string,
    private readonly schema: S,
  ) {}

  private key(id: string): string {
    if (!KEY_PATTERN.test(id)) throw new Error(`${this.table}: id "${id}" cannot be a key; use letters, digits, "-", "_", "." or "=" only`);
    return id;
  }

  private check(value: unknown, what: string, writing = false): z.output<S> {
    const r = this.schema.safeParse(value);
    if (!r.success) {
      const first = r.error.issues[0];
      const msg = `${this.table}/${what}: invalid record at ${first.path.join('.') || '(top)'}: ${first.message}`;
      throw writing ? new Error(`${msg}; nothing was written`) : new StateCorruptError(`${msg} (stored by an incompatible version? delete the key or the bucket)`);
    }
    return r.data;
  }

  private encode(id: string, value: z.input<S>): Uint8Array {
    const v = this.check(value, id, true) as { id?: string };
    if (v.id !== undefined && v.id !== id) throw new Error(`${this.table}: record id "${v.id}" does not match key "${id}"`);
    return enc.encode(JSON.stringify(v));
  }

  /** Reads one record, or undefined when absent or deleted. */
  async get(id: string): Promise<Versioned<z.output<S>> | undefined> {
    const e = await this.kv.get(this.key(id));
    if (!e || e.operation !== 'PUT') return undefined;
    return { value: this.check(JSON.parse(dec.decode(e.value)), id), revision: e.revision };
  }

  /** Writes one record unconditionally; returns the new revision. */
  async put(id: string, value: z.input<S>): Promise<number> {
    return this.kv.put(this.key(id), this.encode(id, value));
  }

  /** Writes a record that must not exist yet. */
  async create(id: string, value: z.input<S>): Promise<number> {
    try {
      return await this.kv.create(this.key(id), this.encode(id, value));
    } catch (err) {
      if (/wrong last sequence|exists/i.test((err as Error).message)) throw new StaleRevisionError(`${this.table}/${id} already exists`);
      throw err;
    }
  }

  /** Compare-and-set: writes only if the record is still at `revision`. */
  async update(id: string, value: z.input<S>, revision: number): Promise<number> {
    try {
      return await this.kv.update(this.key(id), this.encode(id, value), revision);
    } catch (err) {
      if (/wrong last sequence/i.test((err as Error).message)) throw new StaleRevisionError(`${this.table}/${id} changed since revision ${revision}; re-read and retry`);
      throw err;
    }
  }

  /** Read-modify-write with retries on concurrent change. `fn` returns the new value, or undefined to leave it. */
  async modify(id: string, fn: (current: z.output<S> | undefined) => z.input<S> | undefined, attempts = 10): Promise<z.output<S> | undefined> {
    for (let i = 0; i < attempts; i++) {
      const cur = await this.get(id);
      const next = fn(cur?.value);
      if (next === undefined) return cur?.value;
      try {
        if (cur) await this.update(id, next, cur.revision);
        else await this.create(id, next);
        return this.check(next, id);
      } catch (err) {
        if (!(err instanceof StaleRevisionError)) throw err;
      }
    }
    throw new StaleRevisionError(`${this.table}/${id}: gave up after ${attempts} concurrent changes`);
  }

  async delete(id: string): Promise<void> {
    await this.kv.delete(this.key(id));
  }

  /** Every live record, keyed by id. */
  async list(): Promise<Map<string, Versioned<z.output<S>>>> {
    const out = new Map<string, Versioned<z.output<S>>>();
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    for (const k of keys) {
      const v = await this.get(k);
      if (v) out.set(k, v);
    }
    return out;
  }

  /**
   * Calls `onChange` for every update after the current state (and, with
   * `initial: true`, first for every existing record). `value` is undefined
   * for a deletion. Returns a function that stops watching.
   */
  async watch(onChange: (id: string, value: z.output<S> | undefined, revision: number) => void, initial = false): Promise<() => void> {
    const it = await this.kv.watch({ include: initial ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const e of it) {
        if (e.operation !== 'PUT') onChange(e.key, undefined, e.revision);
        else {
          try {
            onChange(e.key, this.check(JSON.parse(dec.decode(e.value)), e.key), e.revision);
          } catch {
            /* a corrupt record is reported by get/list; the watcher skips it */
          }
        }
      }
    })();
    return () => it.stop();
  }
}

/** Options for {@link ClusterStateStore.open}. */
export interface StateStoreOptions {
  /** Cluster name; buckets are `cohort_<cluster>_<table>`. */
  cluster: string;
  /** JetStream replicas (1 on a single server). */
  replicas?: number;
  /** `file` (default, survives a server restart) or `memory`. */
  storage?: 'file' | 'memory';
}

/**
 * The cluster's durable state in JetStream KV: the node table, the actor
 * directory, placement groups and head metadata. A restarted head (or a
 * restarted nats-server with its store dir) reads it all back.
 */
export class ClusterStateStore {
  private constructor(
    readonly nodes: TypedTable<typeof NodeRecordSchema>,
    readonly actors: TypedTable<typeof ActorRecordSchema>,
    readonly placementGroups: TypedTable<typeof PlacementGroupRecordSchema>,
    readonly meta: TypedTable<typeof HeadRecordSchema>,
  ) {}

  /** Opens (creating when missing) the cluster's buckets. */
  static async open(nc: NatsConnection, o: StateStoreOptions): Promise<ClusterStateStore> {
    if (!/^[A-Za-z0-9_-]+$/.test(o.cluster)) throw new Error(`cluster name "${o.cluster}" must use letters, digits, "-" or "_" only`);
    const kvm = new Kvm(nc);
    const bucket = async (table: string) =>
      kvm.create(`cohort_${o.cluster}_${table}`, { history: 1, replicas: o.replicas ?? 1, storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File });
    const [n, a, p, m] = await Promise.all([bucket('nodes'), bucket('actors'), bucket('pgs'), bucket('meta')]);
    return new ClusterStateStore(
      new TypedTable(n, 'nodes', NodeRecordSchema),
      new TypedTable(a, 'actors', ActorRecordSchema),
      new TypedTable(p, 'placement-groups', PlacementGroupRecordSchema),
      new TypedTable(m, 'meta', HeadRecordSchema),
    );
  }
}
