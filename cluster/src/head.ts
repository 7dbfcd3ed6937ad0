import { hostname } from 'node:os';
import path from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import { childLogger } from './log.js';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_NODE_TIMEOUT_MS, MembershipMonitor, type NodeAnnouncement } from './membership.js';
import { connectCluster, type NatsAuth } from './nats-connect.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { ClusterStateStore, type NodeRecord } from './state-store.js';

/** Subject any process asks to learn which cluster (name, head) a NATS server hosts. */
export const DISCOVER_SUBJECT = 'cohort.discover';

/** The head's answer on {@link DISCOVER_SUBJECT}. */
export const ClusterInfoSchema = z.object({
  cluster: z.string(),
  epoch: z.number().int(),
  heartbeatMs: z.number().int(),
  timeoutMs: z.number().int(),
  grpcAddress: z.string().optional(),
});
export type ClusterInfo = z.infer<typeof ClusterInfoSchema>;

/** Options for {@link ClusterHead.start}. */
export interface HeadOptions {
  /** Cluster name (namespaces NATS subjects and KV buckets). */
  cluster: string;
  /** An existing NATS server; when absent the head starts a managed one. */
  natsUrl?: string;
  /** Managed NATS server: store dir (required when `natsUrl` is absent), host and port. */
  managedNats?: { dir: string; host?: string; port?: number };
  /** Cluster credentials: the managed server requires `auth.token` (or user/password) from every client. */
  auth?: NatsAuth;
  heartbeatMs?: number;
  timeoutMs?: number;
  /** gRPC address of the control plane served beside this head (published in discovery and KV). */
  grpcAddress?: string;
  logger?: Logger;
}

/**
 * The control plane's durable core: owns the node table in KV, decides
 * membership from heartbeats, answers discovery, and (with a managed NATS
 * server) hosts the cluster's NATS. A restarted head reads its tables back
 * from KV; nodes that keep heartbeating stay alive throughout.
 */
export class ClusterHead {
  private readonly subs: Subscription[] = [];
  private readonly deadHooks = new Set<(nodeId: string, reason: string) => void | Promise<void>>();
  private stopped = false;
  /** Node-table writes in progress; {@link stop} lets them finish before closing the connection. */
  private readonly inflight = new Set<Promise<void>>();

  private constructor(
    readonly cluster: string,
    readonly natsUrl: string,
    readonly nc: NatsConnection,
    readonly store: ClusterStateStore,
    readonly monitor: MembershipMonitor,
    readonly epoch: number,
    readonly info: ClusterInfo,
    private readonly managed: NatsServerHandle | undefined,
    private readonly log: Logger,
  ) {}

  static async start(o: HeadOptions): Promise<ClusterHead> {
    const log = o.logger ?? childLogger({ role: 'head', cluster: o.cluster });
    let managed: NatsServerHandle | undefined;
    let url = o.natsUrl;
    if (!url) {
      if (!o.managedNats) throw new Error('ClusterHead: give natsUrl (an existing server) or managedNats.dir (start one)');
      managed = await startNatsServer({
        dir: o.managedNats.dir,
        host: o.managedNats.host,
        port: o.managedNats.port && o.managedNats.port > 0 ? o.managedNats.port : -1,
        token: o.auth?.token,
        user: o.auth?.user,
        password: o.auth?.password,
      });
      url = managed.url;
      log.info({ url, dir: path.resolve(o.managedNats.dir) }, 'managed nats-server started');
    }
    try {
      const nc = await connectCluster({ ...o.auth, url, name: `head ${o.cluster}` });
      const store = await ClusterStateStore.open(nc, { cluster: o.cluster });
      const prev = await store.meta.get('head');
      const epoch = (prev?.value.epoch ?? 0) + 1;
      await store.meta.put('head', { natsUrl: url, grpcAddress: o.grpcAddress, pid: process.pid, hostname: hostname(), startedAt: Date.now(), epoch });
      const stored = await store.nodes.list();
      const known: NodeAnnouncement[] = [...stored.values()]
        .filter((n) => n.value.state === 'alive')
        .map(({ value: n }) => ({ nodeId: n.id, resources: n.resources, labels: n.labels, address: n.address, hostname: n.hostname, pid: n.pid, nodeType: n.nodeType }));
      const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
      const timeoutMs = o.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
      const monitor = new MembershipMonitor(nc, { cluster: o.cluster, timeoutMs, known, logger: log });
      const info: ClusterInfo = { cluster: o.cluster, epoch, heartbeatMs, timeoutMs, grpcAddress: o.grpcAddress };
      const head = new ClusterHead(o.cluster, url, nc, store, monitor, epoch, info, managed, log);
      head.wire();
      log.info({ epoch, recoveredNodes: known.length }, prev ? 'head restarted; state recovered from KV' : 'head started');
      return head;
    } catch (err) {
      await managed?.stop();
      throw err;
    }
  }

  /** Registers a callback for a dead node (after the node table says `dead`). */
  onNodeDead(fn: (nodeId: string, reason: string) => void | Promise<void>): () => void {
    this.deadHooks.add(fn);
    return () => this.deadHooks.delete(fn);
  }

  private wire(): void {
    this.subs.push(
      this.nc.subscribe(DISCOVER_SUBJECT, {
        callback: (err, msg) => {
          if (!err) msg.respond(JSON.stringify(this.info));
        },
      }),
    );
    this.monitor.onJoin((n) => this.track(this.recordJoin(n)));
    this.monitor.onLeave((id, reason) => this.track(this.recordGone(id, 'left', reason)));
    this.monitor.onDead((id, reason) => this.track(this.recordGone(id, 'dead', reason)));
    this.monitor.start();
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async recordJoin(n: NodeAnnouncement): Promise<void> {
    if (this.stopped) return;
    const rec: NodeRecord = { id: n.nodeId, state: 'alive', resources: n.resources, labels: n.labels, address: n.address, hostname: n.hostname, pid: n.pid, nodeType: n.nodeType, joinedAt: Date.now() };
    await this.store.nodes.put(n.nodeId, rec).catch((err) => this.log.error({ err, node: n.nodeId }, 'could not record a join'));
  }

  private async recordGone(id: string, state: 'dead' | 'left', reason: string): Promise<void> {
    if (this.stopped) return;
    try {
      await this.store.nodes.modify(id, (cur) => (cur ? { ...cur, state, reason, changedAt: Date.now() } : undefined));
      // Actors that lived there are gone with it; the scheduler integration restarts them elsewhere.
      for (const [aid, { value: a }] of await this.store.actors.list()) {
        if (a.nodeId === id && a.state !== 'DEAD') {
          await this.store.actors.modify(aid, (cur) => (cur && cur.nodeId === id && cur.state !== 'DEAD' ? { ...cur, state: 'DEAD', reason: `node ${id} ${state === 'dead' ? 'died' : 'left'}: ${reason}`, updatedAt: Date.now() } : undefined));
        }
      }
    } catch (err) {
      if (!this.stopped) this.log.error({ err, node: id }, `could not record node ${state}`);
    }
    if (state === 'dead') {
      for (const fn of this.deadHooks) {
        try {
          await fn(id, reason);
        } catch (err) {
          this.log.error({ err, node: id }, 'dead-node hook threw');
        }
      }
    }
  }

  /** Stops the head: membership, its connection and (when managed) the NATS server. Nodes' state stays in KV. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.monitor.stop();
    for (const s of this.subs.splice(0)) s.unsubscribe();
    // A KV listing cut off by the connection closing leaves a consumer whose heartbeat
    // monitor later throws on the closed connection: let node-table writes finish first (bounded).
    if (this.inflight.size) await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.nc.drain().catch(() => undefined);
    await this.managed?.stop();
  }
}

/** Asks the NATS server at `nc` which cluster it hosts; retries until the head answers or `timeoutMs` passes. */
export async function discoverCluster(nc: NatsConnection, timeoutMs = 10_000): Promise<ClusterInfo> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const r = await nc.request(DISCOVER_SUBJECT, '', { timeout: Math.min(1000, Math.max(100, end - Date.now())) });
      return ClusterInfoSchema.parse(r.json());
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`no cluster head answered on this NATS server within ${timeoutMs} ms (${(last as Error)?.message ?? 'no reply'}); start one with \`cohort start --head\``);
}
