import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Logger } from 'pino';

/** How a managed simulator server is launched and watched. */
export interface ManagedServerOptions {
  /** argv with the placeholders already filled in. */
  argv: readonly string[];
  /** Port the server listens on (loopback). */
  port: number;
  /** Path polled until it answers 200. */
  healthPath: string;
  startupTimeoutS: number;
  /** Restarts after an unexpected exit before the server is declared failed. */
  maxRestarts: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Lines of the server's output kept for error messages. */
  tailLines?: number;
}

/**
 * The guard: group leader of a fresh process group (it is spawned detached),
 * it starts the server in that group and exits with the server's status. When
 * its stdin closes (the actor's process died, even by SIGKILL, which runs no
 * exit hook) it kills the whole group, so a server is never orphaned. A
 * SIGTERM to the group is left to the server; the guard waits for it.
 */
const GUARD = `
const { spawn } = require('node:child_process');
const [cmd, ...args] = process.argv.slice(1);
const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let ending = false;
const killGroup = (sig) => { try { process.kill(-process.pid, sig); } catch {} };
child.on('error', (e) => { process.stderr.write('cannot start ' + cmd + ': ' + e.message + '\\n'); process.exit(127); });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 0) : 1)));
process.on('SIGTERM', () => { ending = true; });
process.on('SIGINT', () => { ending = true; });
const parentGone = () => { if (ending) return; ending = true; killGroup('SIGTERM'); setTimeout(() => killGroup('SIGKILL'), 3000).unref(); };
process.stdin.on('end', parentGone);
process.stdin.on('close', parentGone);
process.stdin.on('error', parentGone);
process.stdin.resume();
`;

/** Fills `{model} {tp} {dp} {port} {gpus}` in a command line. */
export function fillPlaceholders(argv: readonly string[], values: Record<string, string | number>): string[] {
  return argv.map((a) =>
    a.replace(/\{([^}]*)\}/g, (whole, key: string) => {
      if (!(key in values)) throw new Error(`unknown placeholder ${whole} in "${a}"; use one of ${Object.keys(values).map((k) => `{${k}}`).join(' ')}`);
      return String(values[key]);
    }),
  );
}

/** `preferred` when nothing listens on it on loopback, else a free port the OS picks. */
export async function pickPort(preferred: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const got = (s.address() as { port: number }).port;
        s.close(() => resolve(got));
      });
    });
  return (preferred > 0 ? await tryListen(preferred) : null) ?? (await tryListen(0))!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An inference server (sglang, vLLM, `cohort sim serve`, …) that a
 * SimulatorActor launches itself: started in its own process group under a
 * guard, health-checked until it answers `healthPath` with 200 (or the startup
 * timeout, with the server's last output lines in the error), restarted after
 * an unexpected exit up to `maxRestarts` times, and killed with its whole
 * group on `stop()` or when the actor's process dies.
 */
export class ManagedServer {
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];
  private stopping = false;
  /** Healthy and not known to have exited since. */
  private up = false;
  private ready: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Restarts after unexpected exits so far. */
  restarts = 0;
  /** Launches so far (the first start and every restart). */
  launches = 0;

  constructor(private readonly opts: ManagedServerOptions) {}

  /** Base URL of the OpenAI-compatible API. */
  get url(): string {
    return `http://127.0.0.1:${this.opts.port}/v1`;
  }

  get port(): number {
    return this.opts.port;
  }

  /** Pid of the guard, the leader of the server's process group (undefined when not running). */
  get pgid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Why the server is down for good (it died after maxRestarts restarts, or a restart failed); undefined while it serves. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** The last lines the server wrote (stdout and stderr). */
  lastLines(): string[] {
    return [...this.tail];
  }

  /** Starts the server and waits until healthy; later calls wait for the same start or restart. */
  start(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.ready ??= this.launch();
    return this.ready;
  }

  /** Resolves once the server is healthy (starting it when needed); rejects once it has failed for good. */
  whenReady(): Promise<void> {
    return this.start();
  }

  private describe(): string {
    return this.opts.argv.join(' ');
  }

  private tailText(): string {
    return this.tail.length ? `; its last output lines:\n  ${this.tail.join('\n  ')}` : '; it wrote nothing';
  }

  private record(chunk: Buffer, stream: string): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      this.tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      this.opts.logger?.debug({ stream, port: this.opts.port }, line);
    }
    const keep = this.opts.tailLines ?? 20;
    if (this.tail.length > keep) this.tail.splice(0, this.tail.length - keep);
  }

  private async launch(): Promise<void> {
    const [cmd, ...args] = this.opts.argv;
    this.launches++;
    const child = spawn(process.execPath, ['-e', GUARD, cmd, ...args], {
      cwd: this.opts.cwd,
      env: this.opts.env ?? process.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => this.record(c, 'stdout'));
    child.stderr!.on('data', (c: Buffer) => this.record(c, 'stderr'));
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exit = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
    });
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    // The guard reads its stdin only to notice this process going away.
    child.stdin!.on('error', () => undefined);
    this.opts.logger?.info({ port: this.opts.port, pgid: child.pid, command: this.describe() }, 'managed simulator server starting');
    const deadline = performance.now() + this.opts.startupTimeoutS * 1000;
    const healthUrl = `http://127.0.0.1:${this.opts.port}${this.opts.healthPath}`;
    for (;;) {
      if (exited) {
        // Let the pipes drain so the error carries the server's last words.
        await sleep(50);
        const how = exited.signal ? `signal ${exited.signal}` : `exit code ${exited.code}`;
        throw new Error(`managed simulator server exited (${how}) before it was healthy at ${healthUrl}; command: ${this.describe()}${this.tailText()}`);
      }
      if (performance.now() > deadline) {
        this.killGroup('SIGKILL');
        throw new Error(
          `managed simulator server was not healthy at ${healthUrl} within startupTimeoutS ${this.opts.startupTimeoutS} s; command: ${this.describe()}${this.tailText()}. Raise simulator.managed.startupTimeoutS or check the command`,
        );
      }
      try {
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not up yet
      }
      await Promise.race([sleep(200), exit]);
    }
    this.up = true;
    this.opts.logger?.info({ port: this.opts.port, pgid: child.pid }, 'managed simulator server healthy');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    // A start in progress reports the exit itself; a stop expects it.
    if (child !== this.child || this.stopping || !this.up) return;
    this.up = false;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.restarts >= this.opts.maxRestarts) {
      this.failure = new Error(
        `managed simulator server on port ${this.opts.port} died (${how}) after ${this.restarts} restart(s) (maxRestarts ${this.opts.maxRestarts}); command: ${this.describe()}${this.tailText()}`,
      );
      this.opts.logger?.error({ port: this.opts.port, how }, this.failure.message);
      this.ready = Promise.reject(this.failure);
      this.ready.catch(() => undefined);
      return;
    }
    this.restarts++;
    this.opts.logger?.warn({ port: this.opts.port, how, restart: this.restarts, lastLines: this.lastLines() }, 'managed simulator server died; restarting it');
    this.ready = this.launch();
    this.ready.catch((err: Error) => {
      this.failure = err;
      this.opts.logger?.error({ port: this.opts.port }, err.message);
    });
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** Is anything of the server's process group still alive? */
  groupAlive(): boolean {
    const pid = this.child?.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM to the server's process group, SIGKILL after `graceMs`; resolves when the group is gone. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    this.killGroup('SIGTERM');
    const deadline = performance.now() + graceMs;
    while (this.groupAlive() && performance.now() < deadline) await sleep(50);
    if (this.groupAlive()) this.killGroup('SIGKILL');
    while (this.groupAlive() && performance.now() < deadline + 2000) await sleep(20);
    child.stdin?.destroy();
    this.opts.logger?.info({ port: this.opts.port }, 'managed simulator server stopped');
  }
}
