import { hostname } from 'node:os';
import type { EndpointExtras } from '@cohort/runtime';
import { bulkTls, channelCredentials, serverCredentials, tokenClientInterceptor, tokenServerInterceptor, type TlsPaths } from './security.js';

/**
 * How one cluster process runs its gRPC data plane (actor calls, control API,
 * bulk transfers): what it binds, what it advertises, and what it requires of
 * peers. Head, agents, the workers they start and `connect()` drivers all use it.
 */
export interface DataPlaneOptions {
  /** Cluster token: required (gRPC metadata `x-cohort-token`, bulk-socket handshake) from every peer, and sent to them. */
  token?: string;
  /** Mutual TLS for gRPC (PEM paths): peers must present a certificate signed by `ca`. */
  tls?: TlsPaths;
  /** Interface to listen on. Default `127.0.0.1` (nothing beyond loopback). */
  bind?: string;
  /** Host peers dial (put in this process's advertised address). Default: `bind`, or this machine's hostname when `bind` is a wildcard. */
  advertiseHost?: string;
}

/** Environment variables a worker started by an agent reads in {@link endpointOptionsFromEnv}. */
export const WORKER_ENV = {
  token: 'COHORT_TOKEN',
  tlsCert: 'COHORT_TLS_CERT',
  tlsKey: 'COHORT_TLS_KEY',
  tlsCa: 'COHORT_TLS_CA',
} as const;

/** Data-plane request a worker sends its node agent to learn the head's current gRPC address. */
export const AGENT_HEAD_ADDRESS = 'agent.headAddress';

/** Module URL workers import through the runtime's `COHORT_ENDPOINT_SETUP` hook. */
export const WORKER_ENDPOINT_SETUP = new URL('./worker-endpoint-setup.ts', import.meta.url).href;

/** True for `0.0.0.0`, `::` and the like: binding them listens on every interface. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** The host put in advertised addresses: the given one, else `bind` unless it is a wildcard (then the hostname). */
export function advertisedHost(bind: string, advertiseHost?: string): string {
  if (advertiseHost) return advertiseHost;
  return isWildcardHost(bind) ? hostname() : bind;
}

/** The runtime `Endpoint` extras (interceptors, credentials, bulk token, advertised host) for these options. */
export function dataPlaneExtras(o: DataPlaneOptions): EndpointExtras {
  const extras: EndpointExtras = {};
  if (o.token) {
    extras.serverInterceptors = [tokenServerInterceptor(o.token)];
    extras.callInterceptors = [tokenClientInterceptor(o.token)];
    extras.bulkToken = o.token;
  }
  if (o.tls) {
    extras.serverCredentials = serverCredentials(o.tls);
    extras.channelCredentials = channelCredentials(o.tls);
    // the bulk sockets (payloads ≥ the bulk threshold) get the same mutual TLS
    extras.bulkTls = bulkTls(o.tls);
  }
  const bind = o.bind ?? '127.0.0.1';
  const adv = advertisedHost(bind, o.advertiseHost);
  if (adv !== bind) extras.advertiseHost = adv;
  return extras;
}

/**
 * Environment for a worker process started by a node agent, so that its data
 * plane requires and sends the same token / TLS as the agent and binds and
 * advertises the same hosts (read back by `worker-endpoint-setup.ts`).
 */
export function workerDataPlaneEnv(o: DataPlaneOptions): Record<string, string> {
  const bind = o.bind ?? '127.0.0.1';
  const env: Record<string, string> = { COHORT_ENDPOINT_SETUP: WORKER_ENDPOINT_SETUP, COHORT_HOST: bind, COHORT_ADVERTISE_HOST: advertisedHost(bind, o.advertiseHost) };
  if (o.token) env[WORKER_ENV.token] = o.token;
  if (o.tls) Object.assign(env, { [WORKER_ENV.tlsCert]: o.tls.cert, [WORKER_ENV.tlsKey]: o.tls.key, [WORKER_ENV.tlsCa]: o.tls.ca });
  return env;
}

/**
 * Reads {@link workerDataPlaneEnv}'s variables back into extras. The token is
 * removed from `env` afterwards so actor code and its child processes do not see it.
 */
export function endpointOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): EndpointExtras {
  const token = env[WORKER_ENV.token] || undefined;
  const cert = env[WORKER_ENV.tlsCert];
  const key = env[WORKER_ENV.tlsKey];
  const ca = env[WORKER_ENV.tlsCa];
  if ((cert || key || ca) && !(cert && key && ca)) {
    throw new Error(`worker data plane: set all of ${WORKER_ENV.tlsCert}, ${WORKER_ENV.tlsKey} and ${WORKER_ENV.tlsCa} for TLS, or none`);
  }
  delete env[WORKER_ENV.token];
  // COHORT_HOST / COHORT_ADVERTISE_HOST are applied by the runtime's worker itself.
  const extras = dataPlaneExtras({ token, tls: cert && key && ca ? { cert, key, ca } : undefined });
  delete extras.advertiseHost;
  return extras;
}
