import type { Frame } from '@cohort/protos';
import { FrameFlags } from '@cohort/protos';
import type { Logger } from 'pino';
import { ActorCaller } from './actor-caller.js';
import type { ActorClass } from './actor-class.js';
import type { ActorHandle } from './actor-handle.js';
import { CallRef, type AnyCallRef } from './call-ref.js';
import { decodeValue, encodeValue, TO_WIRE, type Encoded, type WireDescriptor } from './codec.js';
import type { ActorEvent, ActorInfo, ControlPlane } from './control-plane.js';
import { ActorNotFoundError, CohortError, GetTimeoutError, InvalidOptionsError, RuntimeClosedError } from './errors.js';
import { ObjectRef } from './object-ref.js';
import { resolveActorOptions, type ActorOptions, type ResolvedRuntimeConfig } from './options.js';
import type { NodeUsage, PendingEntry, PlacementGroupState, PlacementStrategy, ResourceMap } from './scheduler/index.js';
import { Endpoint, type EndpointExtras } from './transport/endpoint.js';

/** A placement group: a gang reservation of resource bundles. */
export class PlacementGroup {
  constructor(
    private readonly rt: Runtime,
    /** Placement group id (pass it, or this object, as `placementGroup` in spawn options). */
    readonly id: string,
    readonly bundles: ResourceMap[],
    readonly strategy: PlacementStrategy,
  ) {}

  /** Resolves once every bundle is reserved (atomically). */
  ready(): Promise<PlacementGroupState> {
    return this.rt.cp.waitPlacementGroup(this.id);
  }

  /** Frees the bundles and kills the actors placed in the group. */
  remove(): Promise<void> {
    return this.rt.cp.removePlacementGroup(this.id);
  }
}

export interface RuntimeParts {
  config: ResolvedRuntimeConfig;
  logger: Logger;
  /** `driver` or the actor id of the worker process. */
  ownerId: string;
  /** Builds the control plane once the endpoint exists. */
  controlPlane(endpoint: Endpoint): ControlPlane;
  /** Extra teardown (the driver kills its workers). */
  onShutdown?: () => Promise<void>;
  /** Lifecycle event source (the driver's local control plane). */
  subscribe?: (fn: (e: ActorEvent) => void) => () => void;
  /** Security and addressing hooks for the data plane (interceptors, credentials, bulk token, advertised host). */
  endpoint?: EndpointExtras;
}

interface StoredObject {
  value?: unknown;
  promise?: Promise<unknown>;
  /** Large binary copies made by put(), lent by the endpoint's buffer pool. */
  buffers?: ArrayBuffer[];
  /** Handed out (a local get, or sent to another process): its buffers may still be in use and are never recycled. */
  shared?: boolean;
}

/** Binary values at least this big are copied into pooled memory by put() (reused after free()). */
const POOLED_COPY_BYTES = 64 * 1024;

/**
 * The driver API, the same in the driver and inside actors: spawn and look up
 * actors, put/get/wait objects, placement groups.
 */
export class Runtime {
  readonly endpoint: Endpoint;
  readonly cp: ControlPlane;
  readonly logger: Logger;
  readonly ownerId: string;
  private readonly callers = new Map<string, ActorCaller>();
  private readonly handles = new Map<string, unknown>();
  private readonly store = new Map<string, StoredObject>();
  private seq = 0;
  private closed = false;
  private readonly hooks = { revive: (d: WireDescriptor) => this.revive(d) };

  private constructor(
    private readonly parts: RuntimeParts,
    endpoint: Endpoint,
  ) {
    this.endpoint = endpoint;
    this.logger = parts.logger;
    this.ownerId = parts.ownerId;
    this.cp = parts.controlPlane(endpoint);
    endpoint.handle('obj.get', (id) => this.localGet(String(id)));
    // Lifecycle events of the actors this process owns, pushed by the control plane.
    endpoint.onNotify('actor-event', (e) => {
      for (const l of this.eventListeners) l(e as ActorEvent);
    });
  }

  private readonly eventListeners: Array<(e: ActorEvent) => void> = [];

  /** Starts the data plane and wires the control plane. */
  static async start(parts: RuntimeParts): Promise<Runtime> {
    let rt: Runtime | undefined;
    const endpoint = await Endpoint.start({
      ...parts.endpoint,
      logger: parts.logger,
      host: parts.config.host,
      port: parts.config.port,
      // a batch holds frames of at most maxMessageBytes each (senders split bigger ones)
      maxBatchBytes: parts.config.maxMessageBytes + (1 << 20),
      bulkLimits: { maxBulkBytes: parts.config.maxBulkBytes },
      codec: {
        encode: (v, what) => rt!.encode(v, what),
        decode: (p, s, b) => decodeValue(p, s, b, rt!.hooks),
      },
    });
    rt = new Runtime(parts, endpoint);
    return rt;
  }

  /** Data-plane address of this process. */
  get address(): string {
    return this.endpoint.address;
  }

  /** @internal */
  encode(value: unknown, what: string): Encoded {
    return encodeValue(value, { bulkThreshold: this.parts.config.bulkThresholdBytes, maxBytes: this.parts.config.maxMessageBytes, maxBulkBytes: this.parts.config.maxBulkBytes, what });
  }

  /** @internal */
  decode(frame: Frame, bulk: Uint8Array[]): unknown {
    return decodeValue(frame.payload, (frame.flags & FrameFlags.Special) !== 0, bulk, this.hooks);
  }

  private revive(d: WireDescriptor): unknown {
    if (d.t === 'r') return new ObjectRef(d.id, d.owner);
    return this.handleFor(d.id, d.name, d.cls ?? 'Actor', d.retries ?? 0);
  }

  private check(): void {
    if (this.closed) throw new RuntimeClosedError('the runtime is shut down; call init() again');
  }

  /** @internal A handle for an actor id (cached: one caller per actor per process keeps call order). */
  handleFor<T>(id: string, name: string | undefined, className: string, maxTaskRetries: number): ActorHandle<T> {
    const h = this.handles.get(id);
    if (h) return h as ActorHandle<T>;
    const caller = new ActorCaller(this, id, name, className, maxTaskRetries);
    this.callers.set(id, caller);
    const handle = makeHandle<T>(this, caller);
    this.handles.set(id, handle);
    return handle;
  }

  /**
   * Spawns an actor in its own worker process. Resolves once the control plane
   * accepted it (scheduled or pending); calls made before it is alive wait.
   * Throws InvalidOptionsError for bad options and InfeasibleError for
   * resources the machine can never provide.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async spawn<C extends abstract new (...args: any[]) => any>(cls: ActorClass<C>, args: ConstructorParameters<C>, options: ActorOptions = {}): Promise<ActorHandle<InstanceType<C>>> {
    this.check();
    if (!cls || typeof cls.module !== 'string' || typeof cls.className !== 'string') {
      throw new InvalidOptionsError('spawn needs an ActorClass: actorClass<typeof MyActor>(import.meta.url, "MyActor") exported from the actor module');
    }
    if (!Array.isArray(args)) throw new InvalidOptionsError(`constructor arguments of ${cls.className} must be an array (use [] for none)`);
    const opts = resolveActorOptions(options, `options for ${cls.className}`);
    // Serialize once here so unserializable arguments fail in the caller with a clear message.
    this.encode(args, `constructor arguments of ${cls.className}`);
    const info = await this.cp.createActor({ module: cls.module, className: cls.className, args, options: opts, owner: this.ownerId });
    return this.handleFor(info.id, info.name, info.className, info.maxTaskRetries);
  }

  /** The handle of a named actor; throws ActorNotFoundError when there is none. */
  async getActor<T = unknown>(name: string): Promise<ActorHandle<T>> {
    this.check();
    const info = await this.cp.getActor({ name });
    if (!info || info.state === 'dead') throw new ActorNotFoundError(`no live actor named "${name}" (spawn it with options.name, or check listActors())`);
    return this.handleFor<T>(info.id, info.name, info.className, info.maxTaskRetries);
  }

  /** Every actor the control plane knows, dead ones included. */
  listActors(): Promise<ActorInfo[]> {
    return this.cp.listActors();
  }

  /** Actors and placement groups waiting for resources, with the reason. */
  pending(): Promise<PendingEntry[]> {
    return this.cp.pending();
  }

  /** The live nodes (id, labels, total and used resources): one in local mode, the cluster's agents with `connect()`. */
  nodes(): Promise<NodeUsage[]> {
    return this.cp.listNodes();
  }

  /**
   * Stores a value in this process and returns its ref. Binary data is copied
   * (later changes to it do not show): large arrays into pooled memory, so a
   * put after a free() of one nobody fetched costs one memory copy.
   */
  put<T>(value: T): ObjectRef<T> {
    this.check();
    const id = `o${++this.seq}`;
    const buffers: ArrayBuffer[] = [];
    const copy = (len: number) => {
      if (len < POOLED_COPY_BYTES) return new ArrayBuffer(len);
      const view = this.endpoint.bulkPool.acquire(len);
      buffers.push(view.buffer as ArrayBuffer);
      return view.buffer as ArrayBuffer;
    };
    this.store.set(id, { value: snapshot(value, 0, copy), buffers: buffers.length ? buffers : undefined });
    return new ObjectRef<T>(id, this.address);
  }

  /** Drops a stored object of this process; the memory of one never handed out is reused by later puts and bulk reads. */
  free(ref: ObjectRef<unknown>): void {
    if (ref.owner !== this.address) return;
    const o = this.store.get(ref.id);
    this.store.delete(ref.id);
    if (o?.buffers && !o.shared) for (const b of o.buffers) this.endpoint.bulkPool.release(new Uint8Array(b));
  }

  /**
   * Gives back a binary array the runtime received for you (an argument or
   * result that came over the bulk path): later attachments of that size are
   * read into its memory instead of fresh pages (which cost more than the
   * copy for large transfers). Do not touch the array, or any view of its
   * buffer, afterwards. Returns false (and does nothing) for other arrays.
   */
  release(view: ArrayBufferView): boolean {
    return this.endpoint.bulkPool.release(view);
  }

  /** @internal Makes a call's future value fetchable by other processes. */
  publish(call: AnyCallRef): string {
    const id = `c${++this.seq}`;
    this.store.set(id, { promise: Promise.resolve().then(() => call) });
    return id;
  }

  private async localGet(id: string): Promise<unknown> {
    const o = this.store.get(id);
    if (!o) throw new CohortError(`object ${id} is not stored at ${this.address} (freed, or its owner restarted)`);
    o.shared = true;
    return o.promise ? o.promise : o.value;
  }

  /** The value of a ref (or of each ref of an array). Refs from calls resolve when the call does. */
  get<T>(ref: ObjectRef<T>, opts?: { timeoutMs?: number }): Promise<T>;
  get<T extends readonly ObjectRef<unknown>[]>(refs: T, opts?: { timeoutMs?: number }): Promise<{ [I in keyof T]: T[I] extends ObjectRef<infer V> ? V : never }>;
  async get(refOrRefs: ObjectRef<unknown> | readonly ObjectRef<unknown>[], opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const p = Array.isArray(refOrRefs) ? Promise.all(refOrRefs.map((r) => this.getOne(r))) : this.getOne(refOrRefs as ObjectRef<unknown>);
    if (opts.timeoutMs === undefined) return p;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GetTimeoutError(`get() timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private getOne(ref: ObjectRef<unknown>): Promise<unknown> {
    if (ref instanceof CallRef) return Promise.resolve(ref);
    if (!(ref instanceof ObjectRef)) return Promise.reject(new InvalidOptionsError(`get() takes ObjectRefs; got ${typeof ref}`));
    if (ref.owner === this.address) return this.localGet(ref.id);
    return this.endpoint.request(ref.owner, 'obj.get', ref.id);
  }

  /**
   * Waits until `numReturns` of the refs are ready (value or error) or the
   * timeout passes; returns them split, each list in the given order.
   */
  async wait<R extends ObjectRef<unknown>>(refs: R[], opts: { numReturns?: number; timeoutMs?: number } = {}): Promise<{ ready: R[]; notReady: R[] }> {
    const want = opts.numReturns ?? 1;
    if (!Number.isInteger(want) || want < 0 || want > refs.length) {
      throw new InvalidOptionsError(`wait(): numReturns must be an integer between 0 and the number of refs (${refs.length}); got ${want}`);
    }
    const done = new Set<R>();
    await new Promise<void>((resolve) => {
      if (done.size >= want) return resolve();
      const timer = opts.timeoutMs !== undefined ? setTimeout(resolve, opts.timeoutMs) : undefined;
      for (const r of refs) {
        const mark = () => {
          done.add(r);
          if (done.size >= want) {
            clearTimeout(timer);
            resolve();
          }
        };
        this.getOne(r).then(mark, mark);
      }
    });
    return { ready: refs.filter((r) => done.has(r)), notReady: refs.filter((r) => !done.has(r)) };
  }

  /** Reserves bundles of resources atomically (gang scheduling). `ready()` resolves once they are all reserved. */
  async createPlacementGroup(spec: { bundles: ResourceMap[]; strategy?: PlacementStrategy; name?: string; labels?: Record<string, string> }): Promise<PlacementGroup> {
    this.check();
    const st = await this.cp.createPlacementGroup({ bundles: spec?.bundles, strategy: spec?.strategy ?? 'PACK', name: spec?.name, ...(spec?.labels ? { labels: spec.labels } : {}) });
    return new PlacementGroup(this, st.id, st.bundles, st.strategy);
  }

  /**
   * Lifecycle events (alive, restarting, died with the cause). In the driver:
   * every actor's; inside an actor: those of the actors it owns.
   */
  onActorEvent(fn: (e: ActorEvent) => void): () => void {
    if (this.parts.subscribe) return this.parts.subscribe(fn);
    this.eventListeners.push(fn);
    return () => {
      const i = this.eventListeners.indexOf(fn);
      if (i >= 0) this.eventListeners.splice(i, 1);
    };
  }

  /** Ends every actor this runtime started and closes the data plane. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.parts.onShutdown?.();
    await this.endpoint.close();
  }
}

/** Copies binary data and containers so later changes by the caller do not show; handles, refs and other values are kept. */
/** A copy of `v` whose binary parts live in memory from `alloc` (one memcpy each), so later changes to `v` do not show. */
function snapshot(v: unknown, depth: number, alloc: (len: number) => ArrayBuffer): unknown {
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
    const src = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const ab = alloc(src.byteLength);
    new Uint8Array(ab).set(src);
    if (v instanceof ArrayBuffer) return ab;
    if (Buffer.isBuffer(v)) return Buffer.from(ab, 0, src.byteLength);
    if (v instanceof DataView) return new DataView(ab);
    const Ctor = v.constructor as new (b: ArrayBuffer) => unknown;
    return new Ctor(ab);
  }
  if (Array.isArray(v)) return v.map((x) => snapshot(x, depth + 1, alloc));
  const p = Object.getPrototypeOf(v);
  if (p === Object.prototype || p === null) {
    const out: Record<string, unknown> = {};
    for (const k in v as Record<string, unknown>) out[k] = snapshot((v as Record<string, unknown>)[k], depth + 1, alloc);
    return out;
  }
  if (v instanceof Map || v instanceof Set || v instanceof Date) {
    try {
      return structuredClone(v);
    } catch {
      return v;
    }
  }
  return v;
}

const HANDLE_PROPS = new Set(['$id', '$name', '$ready', '$kill', '$tell', '$info']);

function makeHandle<T>(rt: Runtime, caller: ActorCaller): ActorHandle<T> {
  const methods = new Map<string, (...args: unknown[]) => AnyCallRef>();
  const controls: Record<string | symbol, unknown> = {
    $id: caller.actorId,
    $name: caller.name,
    $ready: () => caller.ready(),
    $kill: (opts?: { noRestart?: boolean }) => rt.cp.killActor(caller.actorId, opts?.noRestart ?? true),
    $tell: (method: string, ...args: unknown[]) => caller.submit(new CallRef(caller, method, args), true),
    $info: () => rt.cp.getActor({ id: caller.actorId }),
    [TO_WIRE]: (): WireDescriptor => ({ t: 'h', id: caller.actorId, name: caller.name, cls: caller.className, retries: caller.maxTaskRetries }),
    [Symbol.for('nodejs.util.inspect.custom')]: () => `ActorHandle(${caller.name ?? caller.actorId})`,
  };
  return new Proxy(controls, {
    get(target, prop) {
      if (typeof prop === 'symbol') return target[prop];
      if (HANDLE_PROPS.has(prop)) return target[prop];
      if (prop === 'then' || prop === 'toJSON' || prop === 'constructor') return undefined;
      let fn = methods.get(prop);
      if (!fn) {
        fn = (...args: unknown[]) => {
          const call = new CallRef(caller, prop, args);
          caller.submit(call, false);
          return call;
        };
        methods.set(prop, fn);
      }
      return fn;
    },
    has(target, prop) {
      return prop in target;
    },
  }) as unknown as ActorHandle<T>;
}
