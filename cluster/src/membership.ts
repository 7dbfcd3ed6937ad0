import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import { childLogger } from './log.js';
import { KEY_PATTERN } from './state-store.js';

/** Default heartbeat interval. */
export const DEFAULT_HEARTBEAT_MS = 1000;
/** Default silence after which a node is declared dead (detection ≤ 10 s as required). */
export const DEFAULT_NODE_TIMEOUT_MS = 5000;

/** What a node says about itself in every heartbeat (so a restarted head learns the node table from heartbeats alone). */
// bounded: an announcement is stored in KV and kept in every head's memory
const fewKeys = (max: number) => (r: Record<string, unknown>) => Object.keys(r).length <= max;
export const NodeAnnouncementSchema = z.object({
  nodeId: z.string().max(128).regex(KEY_PATTERN),
  resources: z.record(z.string().max(64), z.number().min(0).max(1e18)).refine(fewKeys(64), 'at most 64 resources'),
  labels: z.record(z.string().max(64), z.string().max(256)).refine(fewKeys(64), 'at most 64 labels').default({}),
  address: z.string().max(300).optional(),
  hostname: z.string().max(255).optional(),
  pid: z.number().int().optional(),
  nodeType: z.string().max(64).optional(),
});
export type NodeAnnouncement = z.infer<typeof NodeAnnouncementSchema>;

const HeartbeatSchema = NodeAnnouncementSchema.extend({ seq: z.number().int().min(0), sentAt: z.number() });
const LeaveSchema = z.object({ nodeId: z.string().max(128).regex(KEY_PATTERN), reason: z.string().max(1000).default('left') });

/** A membership change as published on `cohort.<cluster>.events.node`. */
export const NodeEventSchema = z.object({
  type: z.enum(['join', 'leave', 'dead']),
  nodeId: z.string(),
  at: z.number(),
  reason: z.string().optional(),
  node: NodeAnnouncementSchema.optional(),
});
export type NodeEvent = z.infer<typeof NodeEventSchema>;

/** NATS subjects of a cluster's membership protocol. */
export function membershipSubjects(cluster: string) {
  const p = `cohort.${cluster}`;
  return {
    heartbeat: (nodeId: string) => `${p}.node.hb.${nodeId}`,
    heartbeatAll: `${p}.node.hb.*`,
    leave: (nodeId: string) => `${p}.node.leave.${nodeId}`,
    leaveAll: `${p}.node.leave.*`,
    /** Join / leave / dead events as decided by the head's monitor. */
    events: `${p}.events.node`,
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface HeartbeatOptions {
  cluster: string;
  node: NodeAnnouncement;
  intervalMs?: number;
  logger?: Logger;
}

/**
 * The node side of membership: publishes a heartbeat (carrying the node's
 * announcement) every `intervalMs`, and a leave message on {@link stop}.
 */
export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private readonly node: NodeAnnouncement;
  private readonly subjects;
  private readonly log: Logger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: HeartbeatOptions,
  ) {
    this.node = NodeAnnouncementSchema.parse(o.node);
    this.subjects = membershipSubjects(o.cluster);
    this.log = childLogger({ component: 'heartbeat', node: this.node.nodeId }, o.logger);
  }

  /** Sends the first heartbeat now, then one every interval. */
  start(): void {
    if (this.timer) return;
    this.beat();
    this.timer = setInterval(() => this.beat(), this.o.intervalMs ?? DEFAULT_HEARTBEAT_MS);
    this.timer.unref();
  }

  private beat(): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(this.subjects.heartbeat(this.node.nodeId), enc.encode(JSON.stringify({ ...this.node, seq: this.seq++, sentAt: Date.now() })));
    } catch (err) {
      this.log.warn({ err }, 'heartbeat publish failed');
    }
  }

  /** Stops heartbeats; with `announce` (default) tells the head the node is leaving on purpose. */
  async stop(announce = true, reason = 'left'): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (announce && !this.nc.isClosed()) {
      this.nc.publish(this.subjects.leave(this.node.nodeId), enc.encode(JSON.stringify({ nodeId: this.node.nodeId, reason })));
      await this.nc.flush().catch(() => undefined);
    }
  }
}

export interface MonitorOptions {
  cluster: string;
  /** Silence after which a node is dead. Default 5 s. */
  timeoutMs?: number;
  /** How often to check for silent nodes. Default timeoutMs / 5. */
  checkMs?: number;
  /**
   * Nodes believed alive from stored state (a restarted head). They count as
   * seen at start: they are declared dead unless they heartbeat within the timeout.
   */
  known?: NodeAnnouncement[];
  /** Publish decided join/leave/dead events on the cluster's events subject (default true). */
  publishEvents?: boolean;
  logger?: Logger;
}

type Listener<A extends unknown[]> = (...args: A) => void;

interface Member {
  node: NodeAnnouncement;
  lastSeen: number;
  lastSeq: number;
}

/**
 * The head side of membership. Tracks heartbeats, decides joins, clean leaves
 * and deaths (no heartbeat for `timeoutMs`), and calls the listeners.
 *
 * While the monitor's own NATS connection is down it cannot hear anyone, so it
 * suspends death detection and, on reconnect, grants every node a fresh
 * timeout: a restarted nats-server does not kill the cluster.
 */
export class MembershipMonitor {
  private readonly members = new Map<string, Member>();
  private readonly subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private connected = true;
  private lastCheck = 0;
  private readonly joinL = new Set<Listener<[NodeAnnouncement]>>();
  private readonly leaveL = new Set<Listener<[string, string]>>();
  private readonly deadL = new Set<Listener<[string, string]>>();
  private readonly subjects;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: MonitorOptions,
  ) {
    this.subjects = membershipSubjects(o.cluster);
    this.timeoutMs = o.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
    this.log = childLogger({ component: 'membership' }, o.logger);
    const now = Date.now();
    for (const n of o.known ?? []) this.members.set(n.nodeId, { node: n, lastSeen: now, lastSeq: -1 });
  }

  /** Called when a node is first heard from (or heard again after death/leave). */
  onJoin(fn: (node: NodeAnnouncement) => void): () => void {
    this.joinL.add(fn);
    return () => this.joinL.delete(fn);
  }
  /** Called when a node leaves on purpose. */
  onLeave(fn: (nodeId: string, reason: string) => void): () => void {
    this.leaveL.add(fn);
    return () => this.leaveL.delete(fn);
  }
  /** Called when a node stops heartbeating for longer than the timeout. */
  onDead(fn: (nodeId: string, reason: string) => void): () => void {
    this.deadL.add(fn);
    return () => this.deadL.delete(fn);
  }

  /** The nodes currently considered alive. */
  alive(): NodeAnnouncement[] {
    return [...this.members.values()].map((m) => m.node);
  }

  isAlive(nodeId: string): boolean {
    return this.members.has(nodeId);
  }

  /** Subscribes and starts checking. */
  start(): void {
    if (this.timer) return;
    this.subs.push(this.nc.subscribe(this.subjects.heartbeatAll, { callback: (err, msg) => {
      if (!err) this.onHeartbeat(msg.data);
    } }));
    this.subs.push(this.nc.subscribe(this.subjects.leaveAll, { callback: (err, msg) => {
      if (!err) this.onLeaveMsg(msg.data);
    } }));
    this.lastCheck = Date.now();
    this.timer = setInterval(() => this.check(), this.o.checkMs ?? Math.max(20, Math.floor(this.timeoutMs / 5)));
    this.timer.unref();
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.connected = false;
          this.log.warn('lost the NATS connection; death detection suspended');
        } else if (s.type === 'reconnect') {
          this.connected = true;
          const now = Date.now();
          for (const m of this.members.values()) m.lastSeen = now;
          this.log.info('NATS connection back; every node gets a fresh timeout');
        }
      }
    })().catch(() => undefined);
  }

  /** Stops listening (no events after this). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  private parse<T>(schema: z.ZodType<T>, data: Uint8Array, what: string): T | undefined {
    try {
      const r = schema.safeParse(JSON.parse(dec.decode(data)));
      if (r.success) return r.data;
      this.log.warn({ issue: r.error.issues[0] }, `dropped an invalid ${what} message`);
    } catch {
      this.log.warn(`dropped a ${what} message that is not JSON`);
    }
    return undefined;
  }

  private onHeartbeat(data: Uint8Array): void {
    const hb = this.parse(HeartbeatSchema, data, 'heartbeat');
    if (!hb || !this.timer) return;
    const { seq, sentAt: _sentAt, ...node } = hb;
    const m = this.members.get(node.nodeId);
    if (m) {
      m.lastSeen = Date.now();
      m.lastSeq = seq;
      m.node = node;
      return;
    }
    this.members.set(node.nodeId, { node, lastSeen: Date.now(), lastSeq: seq });
    this.log.info({ node: node.nodeId }, 'node joined');
    this.emit('join', node.nodeId, undefined, node);
    for (const fn of this.joinL) this.safe(() => fn(node));
  }

  private onLeaveMsg(data: Uint8Array): void {
    const l = this.parse(LeaveSchema, data, 'leave');
    if (!l || !this.timer || !this.members.delete(l.nodeId)) return;
    this.log.info({ node: l.nodeId, reason: l.reason }, 'node left');
    this.emit('leave', l.nodeId, l.reason);
    for (const fn of this.leaveL) this.safe(() => fn(l.nodeId, l.reason));
  }

  private check(): void {
    if (!this.connected || this.nc.isClosed()) return;
    const now = Date.now();
    // If this process itself was frozen (a blocked event loop, a paused VM), the
    // heartbeats that arrived meanwhile are still queued behind this timer: do
    // not blame the nodes for our own silence; give everyone a fresh timeout.
    const checkMs = this.o.checkMs ?? Math.max(20, Math.floor(this.timeoutMs / 5));
    const sinceLast = now - this.lastCheck;
    const stalled = sinceLast > checkMs + this.timeoutMs / 2;
    this.lastCheck = now;
    if (stalled) {
      this.log.warn({ stalledMs: sinceLast }, 'membership checks were delayed (this process was busy); not declaring deaths this round');
      for (const m of this.members.values()) m.lastSeen = now;
      return;
    }
    for (const [id, m] of this.members) {
      const silent = now - m.lastSeen;
      if (silent <= this.timeoutMs) continue;
      this.members.delete(id);
      const reason = `no heartbeat for ${silent} ms (timeout ${this.timeoutMs} ms)`;
      this.log.warn({ node: id, reason }, 'node declared dead');
      this.emit('dead', id, reason);
      for (const fn of this.deadL) this.safe(() => fn(id, reason));
    }
  }

  private safe(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.error({ err }, 'membership listener threw');
    }
  }

  private emit(type: NodeEvent['type'], nodeId: string, reason?: string, node?: NodeAnnouncement): void {
    if (this.o.publishEvents === false || this.nc.isClosed()) return;
    const ev: NodeEvent = { type, nodeId, at: Date.now(), reason, node };
    try {
      this.nc.publish(this.subjects.events, enc.encode(JSON.stringify(ev)));
    } catch {
      /* best effort */
    }
  }
}
