import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Runtime, controlPlaneClient, createLogger, resolveRuntimeConfig, type ActorEvent, type ControlPlane, type Endpoint, type RuntimeConfig } from '@cohort/runtime';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { dataPlaneExtras } from './data-plane.js';
import { discoverCluster, type ClusterInfo } from './head.js';
import { DRIVER_HELLO } from './head-service.js';
import { resolveClusterTarget } from './cluster-target.js';
import { actorEventSubject, forwardOwnedActorLogs } from './log-fanout.js';
import { ClusterAuthError, connectCluster, type NatsAuth } from './nats-connect.js';
import type { TlsPaths } from './security.js';

/** Options for {@link connect}. */
export interface ConnectOptions extends NatsAuth {
  /** Runtime limits and the data-plane host of this driver (resources/labels are ignored: the cluster's nodes have them). */
  runtime?: Omit<RuntimeConfig, 'resources' | 'labels'>;
  logger?: Logger;
  /** How long to wait for the head. Default 10 s. */
  timeoutMs?: number;
  /** Token sent on (and required of) data-plane connections; default `token`. Only differs when NATS uses other credentials. */
  dataPlaneToken?: string;
  /** Mutual TLS on the data plane, when the cluster's config has `security.tls`. */
  tls?: TlsPaths;
  /** Host put in this driver's data-plane address (actors dial it to fetch its objects); default `runtime.host`. */
  advertiseHost?: string;
  /** Write the log lines of the actors this driver owns (and theirs) to `logger`, as local mode does (Ray's `log_to_driver`). Default true. */
  logToDriver?: boolean;
}

/** A driver attached to a cluster: the runtime API of local mode, plus the cluster it joined. */
export type ClusterRuntime = Runtime & { readonly clusterInfo: ClusterInfo };

/**
 * Connects a driver to a running cluster (`cohort start --head` or `cohort up`)
 * and returns the same `Runtime` API as local `init()`: spawn, getActor, put,
 * get, wait, placement groups. `address` is the cluster's NATS URL; the token
 * comes from `options.token` or `COHORT_TOKEN`. `auto` (the default when
 * COHORT_ADDRESS is unset) is the current cluster: the one `cohort up` /
 * `cohort start --head` last started as this user on this machine, with its
 * token file. Actors the driver owns end when it shuts down or disconnects;
 * detached ones stay.
 */
export async function connect(address: string = process.env.COHORT_ADDRESS || 'auto', options: ConnectOptions = {}): Promise<ClusterRuntime> {
  let token = options.token ?? (process.env.COHORT_TOKEN || undefined);
  if (address === 'auto') {
    const target = resolveClusterTarget({ address: 'auto', token });
    address = target.url;
    token ??= target.auth.token;
  }
  const nc = await connectCluster({ ...options, token, url: address, name: `driver ${hostname()} ${process.pid}` });
  let info: ClusterInfo;
  try {
    info = await discoverCluster(nc, options.timeoutMs ?? 10_000);
  } catch (err) {
    await nc.close();
    throw err;
  }
  if (!info.grpcAddress) throw new Error(`the head of cluster ${info.cluster} serves no control plane (started without one?); restart it with \`cohort start --head\``);
  const cfg = resolveRuntimeConfig({ ...(options.runtime ?? {}) });
  const logger = options.logger ?? createLogger({ level: cfg.logLevel, base: { cluster: info.cluster, role: 'driver' } });
  const ownerId = `driver-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const rt = await Runtime.start({
    config: cfg,
    // The cluster's data plane requires its token (and TLS when configured) from every process; send ours and require it of peers.
    endpoint: dataPlaneExtras({ token: options.dataPlaneToken ?? token, tls: options.tls, bind: cfg.host, advertiseHost: options.advertiseHost }),
    logger,
    ownerId,
    controlPlane: (ep) => headControlPlane(ep, nc, info.grpcAddress!, logger, ownerId),
    onShutdown: () => nc.close(),
    // `rt.onActorEvent(fn)`: lifecycle events of the whole cluster, from the head over NATS
    subscribe: (fn) => {
      const sub = nc.subscribe(actorEventSubject(info.cluster), {
        callback: (err, msg) => {
          if (err) return;
          try {
            fn(msg.json<ActorEvent>());
          } catch (e) {
            logger.warn({ err: e }, 'actor event listener threw or the event was not JSON');
          }
        },
      });
      return () => sub.unsubscribe();
    },
  });
  try {
    await rt.endpoint.request(info.grpcAddress, DRIVER_HELLO, { owner: ownerId });
  } catch (err) {
    await rt.shutdown().catch(() => undefined);
    const msg = (err as Error)?.message ?? String(err);
    if (/UNAUTHENTICATED|cluster token/.test(msg)) throw new ClusterAuthError(`refused by the data plane of cluster ${info.cluster} at ${info.grpcAddress}: ${msg.replace(/^.*?UNAUTHENTICATED: /, '')}`);
    throw err;
  }
  if (options.logToDriver !== false) forwardOwnedActorLogs(nc, info.cluster, ownerId, logger);
  return Object.assign(rt, { clusterInfo: info }) as ClusterRuntime;
}

const CONNECTION_LOST = /connection to .* (failed|closed)|channel to .* is closed|endpoint is closed|UNAVAILABLE/;

/**
 * The runtime's control-plane client, bound to the current head: when a call
 * fails because the head's connection is gone (a restarted head), it asks NATS
 * for the new head's address and retries there once.
 */
function headControlPlane(ep: Endpoint, nc: NatsConnection, first: string, logger: Logger, ownerId: string): ControlPlane {
  let address = first;
  let client = controlPlaneClient(ep, address);
  const cache = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return new Proxy({} as ControlPlane, {
    get(_t, prop) {
      if (typeof prop !== 'string') return undefined;
      let fn = cache.get(prop);
      if (!fn) {
        fn = async (...args: unknown[]) => {
          const call = () => (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop](...args);
          try {
            return await call();
          } catch (err) {
            if (!CONNECTION_LOST.test((err as Error)?.message ?? '') || nc.isClosed()) throw err;
            const info = await discoverCluster(nc, 15_000).catch(() => undefined);
            if (!info?.grpcAddress || info.grpcAddress === address) throw err;
            logger.info({ from: address, to: info.grpcAddress, epoch: info.epoch }, 'the cluster head moved; retrying there');
            address = info.grpcAddress;
            client = controlPlaneClient(ep, address);
            await ep.request(address, DRIVER_HELLO, { owner: ownerId });
            return call();
          }
        };
        cache.set(prop, fn);
      }
      return fn;
    },
  });
}
