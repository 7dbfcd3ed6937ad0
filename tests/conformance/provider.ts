// The providers the conformance suite runs against, in the Proto.Actor manner:
// one set of actor-semantics cases (suite.ts), run unchanged on each.
//  - local:   init() — one node, workers are children of the driver.
//  - cluster: connect() to a real cluster: nats-server, a head and two node
//             agents (each with its own worker processes), started once per file.
// Both offer the same resources in total (8 CPU, 2 GPU); the cluster splits
// them over two nodes, so the cases are written in terms of (node, GPU id).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { init, type Runtime } from '@cohort/runtime';
import { connect, startClusterHead, startClusterNode, startNatsServer } from '@cohort/cluster';

export interface ProviderRuntime {
  rt: Runtime;
  stop(): Promise<void>;
}

export interface Provider {
  readonly name: 'local' | 'cluster';
  /**
   * A demand no node can ever hold: `throws` InfeasibleError at spawn (local:
   * the node set is fixed), or stays `pending` with an `infeasible: ...`
   * reason (cluster: a node that can hold it may still join, as in Ray).
   */
  readonly infeasible: 'throws' | 'pending';
  start(o: { logger: Logger }): Promise<ProviderRuntime>;
}

/** Message limit both providers use (the oversized-message case needs a small one). */
export const MAX_MESSAGE_BYTES = 1 << 20;

export const localProvider: Provider = {
  name: 'local',
  infeasible: 'throws',
  async start({ logger }) {
    const rt = await init({ logger, resources: { CPU: 8, GPU: 2 }, maxMessageBytes: MAX_MESSAGE_BYTES, restartBackoffMs: 50 });
    return { rt, stop: () => rt.shutdown() };
  },
};

const TOKEN = 'conformance-cluster-token';

export const clusterProvider: Provider = {
  name: 'cluster',
  infeasible: 'pending',
  async start({ logger }) {
    process.env.COHORT_LOG_LEVEL ??= 'silent';
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-conformance-'));
    const stops: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
    const stop = async () => {
      for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
    };
    try {
      const nats = await startNatsServer({ dir, token: TOKEN });
      stops.push(() => nats.stop(2000));
      const head = await startClusterHead({ cluster: 'conf', natsUrl: nats.url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 1500, restartBackoffMs: 50, logLevel: 'info' });
      stops.push(() => head.stop({ killActors: true }));
      for (const id of ['node-a', 'node-b']) {
        const node = await startClusterNode({ address: nats.url, auth: { token: TOKEN }, nodeId: id, resources: { CPU: 4, GPU: 1 }, heartbeatMs: 200 });
        stops.push(() => node.stop());
      }
      const end = Date.now() + 15_000;
      while (head.controlPlane.nodeIds().length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      const rt = await connect(nats.url, { token: TOKEN, logger, runtime: { maxMessageBytes: MAX_MESSAGE_BYTES } });
      stops.push(() => rt.shutdown());
      return { rt, stop };
    } catch (err) {
      await stop();
      throw err;
    }
  },
};
