import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ClusterStateStore } from '@cohort/cluster';
import { startClusterDashboard, type ClusterDashboard } from './cluster-source.js';
import { DashboardConfigError } from './server.js';

/** Ray's dashboard port; the head's default. */
export const DEFAULT_DASHBOARD_PORT = 8265;

/** How the head serves its dashboard (flags of `cohort start --head`, else environment). */
export interface HeadDashboardOptions {
  /** Interface; default `COHORT_DASHBOARD_HOST`, else 127.0.0.1 (loopback only). */
  host?: string;
  /** Port, 0 for any free one, or `off`; default `COHORT_DASHBOARD_PORT`, else 8265 (any free port when 8265 is taken). */
  port?: number | 'off';
  /** Runs directory whose `<run>/metrics.jsonl` files are followed; default `./runs`. */
  runsDir?: string;
  /** The cluster token: required by `/api/*` and `/metrics` when the dashboard binds beyond loopback. */
  token?: string;
  logger?: Logger;
}

/** Parses a dashboard port setting (`8265`, `0`, `off`); the error says what is expected. */
export function parseDashboardPort(s: string, where = '--dashboard-port'): number | 'off' {
  if (s === 'off' || s === 'false' || s === 'none') return 'off';
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 65535) throw new DashboardConfigError(`${where}: expected a port number 0–65535 (0 picks a free port) or "off", found "${s}"`);
  return n;
}

/**
 * Starts the dashboard of a cluster head (`ClusterHead`: its NATS connection,
 * KV store and cluster name). Returns undefined when switched off. A port
 * given explicitly must be free; the default 8265 falls back to a free port.
 */
export async function startHeadDashboard(head: { nc: NatsConnection; store: ClusterStateStore; cluster: string }, o: HeadDashboardOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ClusterDashboard | undefined> {
  const fromEnv = env.COHORT_DASHBOARD_PORT ? parseDashboardPort(env.COHORT_DASHBOARD_PORT, 'COHORT_DASHBOARD_PORT') : undefined;
  const port = o.port ?? fromEnv;
  if (port === 'off') return undefined;
  const host = o.host ?? env.COHORT_DASHBOARD_HOST ?? '127.0.0.1';
  const runsDir = path.resolve(o.runsDir ?? 'runs');
  try {
    return await startClusterDashboard(head.nc, head.store, head.cluster, { host, port: port ?? DEFAULT_DASHBOARD_PORT, runsDir, token: o.token }, o.logger);
  } catch (err) {
    if (port !== undefined || !(err instanceof DashboardConfigError) || !/in use/.test(err.message)) throw err;
    o.logger?.warn({ port: DEFAULT_DASHBOARD_PORT }, 'dashboard port taken; serving on a free port instead');
    return startClusterDashboard(head.nc, head.store, head.cluster, { host, port: 0, runsDir, token: o.token }, o.logger);
  }
}
