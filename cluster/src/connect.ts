import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Runtime, controlPlaneClient, createLogger, resolveRuntimeConfig, type RuntimeConfig } from '@cohort/runtime';
import type { Logger } from 'pino';
import { discoverCluster, type ClusterInfo } from './head.js';
import { connectCluster, type NatsAuth } from './nats-connect.js';

/** Options for {@link connect}. */
export interface ConnectOptions extends NatsAuth {
  /** Runtime limits and the data-plane host of this driver (resources/labels are ignored: the cluster's nodes have them). */
  runtime?: Omit<RuntimeConfig, 'resources' | 'labels'>;
  logger?: Logger;
  /** How long to wait for the head. Default 10 s. */
  timeoutMs?: number;
}

/** A driver attached to a cluster: the runtime API of local mode, plus the cluster it joined. */
export type ClusterRuntime = Runtime & { readonly clusterInfo: ClusterInfo };

/**
 * Connects a driver to a running cluster (`cohort start --head` or `cohort up`)
 * and returns the same `Runtime` API as local `init()`: spawn, getActor, put,
 * get, wait, placement groups. `address` is the cluster's NATS URL; the token
 * comes from `options.token` or `COHORT_TOKEN`. Actors the driver owns end
 * when it shuts down or disconnects; detached ones stay.
 */
export async function connect(address: string = process.env.COHORT_ADDRESS ?? '', options: ConnectOptions = {}): Promise<ClusterRuntime> {
  const token = options.token ?? (process.env.COHORT_TOKEN || undefined);
  const nc = await connectCluster({ ...options, token, url: address, name: `driver ${hostname()} ${process.pid}`, reconnect: false });
  let info: ClusterInfo;
  try {
    info = await discoverCluster(nc, options.timeoutMs ?? 10_000);
  } finally {
    await nc.close();
  }
  if (!info.grpcAddress) throw new Error(`the head of cluster ${info.cluster} serves no control plane (started without one?); restart it with \`cohort start --head\``);
  const cfg = resolveRuntimeConfig({ ...(options.runtime ?? {}) });
  const logger = options.logger ?? createLogger({ level: cfg.logLevel, base: { cluster: info.cluster, role: 'driver' } });
  const ownerId = `driver-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const controlAddress = info.grpcAddress;
  const rt = await Runtime.start({ config: cfg, logger, ownerId, controlPlane: (ep) => controlPlaneClient(ep, controlAddress) });
  return Object.assign(rt, { clusterInfo: info }) as ClusterRuntime;
}
