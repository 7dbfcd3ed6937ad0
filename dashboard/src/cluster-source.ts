import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { readClusterStatus, type ClusterStateStore } from '@cohort/cluster';
import type { ActorView, ClusterSnapshot, DashboardDataSource, GpuView, LogLine } from './data-source.js';
import { dashboardSubjects } from './dashboard-subjects.js';
import { LogStore } from './log-store.js';
import { startDashboard, type DashboardOptions, type DashboardServer } from './server.js';
import { TrainingFeed } from './training-feed.js';

/**
 * The dashboard's data source over a cluster's KV tables (what the head and
 * `cohort status` read): node resources from the status, GPU holders from the
 * actors' and placement groups' granted GPU ids, log tails from `logs`.
 */
export function clusterDataSource(store: ClusterStateStore, cluster: string, logs: LogStore = new LogStore()): DashboardDataSource {
  return {
    async snapshot(): Promise<ClusterSnapshot> {
      const [status, actors, groups] = await Promise.all([readClusterStatus(store, cluster), store.actors.list(), store.placementGroups.list()]);
      const holders = new Map<string, Map<number, string[]>>();
      const hold = (node: string, gpu: number, who: string) => {
        if (!holders.has(node)) holders.set(node, new Map());
        const m = holders.get(node)!;
        if (!m.has(gpu)) m.set(gpu, []);
        if (!m.get(gpu)!.includes(who)) m.get(gpu)!.push(who);
      };
      const views: ActorView[] = [];
      const usedBundles = new Set<string>();
      for (const { value: a } of actors.values()) {
        const name = a.name ?? a.id;
        const live = a.state === 'ALIVE' || a.state === 'RESTARTING';
        if (live && a.nodeId) for (const g of a.gpuIds) hold(a.nodeId, g, name);
        if (live && a.placementGroupId !== undefined) usedBundles.add(`${a.placementGroupId}#${a.bundleIndex ?? 0}`);
        const lastLog = logs.tail(name, 1, name === a.id ? [] : [a.id])[0]?.msg;
        views.push({ id: a.id, name, className: a.className, state: a.state, node: a.nodeId ?? null, restarts: a.restarts, gpuIds: live ? a.gpuIds : [], pid: live ? a.pid : undefined, placementGroup: a.placementGroupId, reason: a.reason, lastLog });
      }
      for (const { value: g } of groups.values()) {
        if (g.state !== 'created' || !g.bundleNodes) continue;
        g.bundleNodes.forEach((node, i) => {
          if (usedBundles.has(`${g.id}#${i}`)) return;
          for (const gpu of g.bundleGpuIds?.[i] ?? []) hold(node, gpu, `pg:${g.name ?? g.id}#${i}`);
        });
      }
      views.sort((a, b) => a.name.localeCompare(b.name));
      return {
        cluster: status.cluster,
        head: status.head ? { natsUrl: status.head.natsUrl, hostname: status.head.hostname, pid: status.head.pid, epoch: status.head.epoch, startedAt: status.head.startedAt } : null,
        nodes: status.nodes.map((n) => {
          const count = Math.ceil(n.resources.total.GPU ?? 0);
          const held = holders.get(n.id) ?? new Map<number, string[]>();
          const ids = new Set<number>([...Array.from({ length: count }, (_, i) => i), ...held.keys()]);
          const gpus: GpuView[] = [...ids].sort((a, b) => a - b).map((index) => ({ index, holders: n.alive ? (held.get(index) ?? []) : [] }));
          return { id: n.id, alive: n.alive, state: n.state, nodeType: n.nodeType, hostname: n.hostname, labels: n.labels, resources: n.resources, gpus, reason: n.reason };
        }),
        actors: views,
        placementGroups: status.placementGroups,
        pending: status.pending,
        time: Date.now(),
      };
    },
    async actorLogs(actor: string, lines: number): Promise<LogLine[]> {
      // log lines carry the actor's name, or its id when unnamed: accept either
      const rec = await store.actors.get(actor).catch(() => undefined);
      const aliases = rec?.value.name && rec.value.name !== actor ? [rec.value.name] : [];
      if (!rec) {
        for (const { value: a } of (await store.actors.list()).values()) if (a.name === actor && a.id !== actor) aliases.push(a.id);
      }
      return logs.tail(actor, lines, aliases);
    },
  };
}

/** Options of {@link startClusterDashboard}. */
export interface ClusterDashboardOptions extends DashboardOptions {
  /** Also follow `<runsDir>/<run>/metrics.jsonl` (runs written on this machine). */
  runsDir?: string;
  /** Also follow these pino log files (node agents' logs on this machine). */
  logFiles?: Array<{ path: string; node?: string }>;
}

/** A dashboard serving one cluster, with its log store and training feed. */
export interface ClusterDashboard extends DashboardServer {
  readonly logs: LogStore;
}

/**
 * What the head runs: the dashboard over the cluster's KV state, with actor
 * logs and training steps taken from the cluster's NATS subjects (see
 * `logSubject` in `@cohort/cluster` and {@link publishTrainingStep}), plus, when
 * given, local runs' metrics files and agents' log files.
 */
export async function startClusterDashboard(nc: NatsConnection, store: ClusterStateStore, cluster: string, options: ClusterDashboardOptions = {}, logger?: Logger): Promise<ClusterDashboard> {
  const { runsDir, logFiles, ...serverOptions } = options;
  const logs = new LogStore();
  const training = new TrainingFeed();
  const warn = (err: Error) => logger?.warn({ err: err.message }, 'bad training metrics skipped');
  logs.subscribe(nc, cluster);
  training.subscribe(nc, cluster, warn);
  if (runsDir) training.watchRuns(runsDir, 500, warn);
  if (logFiles?.length) logs.tailFiles(logFiles);
  const source = clusterDataSource(store, cluster, logs);
  let server: DashboardServer;
  try {
    server = await startDashboard(source, { title: `Cohort · ${cluster}`, ...serverOptions }, { training, logger });
  } catch (err) {
    logs.close();
    training.close();
    throw err;
  }
  // `cohort status` and `cohort logs` ask here (no HTTP needed from the CLI's machine)
  const subjects = dashboardSubjects(cluster);
  const inflight = new Set<Promise<unknown>>();
  const subs = [
    nc.subscribe(subjects.info, {
      callback: (err, msg) => {
        if (!err) msg.respond(JSON.stringify({ url: server.url, metricsUrl: `${server.url}/metrics` }));
      },
    }),
    nc.subscribe(subjects.logs, {
      callback: (err, msg) => {
        if (err) return;
        let q: { actor?: unknown; lines?: unknown };
        try {
          q = msg.json();
        } catch {
          q = {};
        }
        const actor = typeof q.actor === 'string' ? q.actor : '';
        const n = Number.isInteger(q.lines) ? Math.min(100_000, Math.max(0, q.lines as number)) : 100;
        const p = source.actorLogs(actor, n).then(
          (lines) => msg.respond(JSON.stringify({ actor, lines })),
          () => msg.respond(JSON.stringify({ actor, lines: [] })),
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    }),
  ];
  return {
    url: server.url,
    port: server.port,
    training,
    logs,
    clients: () => server.clients(),
    async close() {
      for (const s of subs) s.unsubscribe();
      logs.close();
      training.close();
      await server.close();
      await Promise.allSettled([...inflight]);
    },
  };
}
