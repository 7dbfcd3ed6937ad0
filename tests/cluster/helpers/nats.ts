import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, connectCluster, type NatsServerHandle, type NatsServerOptions } from '@cohort/cluster';

process.env.COHORT_LOG_LEVEL ??= 'silent';

/** A temp dir removed when the test ends. */
export function tempDir(t: ExecutionContext, prefix = 'cohort-cluster-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts a real nats-server (JetStream, random loopback port, store in a temp
 * dir) for one test; it is stopped (and any restart of it) at teardown.
 */
export async function withNats(t: ExecutionContext, o: Partial<NatsServerOptions> = {}): Promise<{ server: () => NatsServerHandle; restart: () => Promise<NatsServerHandle>; dir: string }> {
  const dir = o.dir ?? tempDir(t);
  let server = await startNatsServer({ ...o, dir });
  t.teardown(() => server.stop(2000));
  return {
    server: () => server,
    dir,
    async restart() {
      server = await server.restart();
      return server;
    },
  };
}

/** Connects a client that is closed at teardown. */
export async function client(t: ExecutionContext, url: string, token?: string, name = 'test'): Promise<NatsConnection> {
  const nc = await connectCluster({ url, token, name });
  t.teardown(() => nc.close().catch(() => undefined));
  return nc;
}

export { until } from '../../helpers/until.js';
