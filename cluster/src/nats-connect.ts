import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

/** How a cluster process authenticates to NATS. */
export interface NatsAuth {
  /** Cluster token (NATS auth token). */
  token?: string;
  user?: string;
  password?: string;
  /** Path of a NATS `.creds` file (JWT + nkey seed). */
  credsFile?: string;
}

export interface ClusterConnectOptions extends NatsAuth {
  /** `nats://host:port` (comma-separated for several servers). */
  url: string;
  /** Client name shown by the server's monitoring (e.g. `head`, `agent node-1`). */
  name?: string;
  /** Give up on the first connection after this long. Default 5 s. */
  timeoutMs?: number;
  /** Reconnect forever after a lost connection (default true). */
  reconnect?: boolean;
}

/** Thrown when the server refuses the credentials given (or none were given and it requires some). */
export class ClusterAuthError extends Error {
  override readonly name = 'ClusterAuthError';
}

/** Thrown when no NATS server answers at the cluster address. */
export class ClusterUnreachableError extends Error {
  override readonly name = 'ClusterUnreachableError';
}

/**
 * Connects to the cluster's NATS server with the cluster token (or
 * user/password, or a creds file), reconnecting forever after a drop.
 * A refusal becomes a {@link ClusterAuthError} that says what to supply.
 */
export async function connectCluster(o: ClusterConnectOptions): Promise<NatsConnection> {
  const servers = o.url.split(',').map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) throw new Error('cluster address is empty; pass --address nats://HOST:PORT or set COHORT_ADDRESS');
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^/]+:\d+$/.test(s) && !/^[^/:]+:\d+$/.test(s)) {
      throw new Error(`cluster address "${s}" is not of the form nats://HOST:PORT`);
    }
  }
  const authenticator = o.credsFile ? credsAuthenticator(readFileSync(o.credsFile)) : undefined;
  try {
    return await connect({
      servers,
      name: o.name,
      token: o.token || undefined,
      user: o.user,
      pass: o.password,
      authenticator,
      timeout: o.timeoutMs ?? 5000,
      reconnect: o.reconnect ?? true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2000,
      maxPingOut: 3,
      // No Error object (with its stack) per request: measured ~20% of the head's CPU when 1,000 actors start.
      noAsyncTraces: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const text = `${e.name} ${e.message} ${e.code ?? ''}`;
    if (/authoriz|authenticat|permission/i.test(text)) {
      const given = o.token ? 'the token given was not accepted' : o.user ? `user "${o.user}" was not accepted` : o.credsFile ? `creds file ${o.credsFile} was not accepted` : 'no credentials were given';
      throw new ClusterAuthError(`refused by the cluster at ${o.url}: ${given}; supply the cluster token (COHORT_TOKEN or --token-file; the token option of connect()) or NATS credentials`);
    }
    if (/ECONNREFUSED|connection refused|timeout|CONNECTION_REFUSED/i.test(text)) {
      throw new ClusterUnreachableError(`no cluster answers at ${o.url} (${e.message}); is the head running? start one with \`cohort start --head\` or \`cohort up CONFIG\``);
    }
    throw err;
  }
}
