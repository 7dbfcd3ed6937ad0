import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import path from 'node:path';
import { pidAlive } from '@cohort/runtime';
import { z } from 'zod';

/**
 * The cluster this user started last on this machine (`cohort up` or
 * `cohort start --head`), so that `cohort status`, `list`, `logs`, `down` and
 * `train --address auto` find it without flags, the way `ray status` finds the
 * cluster `ray start` made. One record per user: starting another cluster
 * replaces it; `cohort down` (or the head's clean stop) removes it.
 */
export const CurrentClusterSchema = z.object({
  cluster: z.string(),
  /** The NATS URL clients connect to. */
  address: z.string(),
  /** How it was started: `cohort up` with the local or ssh provider, or `cohort start --head`. */
  startedBy: z.enum(['up-local', 'up-ssh', 'start-head']),
  /** Absolute path of the cluster config, when there is one. */
  config: z.string().optional(),
  /** The local provider's state dir (pids, ports, token, logs). */
  stateDir: z.string().optional(),
  /** A file that holds the cluster token (never the token itself). */
  tokenFile: z.string().optional(),
  /** Processes on this host whose death means the cluster is gone (head, nats-server). */
  pids: z.array(z.number().int()).default([]),
  host: z.string(),
  startedAt: z.number(),
});
export type CurrentCluster = z.infer<typeof CurrentClusterSchema>;

/**
 * Where the record lives: `COHORT_CURRENT_CLUSTER` (a file path; tests set it),
 * else `$XDG_STATE_HOME/cohort/current-cluster.json` when XDG_STATE_HOME is
 * set, else `~/.cohort/current-cluster.json`.
 */
export function currentClusterFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COHORT_CURRENT_CLUSTER) return path.resolve(env.COHORT_CURRENT_CLUSTER);
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, 'cohort', 'current-cluster.json');
  return path.join(homedir(), '.cohort', 'current-cluster.json');
}

/** Records `rec` as the current cluster (atomic replace, mode 0600). */
export function recordCurrentCluster(rec: Omit<CurrentCluster, 'host' | 'startedAt' | 'pids'> & Partial<Pick<CurrentCluster, 'pids'>>, env: NodeJS.ProcessEnv = process.env): string {
  const file = currentClusterFile(env);
  const full: CurrentCluster = CurrentClusterSchema.parse({ ...rec, host: hostname(), startedAt: Date.now() });
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(full, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}

/** The current cluster, or undefined when none is recorded. A damaged file is an error that says to remove it. */
export function readCurrentCluster(env: NodeJS.ProcessEnv = process.env): CurrentCluster | undefined {
  const file = currentClusterFile(env);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not JSON (${(err as Error).message}); remove it and start the cluster again with \`cohort up CONFIG\``);
  }
  const r = CurrentClusterSchema.safeParse(raw);
  if (!r.success) throw new Error(`${file} is not a Cohort current-cluster record (${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}); remove it and start the cluster again`);
  return r.data;
}

/**
 * Removes the record when it names the cluster given (by config path, or by
 * name and address, or by the head pid); another cluster's record stays.
 * Returns true when it removed it.
 */
export function forgetCurrentCluster(match: { config?: string; cluster?: string; address?: string; pid?: number }, env: NodeJS.ProcessEnv = process.env): boolean {
  let cur: CurrentCluster | undefined;
  try {
    cur = readCurrentCluster(env);
  } catch {
    return false;
  }
  if (!cur) return false;
  const same =
    (match.config !== undefined && cur.config !== undefined && path.resolve(match.config) === cur.config) ||
    (match.pid !== undefined && cur.pids.includes(match.pid) && cur.host === hostname()) ||
    (match.cluster !== undefined && match.cluster === cur.cluster && (match.address === undefined || match.address === cur.address));
  if (!same) return false;
  rmSync(currentClusterFile(env), { force: true });
  return true;
}

/** One line for stderr: which cluster a command used and why. */
export function describeCurrentCluster(cur: CurrentCluster, env: NodeJS.ProcessEnv = process.env): string {
  const how = cur.startedBy === 'start-head' ? '`cohort start --head`' : `\`cohort up${cur.config ? ` ${cur.config}` : ''}\``;
  return `cluster "${cur.cluster}" at ${cur.address} (the current cluster: started by ${how} at ${new Date(cur.startedAt).toISOString()}, recorded in ${currentClusterFile(env)})`;
}

/**
 * Why the recorded cluster is known to be gone without asking the network:
 * its head / nats-server processes ran on this host and none is alive.
 * Undefined when it may still be up (or runs elsewhere).
 */
export function currentClusterGone(cur: CurrentCluster): string | undefined {
  if (cur.host !== hostname() || cur.pids.length === 0) return undefined;
  if (cur.pids.some((p) => pidAlive(p))) return undefined;
  return `its processes (pid ${cur.pids.join(', ')}) are no longer running`;
}
