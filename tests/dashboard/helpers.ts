import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { until } from '../helpers/until.js';
import { connectCluster, startClusterHead, startClusterNode, startNatsServer, ClusterStateStore, type ClusterHeadService, type ClusterNode } from '@cohort/cluster';

process.env.COHORT_LOG_LEVEL ??= 'silent';

/** A temp dir removed when the test ends. */
export function tempDir(t: ExecutionContext, prefix = 'cohort-dash-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export { until };

export interface LocalCluster {
  url: string;
  token: string;
  cluster: string;
  head: ClusterHeadService;
  nodes: ClusterNode[];
  store: ClusterStateStore;
  nc: Awaited<ReturnType<typeof connectCluster>>;
}

/**
 * A real local cluster for one test: nats-server (random port, temp store),
 * a head and node agents in this process; workers are real child processes.
 * Everything is stopped at teardown.
 */
export async function localCluster(t: ExecutionContext, cluster: string, nodes: Array<{ id: string; resources: Record<string, number> }>): Promise<LocalCluster> {
  const token = `tok-${cluster}`;
  const server = await startNatsServer({ dir: tempDir(t, 'cohort-dash-nats-'), token });
  t.teardown(() => server.stop(2000));
  // Teardown order matters: the head stops before its nodes leave (a leave makes the head
  // read KV, which must not be in flight when its connection closes), then the nodes.
  const stops: Array<() => Promise<unknown>> = [];
  let head: ClusterHeadService | undefined;
  t.teardown(async () => {
    await head?.stop({ killActors: true }).catch(() => undefined);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });
  head = await startClusterHead({ cluster, natsUrl: server.url, auth: { token }, heartbeatMs: 200, timeoutMs: 2000, logLevel: 'info' });
  const nc = await connectCluster({ url: server.url, token, name: 'dashboard-test' });
  stops.push(() => nc.close());
  const out: ClusterNode[] = [];
  for (const n of nodes) {
    const node = await startClusterNode({ address: server.url, auth: { token }, nodeId: n.id, resources: n.resources, heartbeatMs: 200 });
    stops.push(() => node.stop());
    out.push(node);
  }
  const h = head;
  await until(() => h.controlPlane.nodeIds().length === nodes.length);
  const store = await ClusterStateStore.open(nc, { cluster });
  return { url: server.url, token, cluster, head, nodes: out, store, nc };
}
