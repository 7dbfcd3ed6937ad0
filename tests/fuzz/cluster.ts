import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActorHandle } from '@cohort/runtime';
import { ClusterBenchTarget, ClusterBenchTargetActor, ClusterStateStore, connect, connectCluster, localDown, localUp, parseClusterConfig, pidAlive, type ClusterConfig, type ClusterRuntime, type LocalClusterState } from '@cohort/cluster';

/** A real local cluster for the wire fuzz tests: nats-server, head, one agent (each its own process), a driver, one actor worker. */
export interface FuzzCluster {
  token: string;
  config: ClusterConfig;
  state: LocalClusterState;
  rt: ClusterRuntime;
  actor: ActorHandle<ClusterBenchTarget>;
  pids: { nats: number; head: number; agent: number; worker: number };
  addresses: { head: string; agent: string; worker: string };
  /** Every process still alive? (names of the dead ones) */
  dead(): string[];
  stop(): Promise<void>;
}

export async function startFuzzCluster(name: string): Promise<FuzzCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-fuzz-'));
  const token = `fuzz-token-${process.pid}`;
  const configPath = path.join(dir, 'cluster.yaml');
  writeFileSync(
    configPath,
    `clusterName: ${name}
provider: { type: local, stateDir: ${JSON.stringify(path.join(dir, 'state'))} }
nodeTypes:
  cpu: { count: 1, resources: { CPU: 4 }, workerPool: { prestart: 0 } }
membership: { heartbeatMs: 300, timeoutMs: 3000 }
security: { token: ${token} }
`,
  );
  const config = parseClusterConfig(readFileSync(configPath, 'utf8'), configPath);
  const env = { ...process.env };
  process.env.COHORT_DASHBOARD_PORT = '0';
  process.env.COHORT_LOG_LEVEL = 'error';
  let state: LocalClusterState | undefined;
  try {
    state = await localUp({ configPath, config });
    const rt = await connect(state.natsUrl, { token, runtime: { logLevel: 'silent' } });
    const actor = await rt.spawn(ClusterBenchTargetActor, [], { name: `${name}-target` });
    await actor.noop();
    const info = (await actor.$info())!;
    const pid = (role: string) => state!.processes.find((p) => p.role === role)!.pid;
    const agentAddress = await agentGrpcAddress(state, pid('agent'), token, name);
    const pids = { nats: pid('nats'), head: pid('head'), agent: pid('agent'), worker: info.pid! };
    const s = state;
    return {
      token,
      config,
      state: s,
      rt,
      actor,
      pids,
      addresses: { head: rt.clusterInfo.grpcAddress!, agent: agentAddress, worker: info.address! },
      dead: () => Object.entries(pids).filter(([, p]) => !pidAlive(p)).map(([k]) => k),
      async stop() {
        await rt.shutdown().catch(() => undefined);
        await localDown(config).catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (state) await localDown(config).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    process.env.COHORT_DASHBOARD_PORT = env.COHORT_DASHBOARD_PORT;
    if (env.COHORT_DASHBOARD_PORT === undefined) delete process.env.COHORT_DASHBOARD_PORT;
    process.env.COHORT_LOG_LEVEL = env.COHORT_LOG_LEVEL;
    if (env.COHORT_LOG_LEVEL === undefined) delete process.env.COHORT_LOG_LEVEL;
  }
}

async function agentGrpcAddress(state: LocalClusterState, agentPid: number, token: string, cluster: string): Promise<string> {
  const nc = await connectCluster({ url: state.natsUrl, token, name: 'fuzz' });
  try {
    const store = await ClusterStateStore.open(nc, { cluster });
    for (const { value } of (await store.nodes.list()).values()) if (value.pid === agentPid && value.address) return value.address;
  } finally {
    await nc.close();
  }
  throw new Error('the agent has no address in the node table');
}
