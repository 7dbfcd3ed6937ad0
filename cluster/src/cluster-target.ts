import { readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { headNatsPort, loadClusterConfig, resolveToken, type ClusterConfig } from './cluster-config.js';
import { discoverCluster } from './head.js';
import { localStateDir, localToken, readLocalState } from './launcher/local-provider.js';
import { connectCluster, type NatsAuth } from './nats-connect.js';

/** How a CLI command names the cluster it talks to (flags, environment, config). */
export interface ClusterTargetInput {
  /** `--address nats://HOST:PORT`; else `COHORT_ADDRESS`; else from `--config`. */
  address?: string;
  /** The token itself (programmatic use); else `--token-file`; else `COHORT_TOKEN`; else the config's. */
  token?: string;
  tokenFile?: string;
  /** `--config FILE`: a cluster config; with the local provider, `cohort up`'s state dir gives the address and token. */
  config?: string;
  stateDir?: string;
  /** `--cluster NAME`, when the head is not there to tell. */
  cluster?: string;
  env?: NodeJS.ProcessEnv;
}

/** A resolved target: where NATS is and how to authenticate. */
export interface ClusterTarget {
  url: string;
  auth: NatsAuth;
  cluster?: string;
  config?: ClusterConfig;
}

/** Resolves address and credentials from flags, environment and config, with errors that say which flag to pass. */
export function resolveClusterTarget(i: ClusterTargetInput): ClusterTarget {
  const env = i.env ?? process.env;
  const config = i.config ? loadClusterConfig(i.config) : undefined;
  let url = i.address || env.COHORT_ADDRESS || undefined;
  let token = i.token;
  if (!token && i.tokenFile) {
    try {
      token = readFileSync(i.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new Error(`--token-file: cannot read ${i.tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  token ||= env.COHORT_TOKEN || undefined;
  if (config) {
    if (config.provider.type === 'local') {
      const dir = localStateDir(config, i.stateDir);
      url ??= readLocalState(dir)?.natsUrl ?? config.head.nats.url;
      token ??= localToken(config, dir);
    } else {
      url ??= config.head.nats.url ?? `nats://${config.head.host ?? config.provider.hosts[0]}:${headNatsPort(config)}`;
      token ??= resolveToken(config.security);
    }
  }
  if (!url) throw new Error('no cluster address: pass --address nats://HOST:PORT, set COHORT_ADDRESS, or pass --config of a cluster started with `cohort up`');
  const auth: NatsAuth = { token, credsFile: config?.security.natsCreds };
  return { url, auth, cluster: i.cluster ?? config?.clusterName, config };
}

/** Finds the cluster name: given, else asked from the head, else the only `cohort_<name>_nodes` bucket on the server. */
export async function resolveClusterName(nc: NatsConnection, given?: string): Promise<string> {
  if (given) return given;
  try {
    return (await discoverCluster(nc, 1500)).cluster;
  } catch {
    const names = new Set<string>();
    for await (const s of new Kvm(nc).list()) {
      const m = /^cohort_(.+)_nodes$/.exec(s.bucket);
      if (m) names.add(m[1]);
    }
    if (names.size === 1) return [...names][0];
    if (names.size === 0) throw new Error('no Cohort cluster state on this NATS server and no head answers; is the address right?');
    throw new Error(`several clusters on this NATS server (${[...names].join(', ')}) and no head answers; pass --cluster NAME`);
  }
}

/** Connects to a resolved target. */
export function connectTarget(t: ClusterTarget, name: string): Promise<NatsConnection> {
  return connectCluster({ ...t.auth, url: t.url, name, reconnect: false });
}
