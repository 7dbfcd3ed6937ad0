import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg } from 'node:os';
import { connect, type ClusterRuntime } from '../connect.js';
import { startScratchCluster, type ScratchCluster } from '../launcher/scratch-cluster.js';
import { connectCluster } from '../nats-connect.js';
import { ClusterStateStore } from '../state-store.js';
import { listeningAddresses } from '../proc-sockets.js';
import { ClusterBenchTargetActor } from './bench-actors.js';

/** One port of one process under junk. */
export interface PortJunkRow {
  process: 'head' | 'agent' | 'worker' | 'nats-server';
  pid: number;
  /** What the port serves. */
  port: 'grpc' | 'bulk' | 'dashboard' | 'nats';
  address: string;
  /** Junk bytes the kernel took from the sender (the process may have read far fewer). */
  mb_sent: number;
  /** Connections opened to send it (the server closing one makes the sender open another). */
  connections: number;
  /** CPU seconds (user + system) the process spent meanwhile. */
  cpu_s: number;
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
  wall_s: number;
}

export interface PortJunkResult {
  rows: PortJunkRow[];
  /** A call driver → actor on the node after all the junk (the cluster still serves). */
  call_after_ms: number;
  /** The same call before any junk. */
  call_before_ms: number;
  params: { mb_per_port: number; chunk_bytes: number; cap_s_per_port: number };
  /** 1-minute load average at the start and the end (the machine may be shared). */
  load: [number, number];
}

export interface PortJunkOptions {
  /** Junk per port in MB (default 100). */
  mbPerPort?: number;
  /** Give up on a port after this many seconds (default 60). */
  capSPerPort?: number;
  progress?: (line: string) => void;
}

const CLK_TCK = 100; // Linux USER_HZ on every mainstream architecture

/** User + system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident set size in MB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * Writes `total` bytes of junk to host:port as fast as the server takes them,
 * opening a new connection whenever it closes one (or stalls 2 s), until done or `capMs`.
 */
async function throwJunk(host: string, port: number, total: number, chunk: Buffer, capMs: number): Promise<{ sent: number; connections: number }> {
  let sent = 0;
  let connections = 0;
  const end = Date.now() + capMs;
  while (sent < total && Date.now() < end) {
    connections++;
    await new Promise<void>((resolve) => {
      const s = net.connect({ host, port });
      let stall: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(stall);
        s.destroy();
        resolve();
      };
      const pump = () => {
        clearTimeout(stall);
        while (sent < total && Date.now() < end && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(chunk)) {
            stall = setTimeout(finish, 2000);
            return;
          }
        }
        finish();
      };
      s.on('connect', pump);
      s.on('drain', pump);
      s.on('data', () => undefined); // whatever the server answers
      s.on('error', finish);
      s.on('close', finish);
    });
  }
  return { sent, connections };
}

async function timeCall(fn: () => PromiseLike<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Junk on every listening port of a real local cluster (`cohort up`: nats-server,
 * head with its dashboard, one agent, one actor worker), no credentials: CPU
 * seconds and RSS growth of the process behind each port, then a call to show
 * the cluster still serves.
 */
export async function runPortJunkBench(o: PortJunkOptions = {}): Promise<PortJunkResult> {
  const say = o.progress ?? (() => undefined);
  const mb = o.mbPerPort ?? 100;
  const capMs = (o.capSPerPort ?? 60) * 1000;
  const chunk = randomBytes(1 << 20);
  const load0 = loadavg()[0];
  let cluster: ScratchCluster | undefined;
  let rt: ClusterRuntime | undefined;
  try {
    say('starting a local cluster: nats-server, head (with dashboard), one agent');
    cluster = await startScratchCluster({ name: `junk${process.pid}`, nodeTypes: { cpu: { count: 1, resources: { CPU: 2 }, workerPool: { prestart: 0 } } }, env: { COHORT_DASHBOARD_PORT: '0' }, progress: say });
    const { state, token, config } = cluster;
    rt = await connect(state.natsUrl, { token, runtime: { logLevel: 'silent' } });
    const actor = await rt.spawn(ClusterBenchTargetActor, []);
    const callBefore = await timeCall(() => actor.noop());
    const info = await actor.$info();
    const pidOf = (role: string) => state.processes.find((p) => p.role === role)!.pid;
    const headLog = state.processes.find((p) => p.role === 'head')!.log!;
    const dashPort = Number(/cohort dashboard: http:\/\/[^:]+:(\d+)/.exec(readFileSync(headLog, 'utf8'))?.[1] ?? 0);
    const portOf = (addr: string | undefined) => Number(addr?.slice(addr.lastIndexOf(':') + 1) ?? 0);
    const natsPort = portOf(state.natsUrl);
    const headGrpc = portOf(rt.clusterInfo.grpcAddress);
    const agentPid = pidOf('agent');
    const classify = (pid: number, grpcPort: number): Array<{ port: PortJunkRow['port']; address: string }> =>
      listeningAddresses(pid).map((address) => {
        const p = portOf(address);
        return { port: p === grpcPort ? 'grpc' : p === dashPort ? 'dashboard' : p === natsPort ? 'nats' : 'bulk', address };
      });
    // the agent's gRPC port is in its node record
    const nc = await connectCluster({ url: state.natsUrl, token, name: 'junk bench' });
    let agentGrpc = 0;
    try {
      const store = await ClusterStateStore.open(nc, { cluster: config.clusterName });
      for (const { value } of (await store.nodes.list()).values()) if (value.pid === agentPid) agentGrpc = portOf(value.address);
    } finally {
      await nc.close();
    }
    const targets: Array<{ process: PortJunkRow['process']; pid: number; ports: Array<{ port: PortJunkRow['port']; address: string }> }> = [
      { process: 'head', pid: pidOf('head'), ports: classify(pidOf('head'), headGrpc) },
      { process: 'agent', pid: agentPid, ports: classify(agentPid, agentGrpc) },
      { process: 'worker', pid: info!.pid!, ports: classify(info!.pid!, portOf(info!.address)) },
      { process: 'nats-server', pid: pidOf('nats'), ports: classify(pidOf('nats'), -1).filter((p) => p.port === 'nats') },
    ];
    const rows: PortJunkRow[] = [];
    for (const t of targets) {
      for (const p of t.ports) {
        say(`${mb} MB of junk at the ${t.process}'s ${p.port} port (${p.address})`);
        const junk = Buffer.from(chunk);
        if (p.port === 'bulk') junk.writeUInt32LE(0x7fffffff, 0); // the old worst case: a huge declared length
        const cpu0 = cpuSeconds(t.pid);
        const rss0 = rssMb(t.pid);
        let peak = rss0;
        const sampler = setInterval(() => {
          try {
            peak = Math.max(peak, rssMb(t.pid));
          } catch {
            /* exited */
          }
        }, 20);
        const t0 = performance.now();
        const host = p.address.startsWith('[') ? p.address.slice(1, p.address.indexOf(']')) : p.address.slice(0, p.address.lastIndexOf(':'));
        const r = await throwJunk(host === '0.0.0.0' ? '127.0.0.1' : host, portOf(p.address), mb * 1e6, junk, capMs);
        await new Promise((res) => setTimeout(res, 500)); // let the process finish what it read
        clearInterval(sampler);
        peak = Math.max(peak, rssMb(t.pid));
        rows.push({
          process: t.process,
          pid: t.pid,
          port: p.port,
          address: p.address,
          mb_sent: +(r.sent / 1e6).toFixed(1),
          connections: r.connections,
          cpu_s: +(cpuSeconds(t.pid) - cpu0).toFixed(2),
          rss_before_mb: +rss0.toFixed(1),
          rss_peak_mb: +peak.toFixed(1),
          rss_growth_mb: +(peak - rss0).toFixed(1),
          wall_s: +((performance.now() - t0) / 1000).toFixed(1),
        });
      }
    }
    const callAfter = await timeCall(() => actor.noop());
    return {
      rows,
      call_before_ms: +callBefore.toFixed(1),
      call_after_ms: +callAfter.toFixed(1),
      params: { mb_per_port: mb, chunk_bytes: chunk.length, cap_s_per_port: capMs / 1000 },
      load: [+load0.toFixed(2), +loadavg()[0].toFixed(2)],
    };
  } finally {
    await rt?.shutdown().catch(() => undefined);
    await cluster?.stop();
  }
}
