import { spawn, type ChildProcess } from 'node:child_process';
import { resolveWorkerPool, type ResolvedWorkerPool } from './options.js';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';

/** What the worker launcher needs to start one actor's worker process. */
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
  /** Node the scheduler placed the actor on (defaults to the launcher's own id). */
  nodeId?: string;
  /** Host the actor in a shared worker process beside other lightweight actors (actor option `process: 'shared'`). */
  shared?: boolean;
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
export interface WorkerLauncher {
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
/** Variables read when a process starts (node flags, the loader, malloc, libuv): a pooled worker cannot take new values. */
const STARTUP_ENV = /^(NODE_|LD_|UV_|MALLOC_|GLIBC_TUNABLES$|COHORT_WORKER_NODE_ARGS$)/;

/** Messages from the launcher to a worker over its IPC channel (see worker-main.ts). */
export type LauncherToWorker = { op: 'launch'; env: Record<string, string> } | { op: 'host'; env: Record<string, string> } | { op: 'drop'; actorId: string };
/** An actor a worker of this node serves (reported once it is alive). */
export interface RunningActor {
  actorId: string;
  incarnation: number;
  /** Data-plane address of its worker. */
  address: string;
  pid: number;
  name?: string;
  className: string;
  module: string;
}
/** Messages from a worker to its launcher. */
export type WorkerToLauncher = { op: 'ready' } | { op: 'ended'; actorId: string } | { op: 'serving'; actor: RunningActor };

interface Child {
  child: ChildProcess;
  pid: number;
  exited: Promise<WorkerExit>;
  /** Booted far enough to take IPC messages; messages wait in `outbox` until then. */
  ready: boolean;
  outbox: LauncherToWorker[];
  kind: 'idle' | 'dedicated' | 'shared';
  log: Logger;
  /** Shared processes: the actors they host, with their exit callbacks. */
  hosted: Map<string, (exit: WorkerExit) => void>;
  /** Shared processes: the environment they were given (actors with the same one share). */
  envKey?: string;
  /** The actors it serves, as the worker reported them. */
  serving: Map<string, RunningActor>;
}

/** Options of {@link LocalWorkerLauncher}. */
export interface LocalWorkerLauncherOptions {
  /** Idle workers kept booted, and the shared-process size; see `WorkerPoolSchema`. */
  workerPool?: Partial<ResolvedWorkerPool>;
  /** Environment every worker of this launcher gets at boot (e.g. the cluster's data-plane setup), so pooled workers start with it. */
  env?: Record<string, string>;
}

/**
 * Runs workers as child processes of this one (`node --import tsx worker-main.ts`).
 *
 * Booting a worker (node + tsx + the runtime's modules) costs about half a second of
 * CPU, so the launcher keeps `workerPool.prestart` workers booted and idle: an actor is
 * handed to one of them over its IPC channel (the launch carries its id, incarnation,
 * control-plane address and environment, GPU variables included; the worker sets
 * `process.env` before it imports the actor's module, so `CUDA_VISIBLE_DEVICES` is in
 * place before any GPU library loads) and the pool refills in the background. A launch
 * whose environment changes a start-up variable (`NODE_OPTIONS`, `LD_*`, `GLIBC_TUNABLES`,
 * ...) gets a fresh process. Actors with `shared: true` are hosted many to a process.
 */
export class LocalWorkerLauncher implements WorkerLauncher {
  private readonly children = new Map<number, Child>();
  private readonly idle: Child[] = [];
  private readonly pool: ResolvedWorkerPool;
  private readonly baseEnv: Record<string, string>;
  private closed = false;
  private bootFailures = 0;

  constructor(
    readonly nodeId: string,
    private readonly logger: Logger,
    opts: LocalWorkerLauncherOptions = {},
  ) {
    this.pool = { ...resolveWorkerPool({}), ...opts.workerPool };
    this.baseEnv = opts.env ?? {};
    this.fill();
  }

  /** The variables a worker for `launch` needs beyond the launcher's own environment. */
  private launchEnv(launch: WorkerLaunch): Record<string, string> {
    return {
      ...launch.env,
      ...gpuEnv(launch.gpuIds),
      COHORT_ACTOR_ID: launch.actorId,
      COHORT_INCARNATION: String(launch.incarnation),
      COHORT_CONTROL_ADDRESS: launch.controlAddress,
      COHORT_LOG_LEVEL: launch.logLevel,
      COHORT_NODE_ID: launch.nodeId ?? this.nodeId,
    };
  }

  private bootEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return { ...process.env, ...this.baseEnv, ...extra, COHORT_PARENT_PID: String(process.pid), GLIBC_TUNABLES: hugePageTunables(process.env.GLIBC_TUNABLES) };
  }

  /** Whether a pooled worker (booted with {@link bootEnv}) can take this environment. */
  private poolable(env: Record<string, string>): boolean {
    const boot = this.bootEnv({});
    return Object.entries(env).every(([k, v]) => !STARTUP_ENV.test(k) || boot[k] === v);
  }

  private spawnChild(extraEnv: Record<string, string>, kind: Child['kind'], label: string): Child {
    const env = this.bootEnv(extraEnv);
    // COHORT_WORKER_NODE_ARGS: extra node flags for workers (e.g. `--inspect=0` to attach a debugger, `--cpu-prof`).
    const extra = (env.COHORT_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, [...extra, '--import', TSX, WORKER_ENTRY], { env, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
    const pid = child.pid ?? -1;
    const c: Child = { child, pid, exited: undefined as unknown as Promise<WorkerExit>, ready: false, outbox: [], kind, log: this.logger.child({ actor: label }), hosted: new Map(), serving: new Map() };
    child.stdin!.on('error', () => {});
    this.forward(child.stdout!, c, 'stdout');
    this.forward(child.stderr!, c, 'stderr');
    child.on('message', (m: WorkerToLauncher) => {
      if (m?.op === 'ready') {
        c.ready = true;
        this.bootFailures = 0;
        for (const out of c.outbox.splice(0)) this.sendTo(c, out);
      } else if (m?.op === 'ended') this.endHosted(c, m.actorId, { code: 1, signal: null });
      else if (m?.op === 'serving' && m.actor && typeof m.actor.actorId === 'string') c.serving.set(m.actor.actorId, m.actor);
    });
    child.on('error', () => {}); // IPC send errors after the worker died: its exit is reported below
    c.exited = new Promise<WorkerExit>((resolve) => {
      const done = (exit: WorkerExit) => {
        this.children.delete(pid);
        const i = this.idle.indexOf(c);
        if (i >= 0) {
          this.idle.splice(i, 1);
          if (!c.ready && !this.closed && ++this.bootFailures >= 3) this.logger.warn({ exit }, 'pooled workers keep dying while booting; the pool stays empty');
          else this.fill();
        }
        for (const id of [...c.hosted.keys()]) this.endHosted(c, id, exit);
        resolve(exit);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (err) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid !== undefined) return;
        c.log.error({ err }, 'worker process failed to start');
        done({ code: -1, signal: null });
      });
    });
    this.children.set(pid, c);
    return c;
  }

  private sendTo(c: Child, m: LauncherToWorker): void {
    if (!c.ready) {
      c.outbox.push(m);
      return;
    }
    if (c.child.connected) c.child.send(m, (err) => err && c.log.debug({ err }, 'could not message the worker'));
  }

  /** Boots idle workers until the pool holds `prestart`. */
  private fill(): void {
    if (this.closed || this.bootFailures >= 3) return;
    while (this.idle.length < this.pool.prestart) this.idle.push(this.spawnChild({ COHORT_POOLED: '1' }, 'idle', 'pool'));
  }

  /** An idle worker (booted ones first), or undefined. */
  private takeIdle(): Child | undefined {
    const i = this.idle.findIndex((c) => c.ready);
    const c = i >= 0 ? this.idle.splice(i, 1)[0] : this.idle.shift();
    if (c) queueMicrotask(() => this.fill());
    return c;
  }

  start(launch: WorkerLaunch, onExit: (exit: WorkerExit) => void): WorkerProcess {
    const env = this.launchEnv(launch);
    const label = launch.name ?? launch.actorId;
    if (launch.shared) return this.startShared(launch, env, onExit);
    let c = this.poolable(env) ? this.takeIdle() : undefined;
    if (c) {
      c.kind = 'dedicated';
      c.log = this.logger.child({ actor: label });
      this.sendTo(c, { op: 'launch', env });
    } else {
      c = this.spawnChild(env, 'dedicated', label);
      queueMicrotask(() => this.fill());
    }
    const child = c.child;
    void c.exited.then(onExit);
    return {
      pid: c.pid,
      exited: c.exited,
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  }

  private startShared(launch: WorkerLaunch, env: Record<string, string>, onExit: (exit: WorkerExit) => void): WorkerProcess {
    const common = { ...env };
    for (const k of ['COHORT_ACTOR_ID', 'COHORT_INCARNATION', 'COHORT_NODE_ID']) delete common[k];
    const envKey = JSON.stringify(Object.entries(common).sort());
    let c = [...this.children.values()].find((x) => x.kind === 'shared' && x.envKey === envKey && x.hosted.size < this.pool.sharedActorsPerProcess);
    if (!c) {
      c = this.takeIdle() ?? this.spawnChild({ COHORT_POOLED: '1' }, 'idle', 'pool');
      c.kind = 'shared';
      c.envKey = envKey;
      c.log = this.logger.child({ actor: `shared-${c.pid}` });
    }
    const host = c;
    let resolveExit!: (e: WorkerExit) => void;
    const exited = new Promise<WorkerExit>((r) => (resolveExit = r));
    host.hosted.set(launch.actorId, resolveExit);
    void exited.then(onExit);
    this.sendTo(host, { op: 'host', env });
    return {
      pid: host.pid,
      exited,
      kill: () => {
        if (!host.hosted.has(launch.actorId)) return;
        this.sendTo(host, { op: 'drop', actorId: launch.actorId });
        this.endHosted(host, launch.actorId, { code: null, signal: 'SIGKILL' });
      },
    };
  }

  /** One actor of a shared process ended; the process goes once it hosts none. */
  private endHosted(c: Child, actorId: string, exit: WorkerExit): void {
    const done = c.hosted.get(actorId);
    if (!done) return;
    c.hosted.delete(actorId);
    c.serving.delete(actorId);
    done(exit);
    if (c.hosted.size === 0 && c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  }

  /** Worker log lines reach the driver's logger under the actor's name; JSON lines keep their level. */
  private forward(stream: NodeJS.ReadableStream, c: Child, which: string): void {
    const rl = createInterface({ input: stream });
    rl.on('line', (line) => {
      const log = c.log;
      if (line.startsWith('{')) {
        try {
          const o = JSON.parse(line) as Record<string, unknown>;
          const level = LEVELS[o.level as number] ?? 'info';
          const fields: Record<string, unknown> = {};
          for (const k in o) if (!DROP.has(k)) fields[k] = o[k];
          (c.kind === 'shared' && typeof o.actor === 'string' ? log.child({ actor: o.actor }) : log)[level](fields, String(o.msg ?? ''));
          return;
        } catch {
          /* not JSON: fall through */
        }
      }
      if (line.length) log.info({ stream: which }, `[${(log.bindings().actor as string) ?? '?'}] ${line}`);
    });
  }

  /** Pids of the worker processes that host actors (idle pooled workers are not counted). */
  pids(): number[] {
    return [...this.children.values()].filter((c) => c.kind !== 'idle').map((c) => c.pid);
  }

  /** The actors this node's workers serve now (what a restarted control plane re-adopts). */
  running(): RunningActor[] {
    const out: RunningActor[] = [];
    for (const c of this.children.values()) if (c.child.exitCode === null && c.child.signalCode === null) out.push(...c.serving.values());
    return out;
  }

  /** Pids of the idle pooled workers. */
  idlePids(): number[] {
    return this.idle.map((c) => c.pid);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    const all = [...this.children.values()];
    for (const { child } of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(all.map((c) => c.exited));
  }
}
