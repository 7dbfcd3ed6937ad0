import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** What the node agent needs to start one actor's worker process. */
export interface WorkerLaunch {
  actorId: string;
  incarnation: number;
  name?: string;
  /** Physical GPU ids granted by the scheduler. */
  gpuIds: number[];
  /** Data-plane address of the control plane the worker registers with. */
  controlAddress: string;
  logLevel: string;
  env: Record<string, string>;
  /** Node the scheduler placed the actor on (defaults to the agent's own id). */
  nodeId?: string;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running worker process. */
export interface WorkerProcess {
  readonly pid: number;
  readonly exited: Promise<WorkerExit>;
  /** SIGKILL now. */
  kill(): void;
}

/** Starts, watches and kills worker processes on one node. */
export interface NodeAgent {
  readonly nodeId: string;
  start(launch: WorkerLaunch, onExit: (exit: WorkerExit) => void): WorkerProcess;
  /** Kills every worker it started and waits for them to exit. */
  shutdown(): Promise<void>;
  /** Pids of the workers alive now. */
  pids(): number[];
}

/** The environment variables that tell a worker which GPUs it owns. */
export function gpuEnv(gpuIds: number[]): Record<string, string> {
  return {
    CUDA_VISIBLE_DEVICES: gpuIds.join(','),
    // Physical id of the first granted GPU (for providers that do not read
    // CUDA_VISIBLE_DEVICES, e.g. WebGPU). With CUDA, the visible device is ordinal 0.
    COHORT_DEVICE_ID: gpuIds.length ? String(gpuIds[0]) : '',
    COHORT_GPU_IDS: gpuIds.join(','),
  };
}

/**
 * Large receive buffers (bulk path) are fresh memory; with 4 KiB pages the
 * page faults cost more than the copy. glibc's `malloc.hugetlb=1` makes large
 * allocations use transparent huge pages (measured: 256 MiB first touch
 * ~600 ms → ~80 ms on the 2-core machine). Kept when the user set it.
 */
export function hugePageTunables(existing: string | undefined): string {
  if (!existing) return 'glibc.malloc.hugetlb=1';
  return existing.includes('glibc.malloc.hugetlb') ? existing : `${existing}:glibc.malloc.hugetlb=1`;
}

const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const DROP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'actor', 'v']);
const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Runs workers as child processes of this one (`node --import tsx worker-main.ts`). */
export class LocalNodeAgent implements NodeAgent {
  private readonly children = new Map<number, { child: ChildProcess; exited: Promise<WorkerExit> }>();

  constructor(
    readonly nodeId: string,
    private readonly logger: Logger,
  ) {}

  start(launch: WorkerLaunch, onExit: (exit: WorkerExit) => void): WorkerProcess {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...launch.env,
      ...gpuEnv(launch.gpuIds),
      COHORT_ACTOR_ID: launch.actorId,
      COHORT_INCARNATION: String(launch.incarnation),
      COHORT_CONTROL_ADDRESS: launch.controlAddress,
      COHORT_LOG_LEVEL: launch.logLevel,
      COHORT_NODE_ID: launch.nodeId ?? this.nodeId,
      COHORT_PARENT_PID: String(process.pid),
      GLIBC_TUNABLES: hugePageTunables(process.env.GLIBC_TUNABLES),
    };
    // COHORT_WORKER_NODE_ARGS: extra node flags for workers (e.g. `--inspect=0` to attach a debugger, `--cpu-prof`).
    const extra = (env.COHORT_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [...extra, '--import', TSX, WORKER_ENTRY], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const label = launch.name ?? launch.actorId;
    const log = this.logger.child({ actor: label });
    child.stdin!.on('error', () => {});
    this.forward(child.stdout!, log, 'stdout');
    this.forward(child.stderr!, log, 'stderr');
    const exited = new Promise<WorkerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.children.delete(pid);
        resolve({ code, signal });
      });
      child.once('error', (err) => {
        log.error({ err }, 'worker process failed to start');
        this.children.delete(pid);
        resolve({ code: -1, signal: null });
      });
    });
    const pid = child.pid ?? -1;
    this.children.set(pid, { child, exited });
    void exited.then(onExit);
    return {
      pid,
      exited,
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  }

  /** Worker log lines reach the driver's logger under the actor's name; JSON lines keep their level. */
  private forward(stream: NodeJS.ReadableStream, log: Logger, which: string): void {
    const rl = createInterface({ input: stream });
    rl.on('line', (line) => {
      if (line.startsWith('{')) {
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const level = LEVELS[o.level as number] ?? 'info';
          const fields: Record<string, unknown> = {};
          for (const k in o) if (!DROP.has(k)) fields[k] = o[k];
          log[level](fields, String(o.msg ?? ''));
          return;
        } catch {
          /* not JSON: fall through */
        }
      }
      if (line.length) log.info({ stream: which }, `[${(log.bindings().actor as string) ?? '?'}] ${line}`);
    });
  }

  pids(): number[] {
    return [...this.children.keys()];
  }

  async shutdown(): Promise<void> {
    const all = [...this.children.values()];
    for (const { child } of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(all.map((c) => c.exited));
  }
}
