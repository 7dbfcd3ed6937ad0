import type { ActorHandle } from '@cohort/runtime';
import { ClusterBenchTarget, ClusterBenchTargetActor } from '@cohort/cluster/bench';
import { ClusterStateStore, connect, connectCluster, pidAlive, startScratchCluster, type ClusterConfig, type ClusterRuntime, type LocalClusterState } from '@cohort/cluster';

/** A real local cluster for the wire fuzz tests: nats-server, head, one agent (each its own process), a driver, one actor worker. */
export interface FuzzCluster {
  token: string;
  config: ClusterConfig;
  state: LocalClusterState;
  rt: ClusterRuntime;
  actor: ActorHandle<ClusterBenchTarget>;
  pids: { nats: number; head: number; agent: number; worker: number };
  addresses: { head: string; agent: string; worker: string };
  /** Names of the processes that died. */
  dead(): string[];
  stop(): Promise<void>;
}

export async function startFuzzCluster(name: string): Promise<FuzzCluster> {
  const c = await startScratchCluster({ name, nodeTypes: { cpu: { count: 1, resources: { CPU: 4 }, workerPool: { prestart: 0 } } }, env: { COHORT_DASHBOARD_PORT: '0', COHORT_LOG_LEVEL: 'error' } });
  try {
    const { state, token } = c;
    const rt = await connect(state.natsUrl, { token, runtime: { logLevel: 'silent' } });
    const actor = await rt.spawn(ClusterBenchTargetActor, [], { name: `${name}-target` });
    await actor.noop();
    const info = (await actor.$info())!;
    const pid = (role: string) => state.processes.find((p) => p.role === role)!.pid;
    const pids = { nats: pid('nats'), head: pid('head'), agent: pid('agent'), worker: info.pid! };
    return {
      token,
      config: c.config,
      state,
      rt,
      actor,
      pids,
      addresses: { head: rt.clusterInfo.grpcAddress!, agent: await agentGrpcAddress(state, pids.agent, token, name), worker: info.address! },
      dead: () => Object.entries(pids).filter(([, p]) => !pidAlive(p)).map(([k]) => k),
      async stop() {
        await rt.shutdown().catch(() => undefined);
        await c.stop();
      },
    };
  } catch (err) {
    await c.stop();
    throw err;
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
