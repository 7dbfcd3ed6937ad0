import type { ActorHandle } from '../actor-handle.js';
import type { Endpoint } from '../transport/endpoint.js';
import { CollectiveError, CollectiveMismatchError, CollectivePeerError } from './errors.js';
import { flatten, signatureDigest, type ReduceInput } from './flatten.js';
import { messageKey, type CollectiveMessage, type Mailbox } from './mailbox.js';
import { ownedRange, ringAllgather, ringAllreduce, ringReduceScatter, type ReduceOp } from './ring-allreduce.js';

/** One member of a group as every member sees it. */
export interface CollectivePeer {
  rank: number;
  actorId: string;
  name?: string;
  /** Data-plane address of its worker. */
  address: string;
  nodeId?: string;
}

/** What the driver sends each member when it forms a group. */
export interface JoinMessage {
  name: string;
  /** Group instance id (new per createCollectiveGroup). */
  id: string;
  rank: number;
  world: number;
  peers: CollectivePeer[];
  /** Handles of the members, by rank. */
  members: ActorHandle<unknown>[];
  timeoutMs: number;
}

/** Per-operation options. */
export interface CollectiveOpOptions {
  /** How long to wait for a peer's part (default: the group's timeoutMs). */
  timeoutMs?: number;
}

/** Options of an allreduce. */
export interface AllreduceOptions extends CollectiveOpOptions {
  /**
   * Reduce into the given Float32Array itself and return it (no copy, no new
   * buffer: worth it for large arrays reduced again and again). Only for a
   * single Float32Array input.
   */
  inPlace?: boolean;
}

/** What the last operation of a member moved. */
export interface CollectiveOpStats {
  op: string;
  /** Bytes of the operation's data (an allreduce: the flat array's size). */
  bytes: number;
  /** Bytes this member sent. */
  sentBytes: number;
  ms: number;
}

const byteSize = (v: unknown): number => (ArrayBuffer.isView(v) ? v.byteLength : 0);

/**
 * A collective group as one member uses it: rank, world size, peers, and the
 * operations (allreduce, reduceScatter, allgatherChunks, broadcast, allgather, gather, barrier). Every member must
 * call the same operations in the same order; a failed operation breaks the
 * group (re-create it from the driver).
 */
export class CollectiveGroup {
  readonly name: string;
  readonly id: string;
  readonly rank: number;
  readonly world: number;
  readonly peers: readonly CollectivePeer[];
  /** The members' actor handles, by rank. */
  readonly members: readonly ActorHandle<unknown>[];
  readonly timeoutMs: number;
  /** What the last completed operation moved and how long it took. */
  lastOp: CollectiveOpStats | undefined;
  private seq = 0;
  private broken: Error | undefined;
  private sent = 0;

  constructor(
    private readonly ep: Endpoint,
    private readonly mailbox: Mailbox,
    join: JoinMessage,
  ) {
    this.name = join.name;
    this.id = join.id;
    this.rank = join.rank;
    this.world = join.world;
    this.peers = join.peers;
    this.members = join.members;
    this.timeoutMs = join.timeoutMs;
  }

  private get next(): number {
    return (this.rank + 1) % this.world;
  }

  private get prev(): number {
    return (this.rank - 1 + this.world) % this.world;
  }

  private peerName(rank: number): string {
    const p = this.peers[rank];
    return `rank ${rank} (${p.name ?? p.actorId} at ${p.address})`;
  }

  private async send(to: number, seq: number, step: number, op: string, sig: string, data: unknown): Promise<void> {
    const msg: CollectiveMessage = { g: this.id, seq, step, from: this.rank, to, op, sig, data };
    this.sent += byteSize(data);
    try {
      await this.ep.request(this.peers[to].address, 'coll.send', msg);
    } catch (err) {
      throw new CollectivePeerError(`${op} #${seq} of group "${this.name}": sending to ${this.peerName(to)} failed: ${(err as Error).message}; the peer likely died`);
    }
  }

  private async receive(from: number, seq: number, step: number, op: string, sig: string, timeoutMs: number, ownSignature?: string): Promise<unknown> {
    const what = () => `${op} #${seq} of group "${this.name}" (rank ${this.rank}, step ${step}): waiting for ${this.peerName(from)}`;
    const m = await this.mailbox.take(messageKey(this.id, seq, step, from, this.rank), timeoutMs, this.peers[from].address, what);
    if (m.op !== op) {
      throw new CollectiveMismatchError(`group "${this.name}" operation #${seq}: ${this.peerName(from)} called ${m.op} while rank ${this.rank} called ${op}; every member must call the same collectives in the same order`);
    }
    if (m.sig !== sig) {
      const mine = ownSignature ? ` (rank ${this.rank} has ${ownSignature.length > 200 ? `${ownSignature.slice(0, 200)}...` : ownSignature})` : '';
      throw new CollectiveMismatchError(`group "${this.name}" ${op} #${seq}: ${this.peerName(from)} passed data of other names, sizes or options (signature ${m.sig}, this rank ${sig})${mine}; every member must pass the same tensor names and sizes`);
    }
    return m.data;
  }

  private async run<T>(op: string, bytes: number, fn: (seq: number) => Promise<T>): Promise<T> {
    if (this.broken) throw new CollectiveError(`group "${this.name}" is broken by an earlier failure (${this.broken.message}); re-create it with createCollectiveGroup`);
    const seq = this.seq++;
    const t0 = performance.now();
    const sent0 = this.sent;
    try {
      const out = await fn(seq);
      this.lastOp = { op, bytes, sentBytes: this.sent - sent0, ms: performance.now() - t0 };
      return out;
    } catch (err) {
      this.broken = err as Error;
      throw err;
    }
  }

  /**
   * Sum or mean of every member's arrays, elementwise (a ring: reduce-scatter
   * then allgather). Takes one Float32Array or named Float32Arrays (a Map or an
   * object; every member must pass the same names and sizes) and returns new
   * arrays of the same shape; the inputs are not changed (unless `inPlace`).
   * Every member gets bit-identical results.
   */
  allreduce(input: Float32Array, op?: ReduceOp, opts?: AllreduceOptions): Promise<Float32Array>;
  allreduce(input: Map<string, Float32Array>, op?: ReduceOp, opts?: CollectiveOpOptions): Promise<Map<string, Float32Array>>;
  allreduce(input: Record<string, Float32Array>, op?: ReduceOp, opts?: CollectiveOpOptions): Promise<Record<string, Float32Array>>;
  allreduce(input: ReduceInput, op: ReduceOp = 'sum', opts: AllreduceOptions = {}): Promise<ReduceInput> {
    if (op !== 'sum' && op !== 'mean') return Promise.reject(new CollectiveError(`allreduce: op must be "sum" or "mean", got ${JSON.stringify(op)}`));
    if (opts.inPlace && !(input instanceof Float32Array)) return Promise.reject(new CollectiveError('allreduce: inPlace needs a single Float32Array input'));
    const f = opts.inPlace ? { flat: input as Float32Array, signature: `flat:${(input as Float32Array).length}`, unflatten: (x: Float32Array) => x } : flatten(input);
    const sig = `${signatureDigest(f.signature)}/${op}`;
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    return this.run('allreduce', f.flat.byteLength, async (seq) => {
      const out = await ringAllreduce(
        f.flat,
        this.rank,
        this.world,
        op,
        this.ringExchange(seq, 'allreduce', sig, timeout, f.signature),
        // Received chunks are done with once added or copied in: their receive buffers go back to the bulk pool.
        (got) => this.ep.bulkPool.release(got),
      );
      return f.unflatten(out);
    });
  }

  /**
   * This member's share of a flat array of `length` elements in {@link reduceScatter} and
   * {@link allgatherChunks}: [start, end) of chunk (rank + 1) mod world of `chunkBounds(length, world)`
   * (the chunk a ring reduce-scatter completes on this rank; chunks differ by at most one element).
   */
  shardRange(length: number): [number, number] {
    return ownedRange(length, this.rank, this.world);
  }

  /**
   * Reduce-scatter: the sum (or mean) over every member of `data`, of which this member gets
   * only its {@link shardRange}. Every member passes an array of the same length; `data` is used
   * as the work buffer (changed in place) and the returned chunk is a view into it. The owned
   * values are bit-identical to the same range of an {@link allreduce} of the same inputs (the
   * same ring, stopped before its allgather), with (W-1)/W of the data sent by each member.
   */
  reduceScatter(data: Float32Array, op: ReduceOp = 'sum', opts: CollectiveOpOptions = {}): Promise<Float32Array> {
    if (op !== 'sum' && op !== 'mean') return Promise.reject(new CollectiveError(`reduceScatter: op must be "sum" or "mean", got ${JSON.stringify(op)}`));
    if (!(data instanceof Float32Array)) return Promise.reject(new CollectiveError('reduceScatter: data must be a Float32Array'));
    const sig = `${signatureDigest(`flat:${data.length}`)}/${op}`;
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    return this.run('reducescatter', data.byteLength, (seq) =>
      ringReduceScatter(data, this.rank, this.world, op, this.ringExchange(seq, 'reducescatter', sig, timeout, `flat:${data.length}`), (got) => this.ep.bulkPool.release(got)),
    );
  }

  /**
   * Allgather of shards in place: each member's {@link shardRange} of `data` (the values it
   * owns, e.g. the parameters it updated) is copied bit for bit into `data` on every other
   * member. Every member passes an array of the same length; returns `data`.
   */
  allgatherChunks(data: Float32Array, opts: CollectiveOpOptions = {}): Promise<Float32Array> {
    if (!(data instanceof Float32Array)) return Promise.reject(new CollectiveError('allgatherChunks: data must be a Float32Array'));
    const sig = signatureDigest(`flat:${data.length}`);
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    return this.run('allgatherchunks', data.byteLength, (seq) =>
      ringAllgather(data, this.rank, this.world, this.ringExchange(seq, 'allgatherchunks', sig, timeout, `flat:${data.length}`), (got) => this.ep.bulkPool.release(got)),
    );
  }

  /** One ring step of `op` #`seq`: send to the next rank, receive from the previous one. */
  private ringExchange(seq: number, op: string, sig: string, timeout: number, signature: string) {
    return async (step: number, chunk: Float32Array): Promise<Float32Array> => {
      const [, got] = await Promise.all([this.send(this.next, seq, step, op, sig, chunk), this.receive(this.prev, seq, step, op, sig, timeout, signature)]);
      if (!(got instanceof Float32Array)) throw new CollectiveMismatchError(`${op} #${seq} of group "${this.name}": ${this.peerName(this.prev)} sent ${typeof got}, not a Float32Array`);
      return got;
    };
  }

  /** Every member's value at `root`, by rank (undefined on the other members): each sends its value straight to the root. */
  async gather<T>(value: T, root = 0, opts: CollectiveOpOptions = {}): Promise<T[] | undefined> {
    this.checkRank(root, 'gather root');
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    const sig = `root:${root}`;
    return this.run('gather', byteSize(value), async (seq) => {
      if (this.rank !== root) {
        await this.send(root, seq, 0, 'gather', sig, value);
        return undefined;
      }
      const out = new Array<T>(this.world);
      out[root] = value;
      await Promise.all(this.peers.filter((p) => p.rank !== root).map(async (p) => (out[p.rank] = (await this.receive(p.rank, seq, 0, 'gather', sig, timeout)) as T)));
      return out;
    });
  }

  /** `root`'s value on every member (the others pass anything, e.g. undefined). */
  async broadcast<T>(value: T, root = 0, opts: CollectiveOpOptions = {}): Promise<T> {
    this.checkRank(root, 'broadcast root');
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    const sig = `root:${root}`;
    return this.run('broadcast', this.rank === root ? byteSize(value) : 0, async (seq) => {
      if (this.rank === root) {
        await Promise.all(this.peers.filter((p) => p.rank !== root).map((p) => this.send(p.rank, seq, 0, 'broadcast', sig, value)));
        return value;
      }
      return (await this.receive(root, seq, 0, 'broadcast', sig, timeout)) as T;
    });
  }

  /** Every member's value, by rank (passed around the ring). */
  allgather<T>(value: T, opts: CollectiveOpOptions = {}): Promise<T[]> {
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    return this.run('allgather', byteSize(value), async (seq) => {
      const out = new Array<T>(this.world);
      out[this.rank] = value;
      for (let s = 0; s < this.world - 1; s++) {
        const sendRank = (this.rank - s + this.world) % this.world;
        const [, got] = await Promise.all([this.send(this.next, seq, s, 'allgather', '', out[sendRank]), this.receive(this.prev, seq, s, 'allgather', '', timeout)]);
        out[(this.rank - s - 1 + this.world) % this.world] = got as T;
      }
      return out;
    });
  }

  /** Resolves once every member has reached the barrier. */
  async barrier(opts: CollectiveOpOptions = {}): Promise<void> {
    const ranks = await this.allgather(this.rank, opts);
    if (ranks.some((r, i) => r !== i)) throw new CollectiveMismatchError(`barrier of group "${this.name}": members disagree on ranks (${ranks.join(',')})`);
  }

  private checkRank(r: number, what: string): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.world) throw new CollectiveError(`${what} must be a rank 0..${this.world - 1} of group "${this.name}", got ${r}`);
  }
}
