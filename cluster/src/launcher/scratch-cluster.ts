import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseClusterConfig, type ClusterConfig } from '../cluster-config.js';
import { localDown, localUp, type LocalClusterState } from './local-provider.js';

/** A throwaway local cluster (`cohort up` with the local provider) in a temp dir, with a token. */
export interface ScratchCluster {
  dir: string;
  configPath: string;
  config: ClusterConfig;
  token: string;
  state: LocalClusterState;
  /** `cohort down` and the temp dir removed. */
  stop(): Promise<void>;
}

export interface ScratchClusterOptions {
  name: string;
  /** The config's `nodeTypes` (as in a cluster YAML). */
  nodeTypes: Record<string, unknown>;
  membership?: { heartbeatMs: number; timeoutMs: number };
  /** Environment the launched processes get on top of this one's (e.g. `COHORT_DASHBOARD_PORT`). */
  env?: Record<string, string>;
  progress?: (line: string) => void;
}

/**
 * Starts a nats-server, a head and the agents of `nodeTypes` as separate
 * processes, as `cohort up` does, under a temp dir (benchmarks and the fuzz
 * and chaos suites use it).
 */
export async function startScratchCluster(o: ScratchClusterOptions): Promise<ScratchCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), `cohort-${o.name}-`));
  const token = randomBytes(24).toString('hex');
  const configPath = path.join(dir, 'cluster.yaml');
  // JSON is YAML: the config file is written as JSON
  const raw = { clusterName: o.name, provider: { type: 'local', stateDir: path.join(dir, 'state') }, nodeTypes: o.nodeTypes, membership: o.membership ?? { heartbeatMs: 300, timeoutMs: 3000 }, security: { token } };
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const config = parseClusterConfig(JSON.stringify(raw), configPath);
  // the launcher hands this process's environment to what it starts
  const saved = Object.fromEntries(Object.keys(o.env ?? {}).map((k) => [k, process.env[k]]));
  Object.assign(process.env, o.env);
  let state: LocalClusterState;
  try {
    state = await localUp({ configPath, config, progress: o.progress });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  // the launched processes are detached: if this process ends without stop() (a test timed out), take them along
  const orphans = () => {
    for (const p of state.processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', orphans);
  return {
    dir,
    configPath,
    config,
    token,
    state,
    async stop() {
      process.off('exit', orphans);
      await localDown(config).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
