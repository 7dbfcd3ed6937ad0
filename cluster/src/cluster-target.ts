import { existsSync, readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { headNatsPort, loadClusterConfig, resolveToken, type ClusterConfig } from './cluster-config.js';
import { discoverCluster } from './head.js';
import { localStateDir, localToken, readLocalState } from './launcher/local-provider.js';
import { currentClusterFile, currentClusterGone, describeCurrentCluster, readCurrentCluster, type CurrentCluster } from './current-cluster.js';
import { ClusterUnreachableError, connectCluster, type NatsAuth } from './nats-connect.js';

/** How a CLI command names the cluster it talks to (flags, environment, config, the current cluster). */
export interface ClusterTargetInput {
  /** `--address nats://HOST:PORT`; else `COHORT_ADDRESS`; else from `--config`; else the current cluster. `auto` asks for the current cluster. */
  address?: string;
  /** The token itself (programmatic use); else `--token-file`; else `COHORT_TOKEN`; else the config's (or the current cluster's token file). */
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
  /** The local provider's state dir, when known (from `--state-dir`, the config, or the current cluster). */
  stateDir?: string;
  /** Where the address came from; `current` = the record `cohort up` / `cohort start --head` left (see current-cluster.ts). */
  source: 'address' | 'env' | 'config' | 'current';
  /** The record used, when `source` is `current`. */
  current?: CurrentCluster;
}

/** Thrown when the current cluster (the one recorded by `cohort up` / `cohort start --head`) no longer runs; exit code 3. */
export class ClusterGoneError extends ClusterUnreachableError {
  readonly exitCode = 3;
}

function readToken(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function goneMessage(cur: CurrentCluster, why: string, env: NodeJS.ProcessEnv): string {
  const again = cur.config ? `\`cohort up ${cur.config}\`` : '`cohort up CONFIG` or `cohort start --head`';
  return `the current cluster "${cur.cluster}" (${cur.address}, recorded in ${currentClusterFile(env)}) is gone: ${why}; start it again with ${again}, or pass --address for another cluster`;
}

/**
 * Resolves address and credentials: `--address`, else `COHORT_ADDRESS`, else
 * `--config`, else the current cluster (`cohort up` / `cohort start --head`
 * record it; `--address auto` asks for it explicitly). Errors say which flag
 * to pass; a current cluster whose processes on this host are dead is a
 * {@link ClusterGoneError}.
 */
export function resolveClusterTarget(i: ClusterTargetInput): ClusterTarget {
  const env = i.env ?? process.env;
  const auto = (a: string | undefined) => a === 'auto';
  let url = (auto(i.address) ? undefined : i.address) || (auto(i.address) || auto(env.COHORT_ADDRESS) ? undefined : env.COHORT_ADDRESS) || undefined;
  let source: ClusterTarget['source'] = i.address && !auto(i.address) ? 'address' : url ? 'env' : 'config';
  let current: CurrentCluster | undefined;
  let configPath = i.config;
  let stateDir = i.stateDir;
  if (!url && !configPath) {
    current = readCurrentCluster(env);
    if (!current) {
      throw new Error(
        auto(i.address) || auto(env.COHORT_ADDRESS)
          ? `--address auto: no current cluster is recorded in ${currentClusterFile(env)}; start one with \`cohort up CONFIG\` or \`cohort start --head\`, or pass --address nats://HOST:PORT`
          : 'no cluster address and no current cluster: start one with `cohort up CONFIG` (or `cohort start --head`), or pass --address nats://HOST:PORT, set COHORT_ADDRESS, or pass --config CONFIG',
      );
    }
    const gone = currentClusterGone(current);
    if (gone) throw new ClusterGoneError(goneMessage(current, gone, env));
    source = 'current';
    url = current.address;
    if (current.config && existsSync(current.config)) configPath = current.config;
    stateDir ??= current.stateDir;
  }
  const config = configPath ? loadClusterConfig(configPath) : undefined;
  let token = i.token;
  if (!token && i.tokenFile) token = readToken(i.tokenFile, '--token-file');
  token ||= env.COHORT_TOKEN || undefined;
  if (!token && current?.tokenFile && existsSync(current.tokenFile)) token = readToken(current.tokenFile, 'the current cluster\'s token file');
  if (config) {
    if (config.provider.type === 'local') {
      const dir = localStateDir(config, stateDir);
      stateDir = dir;
      url ??= readLocalState(dir)?.natsUrl ?? config.head.nats.url;
      token ??= localToken(config, dir);
    } else {
      url ??= config.head.nats.url ?? `nats://${config.head.host ?? config.provider.hosts[0]}:${headNatsPort(config)}`;
      token ??= resolveToken(config.security);
    }
  }
  // a cluster that is not up is unreachable (exit code 3), as an address where nothing answers
  if (!url) throw new ClusterUnreachableError(`no cluster address: the cluster of ${configPath} is not up (no state in ${stateDir}); start it with \`cohort up ${configPath}\`, or pass --address nats://HOST:PORT`);
  const auth: NatsAuth = { token, credsFile: config?.security.natsCreds };
  return { url, auth, cluster: i.cluster ?? config?.clusterName ?? current?.cluster, config, stateDir, source, current };
}

/** One line for stderr when the target came from the current-cluster record (undefined otherwise): which cluster a command uses. */
export function targetNote(t: ClusterTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return t.current ? `using ${describeCurrentCluster(t.current, env)}` : undefined;
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

/** Connects to a resolved target; when the current cluster's address no longer answers, says the recorded cluster is gone. */
export async function connectTarget(t: ClusterTarget, name: string, env: NodeJS.ProcessEnv = process.env): Promise<NatsConnection> {
  try {
    return await connectCluster({ ...t.auth, url: t.url, name, reconnect: false });
  } catch (err) {
    if (t.current && err instanceof ClusterUnreachableError) throw new ClusterGoneError(goneMessage(t.current, `nothing answers at ${t.url}`, env));
    throw err;
  }
}
