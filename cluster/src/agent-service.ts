import type { Logger } from 'pino';
import { LocalWorkerLauncher, Runtime, controlPlaneClient, resolveRuntimeConfig, resolveWorkerPool, type WorkerLaunch, type WorkerPoolOptions, type WorkerProcess } from '@cohort/runtime';
import { AGENT_OPS, HEAD_WORKER_EXIT, type WorkerExitReport } from './cluster-control-plane.js';
import { AGENT_HEAD_ADDRESS, dataPlaneExtras, workerDataPlaneEnv, type DataPlaneOptions } from './data-plane.js';
import { discoverCluster } from './head.js';
import { childLogger } from './log.js';
import { NatsLogSink, fanoutLogger } from './log-fanout.js';
import { NodeAgent, type NodeAgentOptions } from './node-agent.js';

/** Options for {@link startClusterNode}. */
export interface ClusterNodeOptions extends Omit<NodeAgentOptions, 'grpcAddress'> {
  /** Interface the agent's data plane (and its workers') binds to (the head dials it). Default 127.0.0.1. */
  host?: string;
  /** Host put in the advertised addresses of the agent and its workers (default `host`, or the hostname when `host` is a wildcard). */
  advertiseHost?: string;
  /** Token every data-plane peer must present; default `auth.token`. Without one (NATS creds only), use `tls`. */
  dataPlaneToken?: string;
  /** Mutual TLS on the data plane (config `security.tls`); workers get the same. */
  tls?: DataPlaneOptions['tls'];
  /** Idle workers kept booted and the shared-process size (runtime `workerPool`; default prestart 2). */
  workerPool?: WorkerPoolOptions;
}

/** A running node agent that runs actor workers for the head. */
export interface ClusterNode {
  readonly agent: NodeAgent;
  readonly nodeId: string;
  /** gRPC data-plane address the head dials to start workers. */
  readonly grpcAddress: string;
  /** Pids of the worker processes alive on this node. */
  workerPids(): number[];
  /** Leaves the cluster and kills every worker it runs. */
  stop(): Promise<void>;
}

/**
 * Starts `cohort start --address HEAD`: joins the cluster and serves
 * `agent.start` / `agent.kill` for the head, running each actor in a worker
 * process of the runtime (GPU ids from the head's scheduler exported as
 * `CUDA_VISIBLE_DEVICES`). Workers die with the agent; their exits are
 * reported to the head.
 */
export async function startClusterNode(o: ClusterNodeOptions): Promise<ClusterNode> {
  const nodeId = o.nodeId ?? `node-${process.pid}`;
  const logger: Logger = childLogger({ role: 'agent', node: nodeId }, o.logger);
  const dp: DataPlaneOptions = { token: o.dataPlaneToken ?? o.auth?.token, tls: o.tls, bind: o.host ?? '127.0.0.1', advertiseHost: o.advertiseHost };
  // Workers get the same data-plane rules (token, TLS, bind, advertised host) through the runtime's COHORT_ENDPOINT_SETUP hook.
  const workerEnv = workerDataPlaneEnv(dp);
  const rt = await Runtime.start({
    config: resolveRuntimeConfig({ host: dp.bind }),
    endpoint: dataPlaneExtras(dp),
    logger,
    ownerId: `agent-${nodeId}`,
    controlPlane: (ep) => controlPlaneClient(ep, ep.address),
  });
  // Worker output goes to this process's stderr and, once joined, to the cluster's log subject on NATS.
  const sink = new NatsLogSink(nodeId);
  const agentEnv = { ...workerEnv, COHORT_AGENT_ADDRESS: rt.address };
  const local = new LocalWorkerLauncher(nodeId, fanoutLogger(sink, { role: 'agent', node: nodeId }), { workerPool: resolveWorkerPool(o.workerPool), env: agentEnv });
  /** Actor id → its worker (several actors share one process with `process: 'shared'`). */
  const workers = new Map<string, WorkerProcess>();
  // Workers killed because this node is going away are not reported one by one:
  // the head learns of the node's loss (leave or heartbeat timeout) and reschedules them elsewhere.
  let stopping = false;
  rt.endpoint.handle(AGENT_OPS.start, (body) => {
    const launch = body as WorkerLaunch;
    if (!launch || typeof launch.actorId !== 'string' || typeof launch.controlAddress !== 'string' || !Array.isArray(launch.gpuIds)) {
      throw new Error('agent.start: expected a WorkerLaunch {actorId, incarnation, gpuIds, controlAddress, logLevel, env}');
    }
    const w = local.start({ ...launch, env: { ...launch.env, ...agentEnv } }, (exit) => {
      if (workers.get(launch.actorId) === w) workers.delete(launch.actorId);
      if (stopping) return;
      const report: WorkerExitReport = { actorId: launch.actorId, incarnation: launch.incarnation, code: exit.code, signal: exit.signal };
      // The head that launched it may have been replaced by a restarted one: ask NATS for the current head on failure.
      rt.endpoint
        .request(launch.controlAddress, HEAD_WORKER_EXIT, report)
        .catch(async () => {
          const info = await discoverCluster(agent.nc, 5000);
          if (!info.grpcAddress || info.grpcAddress === launch.controlAddress) throw new Error('no other head to report to');
          await rt.endpoint.request(info.grpcAddress, HEAD_WORKER_EXIT, report);
        })
        .catch((err) => logger.warn({ err, actor: launch.actorId }, 'could not report a worker exit to the head'));
    });
    workers.get(launch.actorId)?.kill(); // a stale incarnation still running
    workers.set(launch.actorId, w);
    return { pid: w.pid };
  });
  // Workers ask where the head is after their connection to it broke (a head restarted on another address).
  rt.endpoint.handle(AGENT_HEAD_ADDRESS, async () => {
    const info = await discoverCluster(agent.nc, 15_000);
    return { grpcAddress: info.grpcAddress };
  });
  // Re-registration: a restarted head asks which actors this node's workers serve.
  rt.endpoint.handle(AGENT_OPS.running, () => ({ nodeId, actors: local.running() }));
  rt.endpoint.handle(AGENT_OPS.kill, (body) => {
    const { pid, actorId } = (body ?? {}) as { pid?: number; actorId?: string };
    const w = actorId !== undefined ? workers.get(actorId) : [...workers.values()].find((x) => x.pid === Number(pid));
    if (w && (pid === undefined || w.pid === Number(pid))) w.kill();
    return null;
  });
  let agent: NodeAgent;
  try {
    agent = await NodeAgent.start({ ...o, nodeId, grpcAddress: rt.address, logger });
    sink.attach(agent.nc, agent.info.cluster);
  } catch (err) {
    await rt.shutdown();
    throw err;
  }
  return {
    agent,
    nodeId,
    grpcAddress: rt.address,
    workerPids: () => local.pids(),
    async stop() {
      stopping = true;
      await agent.stop();
      await local.shutdown();
      await rt.shutdown();
    },
  };
}
