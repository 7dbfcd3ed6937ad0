import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { forgetCurrentCluster, recordCurrentCluster, startClusterHead, startClusterNode, headNatsPort, loadClusterConfig, nodeTypeResources, resolveToken, type ClusterConfig } from '@cohort/cluster';
import { parseDashboardPort, startHeadDashboard } from '@cohort/dashboard';
import type { WorkerPoolOptions } from '@cohort/runtime';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

const usage = `Usage:
  cohort start --head [--address NATS_URL] [--config FILE] [--cluster NAME] [--nats-dir DIR] [--nats-port N] [--grpc-port N] [--bind HOST] [--advertise HOST] [--token-file F] [--no-record]
  cohort start --address NATS_URL [--config FILE --node-type TYPE] [--node-id ID] [--resources JSON] [--labels k=v,...] [--bind HOST] [--advertise HOST] [--token-file F]

--head       run the control plane. Without --address it starts a managed nats-server
             (JetStream store in --nats-dir, default ~/.cohort/head-<cluster>/nats) on
             --bind (default 127.0.0.1) and --nats-port (default any free port).
--address    join the cluster whose NATS server is at NATS_URL as a node agent. Resources come
             from the node type in --config, else --resources '{"CPU":4,"GPU":1}', else detection
             (CPU cores, memory, nvidia-smi GPUs).
--bind       interface to listen on (NATS, gRPC data plane, bulk sockets; default the config's
             bind, else 127.0.0.1); --advertise HOST (or COHORT_ADVERTISE_HOST) is the address
             peers dial when binding 0.0.0.0 (default: the hostname).
--grpc-port  fixed port of the head's gRPC data plane (default the config's head.grpcPort, else any).
Credentials: COHORT_TOKEN, --token-file, or the config's security section. The token guards NATS
and every gRPC data-plane connection (actor calls); security.tls adds mutual TLS to the latter.
A managed head with no token generates one and writes it beside the NATS store (mode 0600).
--dashboard-port N|0|off  (head) serve the dashboard and Prometheus /metrics on port N (default
             COHORT_DASHBOARD_PORT, else 8265, or a free port when 8265 is taken; 0 any free port)
--dashboard-host HOST     (head) interface of the dashboard (default 127.0.0.1: loopback only); bound
             elsewhere, its /api/* and /metrics require the cluster token (Bearer header, or
             open /?token=TOKEN once in a browser)
--no-record  (head) do not make this the current cluster. By default a head records its
             address, token file and config in ~/.cohort/current-cluster.json (or
             $XDG_STATE_HOME/cohort/), so \`cohort status\` etc. find it without flags, and
             removes the record when it stops (\`cohort up\` records its clusters itself).
Runs in the foreground until SIGINT/SIGTERM; prints one "ready" line on stdout (the head a
second one, "cohort dashboard: URL").`;

function readTokenFile(f: string): string {
  try {
    return readFileSync(f, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--token-file: cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const kv of s.split(',')) {
    const m = /^([^=]+)=(.*)$/.exec(kv.trim());
    if (!m) throw new UsageError(`--labels: "${kv}" is not key=value (e.g. --labels role=trainer,zone=a)`);
    out[m[1]] = m[2];
  }
  return out;
}

function parseResources(s: string): Record<string, number> {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new UsageError(`--resources: not JSON: ${s} (e.g. --resources '{"CPU":4,"GPU":1}')`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'number' || x < 0)) {
    throw new UsageError(`--resources: expected an object of numbers ≥ 0, found ${s}`);
  }
  return v as Record<string, number>;
}

/** Waits for SIGINT / SIGTERM, then runs `stop`. */
function untilSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const on = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

commands.push({
  path: ['start'],
  summary: 'run a cluster head (--head) or a node agent (--address HEAD)',
  usage,
  async run(argv) {
    const { values: v } = parseFlags(
      argv,
      {
        head: { type: 'boolean' },
        address: { type: 'string' },
        config: { type: 'string' },
        cluster: { type: 'string' },
        'nats-dir': { type: 'string' },
        'nats-port': { type: 'string' },
        bind: { type: 'string' },
        advertise: { type: 'string' },
        'grpc-port': { type: 'string' },
        'token-file': { type: 'string' },
        'node-type': { type: 'string' },
        'node-id': { type: 'string' },
        resources: { type: 'string' },
        labels: { type: 'string' },
        'dashboard-port': { type: 'string' },
        'dashboard-host': { type: 'string' },
        'no-record': { type: 'boolean' },
      },
      false,
    );
    const config: ClusterConfig | undefined = v.config ? loadClusterConfig(v.config) : undefined;
    let token = v['token-file'] ? readTokenFile(v['token-file']) : process.env.COHORT_TOKEN || undefined;
    token ??= config ? resolveToken(config.security) : undefined;
    const credsFile = config?.security.natsCreds;
    const bind = v.bind ?? config?.bind ?? '127.0.0.1';
    const advertiseHost = v.advertise ?? (process.env.COHORT_ADVERTISE_HOST || undefined);
    const tls = config?.security.tls;

    if (v['no-record'] && !v.head) throw new UsageError('--no-record is for the head (--head)');
    if (v.head) {
      for (const f of ['node-type', 'node-id', 'resources', 'labels'] as const) if (v[f] !== undefined) throw new UsageError(`--${f} is for node agents, not with --head`);
      let dashboardPort: number | 'off' | undefined;
      try {
        dashboardPort = v['dashboard-port'] === undefined ? undefined : parseDashboardPort(v['dashboard-port']);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const cluster = v.cluster ?? config?.clusterName ?? 'default';
      const natsDir = v['nats-dir'] ? path.resolve(v['nats-dir'].replace(/^~(?=\/|$)/, homedir())) : path.join(homedir(), '.cohort', `head-${cluster}`, 'nats');
      let tokenFile = v['token-file'] ? path.resolve(v['token-file']) : config?.security.tokenFile ? path.resolve(config.security.tokenFile) : undefined;
      if (!v.address && !token && !credsFile) {
        const tf = path.join(path.dirname(natsDir), 'token');
        tokenFile = tf;
        if (existsSync(tf)) token = readFileSync(tf, 'utf8').trim();
        else {
          mkdirSync(path.dirname(tf), { recursive: true });
          token = randomBytes(24).toString('hex');
          writeFileSync(tf, token + '\n', { mode: 0o600 });
          process.stderr.write(`cohort start: generated a cluster token in ${tf}; give it to agents with --token-file or COHORT_TOKEN\n`);
        }
      }
      let natsPort: number | undefined;
      if (v['nats-port'] !== undefined) {
        natsPort = Number(v['nats-port']);
        if (!Number.isInteger(natsPort) || natsPort < 0 || natsPort > 65535) throw new UsageError(`--nats-port: expected a port number, found ${v['nats-port']}`);
      } else if (config) natsPort = headNatsPort(config);
      let grpcPort = config?.head.grpcPort;
      if (v['grpc-port'] !== undefined) {
        grpcPort = Number(v['grpc-port']);
        if (!Number.isInteger(grpcPort) || grpcPort < 0 || grpcPort > 65535) throw new UsageError(`--grpc-port: expected a port number, found ${v['grpc-port']}`);
      }
      const svc = await startClusterHead({
        cluster,
        natsUrl: v.address ?? config?.head.nats.url,
        managedNats: { dir: natsDir, host: bind, port: natsPort },
        auth: { token, credsFile },
        heartbeatMs: config?.membership.heartbeatMs,
        timeoutMs: config?.membership.timeoutMs,
        host: bind,
        advertiseHost,
        grpcPort,
        tls,
      });
      process.stdout.write(`cohort head ready: cluster ${cluster} at ${svc.natsUrl} (epoch ${svc.head.epoch}, control plane ${svc.grpcAddress})\n`);
      // the dashboard (and /metrics); a port asked for explicitly must work, the default is best effort
      const dash = await startHeadDashboard(svc.head, { port: dashboardPort, host: v['dashboard-host'], token }).catch(async (err: Error) => {
        if (dashboardPort !== undefined || v['dashboard-host'] !== undefined) {
          await svc.stop();
          throw err;
        }
        process.stderr.write(`cohort start: no dashboard: ${err.message}\n`);
        return undefined;
      });
      if (dash) process.stdout.write(`cohort dashboard: ${dash.url} (Prometheus ${dash.url}/metrics)\n`);
      if (!v['no-record']) {
        const file = recordCurrentCluster({ cluster, address: svc.natsUrl, startedBy: 'start-head', config: v.config && path.resolve(v.config), tokenFile, pids: [process.pid] });
        process.stderr.write(`cohort start: this is now the current cluster (${file}): \`cohort status\` needs no --address\n`);
      }
      return untilSignal(async () => {
        if (!v['no-record']) forgetCurrentCluster({ pid: process.pid });
        await dash?.close();
        await svc.stop();
      });
    }

    if (!v.address && !process.env.COHORT_ADDRESS) throw new UsageError('give --head to run the control plane, or --address nats://HOST:PORT to join one as a node agent');
    if (v['nats-dir'] || v['nats-port'] || v['grpc-port']) throw new UsageError('--nats-dir, --nats-port and --grpc-port are for the head (--head)');
    if (v['dashboard-port'] || v['dashboard-host']) throw new UsageError('--dashboard-port and --dashboard-host are for the head (--head)');
    let resources: Record<string, number> | undefined;
    let labels: Record<string, string> = {};
    let env: Record<string, string> = {};
    let workerPool: WorkerPoolOptions | undefined;
    if (v['node-type']) {
      if (!config) throw new UsageError('--node-type needs --config (the file that defines the node types)');
      const nt = config.nodeTypes[v['node-type']];
      if (!nt) throw new UsageError(`--node-type: "${v['node-type']}" is not in ${v.config}; known types: ${Object.keys(config.nodeTypes).join(', ')}`);
      resources = nodeTypeResources(nt);
      labels = { ...nt.labels };
      env = nt.env;
      workerPool = nt.workerPool;
    }
    if (v.resources) resources = parseResources(v.resources);
    labels = { ...labels, ...parseLabels(v.labels) };
    Object.assign(process.env, env);
    const node = await startClusterNode({
      address: v.address ?? process.env.COHORT_ADDRESS!,
      auth: { token, credsFile },
      nodeId: v['node-id'],
      cluster: v.cluster,
      resources,
      labels,
      nodeType: v['node-type'],
      heartbeatMs: config?.membership.heartbeatMs,
      host: bind,
      advertiseHost,
      tls,
      workerPool,
    });
    process.stdout.write(`cohort node agent ready: node ${node.nodeId} in cluster ${node.agent.info.cluster} ${JSON.stringify(node.agent.resources)} at ${node.grpcAddress}\n`);
    return untilSignal(() => node.stop());
  },
});
