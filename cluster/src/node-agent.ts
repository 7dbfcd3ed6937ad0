import { execFileSync } from 'node:child_process';
import { availableParallelism, hostname, totalmem } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ResourceMap } from '@cohort/runtime';
import { discoverCluster, type ClusterInfo } from './head.js';
import { childLogger } from './log.js';
import { NodeHeartbeat } from './membership.js';
import { connectCluster, type NatsAuth } from './nats-connect.js';
import { KEY_PATTERN } from './state-store.js';

/** GPUs reported by `nvidia-smi`, or 0 when it is missing or fails. */
export function detectGpus(bin = 'nvidia-smi'): number {
  try {
    const out = execFileSync(bin, ['--query-gpu=index', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((l) => /^\s*\d+\s*$/.test(l)).length;
  } catch {
    return 0;
  }
}

/** Resources of this machine: CPU cores, memory bytes and `nvidia-smi` GPUs. */
export function detectResources(): ResourceMap {
  const r: ResourceMap = { CPU: availableParallelism(), memory: totalmem() };
  const gpus = detectGpus();
  if (gpus > 0) r.GPU = gpus;
  return r;
}

/** Options for {@link NodeAgent.start}. */
export interface NodeAgentOptions {
  /** NATS URL of the cluster (the head's address). */
  address: string;
  auth?: NatsAuth;
  /** Unique node id; default `<hostname>-<pid>`. */
  nodeId?: string;
  /** Cluster name; default: asked from the head (discovery). */
  cluster?: string;
  /** Resources to offer; default {@link detectResources}. */
  resources?: ResourceMap;
  labels?: Record<string, string>;
  nodeType?: string;
  /** gRPC address where this agent serves (once it runs workers). */
  grpcAddress?: string;
  /** Heartbeat interval; default the head's. */
  heartbeatMs?: number;
  logger?: Logger;
}

/**
 * A node agent: joins the cluster (token-checked by NATS), announces its
 * resources and labels in heartbeats, and leaves cleanly on {@link stop}.
 */
export class NodeAgent {
  private stopped = false;

  private constructor(
    readonly nodeId: string,
    readonly info: ClusterInfo,
    readonly nc: NatsConnection,
    readonly resources: ResourceMap,
    private readonly heartbeat: NodeHeartbeat,
    private readonly log: Logger,
  ) {}

  static async start(o: NodeAgentOptions): Promise<NodeAgent> {
    const nodeId = o.nodeId ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`;
    if (!KEY_PATTERN.test(nodeId)) throw new Error(`node id "${nodeId}" must use letters, digits, "-", "_", "." or "=" only`);
    const resources = o.resources ?? detectResources();
    for (const [k, v] of Object.entries(resources)) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`node resources: ${k} must be a number ≥ 0, found ${v}`);
    }
    const log = childLogger({ role: 'agent', node: nodeId }, o.logger);
    const nc = await connectCluster({ ...o.auth, url: o.address, name: `agent ${nodeId}` });
    try {
      const info = o.cluster ? { cluster: o.cluster, epoch: 0, heartbeatMs: o.heartbeatMs ?? 1000, timeoutMs: 0 } : await discoverCluster(nc);
      const heartbeat = new NodeHeartbeat(nc, {
        cluster: info.cluster,
        intervalMs: o.heartbeatMs ?? info.heartbeatMs,
        node: { nodeId, resources, labels: o.labels ?? {}, address: o.grpcAddress, hostname: hostname(), pid: process.pid, nodeType: o.nodeType },
        logger: log,
      });
      heartbeat.start();
      log.info({ cluster: info.cluster, resources }, 'node agent joined');
      return new NodeAgent(nodeId, info, nc, resources, heartbeat, log);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  /** Leaves the cluster (announced, so the head records `left`, not `dead`). */
  async stop(reason = 'shutdown'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.heartbeat.stop(true, reason);
    await this.nc.drain().catch(() => undefined);
    this.log.info('node agent left');
  }
}
