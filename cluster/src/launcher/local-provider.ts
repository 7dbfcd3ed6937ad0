import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pidAlive } from '@cohort/runtime';
import { z } from 'zod';
import { headNatsPort, nodeTypeResources, resolveToken, type ClusterConfig } from '../cluster-config.js';
import { connectCluster } from '../nats-connect.js';
import { startNatsServer, stopPid } from '../nats-server.js';
import { ClusterStateStore } from '../state-store.js';

/** The `cohort` binary of this checkout. */
export const COHORT_BIN = fileURLToPath(new URL('../../../cli/bin/cohort.mjs', import.meta.url));

/** One process started by the launcher. */
export const LaunchedProcessSchema = z.object({
  role: z.enum(['nats', 'head', 'agent']),
  id: z.string(),
  pid: z.number().int(),
  log: z.string().optional(),
  command: z.array(z.string()).optional(),
});
export type LaunchedProcess = z.infer<typeof LaunchedProcessSchema>;

/** What `cohort up` (local provider) records in `<stateDir>/state.json`. */
export const LocalClusterStateSchema = z.object({
  clusterName: z.string(),
  configPath: z.string(),
  natsUrl: z.string(),
  startedAt: z.number(),
  processes: z.array(LaunchedProcessSchema),
});
export type LocalClusterState = z.infer<typeof LocalClusterStateSchema>;

/** Where the local provider keeps a cluster's pids, ports, token and logs. */
export function localStateDir(config: ClusterConfig, override?: string): string {
  if (override) return path.resolve(override);
  if (config.provider.type === 'local' && config.provider.stateDir) return path.resolve(config.provider.stateDir.replace(/^~(?=\/|$)/, homedir()));
  const base = process.env.COHORT_STATE_DIR ?? path.join(homedir(), '.cohort', 'clusters');
  return path.join(base, config.clusterName);
}

/** Reads `<stateDir>/state.json`, or undefined when the cluster is not up. */
export function readLocalState(stateDir: string): LocalClusterState | undefined {
  const f = path.join(stateDir, 'state.json');
  if (!existsSync(f)) return undefined;
  const r = LocalClusterStateSchema.safeParse(JSON.parse(readFileSync(f, 'utf8')));
  if (!r.success) throw new Error(`${f} is not a Cohort cluster state file (${r.error.issues[0].message}); remove it if no cluster is running`);
  return r.data;
}

/** The token of a local cluster: from the config, else the one `up` generated into `<stateDir>/token`. */
export function localToken(config: ClusterConfig, stateDir: string): string | undefined {
  const fromConfig = resolveToken(config.security);
  if (fromConfig) return fromConfig;
  const f = path.join(stateDir, 'token');
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

/** The agents a config asks for: `<cluster>-<type>-<i>`. */
export function plannedNodes(config: ClusterConfig): Array<{ nodeId: string; nodeType: string }> {
  const out: Array<{ nodeId: string; nodeType: string }> = [];
  for (const [t, nt] of Object.entries(config.nodeTypes)) for (let i = 0; i < nt.count; i++) out.push({ nodeId: `${config.clusterName}-${t}-${i}`, nodeType: t });
  return out;
}

export interface LocalUpOptions {
  configPath: string;
  config: ClusterConfig;
  stateDir?: string;
  /** How long to wait for every agent to show up alive. Default 60 s. */
  timeoutMs?: number;
  /** Report progress lines (the CLI prints them). */
  progress?: (line: string) => void;
}

function spawnDetached(argv: string[], log: string, env: NodeJS.ProcessEnv): number {
  const fd = openSync(log, 'a');
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
  return child.pid;
}

/**
 * `cohort up` with the local provider: a nats-server, the head and one agent
 * process per node, each detached from the launcher, recorded in the state dir.
 * Resolves once every agent is alive in the node table.
 */
export async function localUp(o: LocalUpOptions): Promise<LocalClusterState> {
  const { config } = o;
  const say = o.progress ?? (() => undefined);
  const stateDir = localStateDir(config, o.stateDir);
  const existing = readLocalState(stateDir);
  if (existing && existing.processes.some((p) => pidAlive(p.pid))) {
    throw new Error(`cluster "${config.clusterName}" is already up (state in ${stateDir}); run \`cohort down ${o.configPath}\` first`);
  }
  mkdirSync(stateDir, { recursive: true });
  let token = resolveToken(config.security);
  if (!token && !config.security.natsCreds) {
    token = randomBytes(24).toString('hex');
    writeFileSync(path.join(stateDir, 'token'), token + '\n', { mode: 0o600 });
  }
  const env = { ...process.env, COHORT_TOKEN: token ?? '' };
  const processes: LaunchedProcess[] = [];
  const stopAll = async () => {
    for (const p of processes.slice().reverse()) await stopPid(p.pid, 5000);
  };
  try {
    let natsUrl = config.head.nats.url;
    if (!natsUrl) {
      const natsDir = path.join(stateDir, 'nats');
      rmSync(natsDir, { recursive: true, force: true });
      const nats = await startNatsServer({ dir: natsDir, host: config.bind, port: headNatsPort(config) || -1, token, detached: true });
      natsUrl = nats.url;
      processes.push({ role: 'nats', id: 'nats', pid: nats.pid, log: path.join(natsDir, 'nats-server.log') });
      say(`nats-server pid ${nats.pid} at ${natsUrl}`);
    }
    const node = process.execPath;
    // --no-record: the CLI's `up` records the whole cluster (with its state dir) as the current one
    const headCmd = [node, COHORT_BIN, 'start', '--head', '--no-record', '--address', natsUrl, '--config', path.resolve(o.configPath)];
    const headLog = path.join(stateDir, 'head.log');
    processes.push({ role: 'head', id: 'head', pid: spawnDetached(headCmd, headLog, env), log: headLog, command: headCmd });
    say(`head pid ${processes.at(-1)!.pid} (log ${headLog})`);
    const nodes = plannedNodes(config);
    if (config.head.nodeType) nodes.unshift({ nodeId: `${config.clusterName}-head`, nodeType: config.head.nodeType });
    for (const n of nodes) {
      const cmd = [node, COHORT_BIN, 'start', '--address', natsUrl, '--config', path.resolve(o.configPath), '--node-type', n.nodeType, '--node-id', n.nodeId];
      const log = path.join(stateDir, `agent-${n.nodeId}.log`);
      const extraEnv = { ...env, ...config.nodeTypes[n.nodeType].env };
      processes.push({ role: 'agent', id: n.nodeId, pid: spawnDetached(cmd, log, extraEnv), log, command: cmd });
      say(`agent ${n.nodeId} pid ${processes.at(-1)!.pid} ${JSON.stringify(nodeTypeResources(config.nodeTypes[n.nodeType]))}`);
    }
    const state: LocalClusterState = { clusterName: config.clusterName, configPath: path.resolve(o.configPath), natsUrl, startedAt: Date.now(), processes };
    writeFileSync(path.join(stateDir, 'state.json'), JSON.stringify(state, null, 2));
    await waitForNodes(natsUrl, token, config.clusterName, nodes.map((n) => n.nodeId), o.timeoutMs ?? 60_000, processes);
    say(`cluster "${config.clusterName}" is up: ${nodes.length} node(s) alive at ${natsUrl}`);
    return state;
  } catch (err) {
    await stopAll();
    rmSync(path.join(stateDir, 'state.json'), { force: true });
    throw err;
  }
}

async function waitForNodes(url: string, token: string | undefined, cluster: string, ids: string[], timeoutMs: number, procs: LaunchedProcess[]): Promise<void> {
  const nc = await connectCluster({ url, token, name: 'cohort up' });
  try {
    const store = await ClusterStateStore.open(nc, { cluster });
    const end = Date.now() + timeoutMs;
    let missing = ids;
    while (Date.now() < end) {
      const nodes = await store.nodes.list();
      missing = ids.filter((id) => nodes.get(id)?.value.state !== 'alive');
      if (missing.length === 0) return;
      const dead = procs.find((p) => !pidAlive(p.pid));
      if (dead) throw new Error(`${dead.role} ${dead.id} (pid ${dead.pid}) exited during start-up; see ${dead.log}:\n${tail(dead.log)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for node(s) ${missing.join(', ')} to join; see the logs in ${path.dirname(procs.at(-1)?.log ?? '.')}`);
  } finally {
    await nc.close();
  }
}

function tail(file: string | undefined, n = 8): string {
  if (!file) return '';
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/**
 * `cohort down` with the local provider: stops agents (they leave cleanly),
 * then the head, then nats-server, and removes the state file and NATS store.
 * Returns the processes it stopped.
 */
export async function localDown(config: ClusterConfig, stateDirOverride?: string): Promise<LaunchedProcess[]> {
  const stateDir = localStateDir(config, stateDirOverride);
  const state = readLocalState(stateDir);
  if (!state) return [];
  const order = ['agent', 'head', 'nats'] as const;
  for (const role of order) {
    await Promise.all(state.processes.filter((p) => p.role === role).map((p) => stopPid(p.pid, 5000)));
  }
  rmSync(path.join(stateDir, 'state.json'), { force: true });
  rmSync(path.join(stateDir, 'nats'), { recursive: true, force: true });
  return state.processes;
}
