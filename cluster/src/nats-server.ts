import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '@cohort/runtime';

/** Where the Debian package puts the server; overridable with `COHORT_NATS_SERVER`. */
export const DEFAULT_NATS_SERVER_BIN = '/usr/sbin/nats-server';

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Directory for JetStream storage, the ports file and the log. Created when missing. */
  dir: string;
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Client port; `-1` or omitted picks a free one. */
  port?: number;
  /** Require this auth token from every client. */
  token?: string;
  /** Require this user/password from every client (exclusive with `token`). */
  user?: string;
  password?: string;
  /** Path of the nats-server binary. */
  bin?: string;
  /**
   * Start the server in its own process group, not tied to this process
   * (used by `cohort up`, where the launcher exits and the server stays).
   */
  detached?: boolean;
  /** How long to wait for the ports file. Default 10 s. */
  startTimeoutMs?: number;
}

/** A running nats-server started by {@link startNatsServer}. */
export interface NatsServerHandle {
  /** `nats://host:port` for clients. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** JetStream store / log directory. */
  readonly dir: string;
  /** Stops the server (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** Stops and starts it again on the same port with the same store (JetStream state survives). */
  restart(): Promise<NatsServerHandle>;
}

function buildArgs(o: NatsServerOptions, host: string, port: number, storeDir: string): string[] {
  const args = ['-a', host, '-p', String(port), '-js', '-sd', storeDir, '--ports_file_dir', o.dir, '-l', path.join(o.dir, 'nats-server.log')];
  if (o.token !== undefined && o.user !== undefined) throw new Error('nats-server options: give either token or user/password, not both');
  // Credentials go in a 0600 config file, never on the command line (where `ps` shows them).
  let auth: string | undefined;
  if (o.token !== undefined) {
    if (!o.token) throw new Error('nats-server options: token is empty; give a non-empty cluster token or omit it');
    auth = `authorization { token: ${JSON.stringify(o.token)} }\n`;
  }
  if (o.user !== undefined) {
    if (!o.password) throw new Error('nats-server options: user given without password; set password too');
    auth = `authorization { user: ${JSON.stringify(o.user)}, password: ${JSON.stringify(o.password)} }\n`;
  }
  if (auth) {
    const conf = path.join(o.dir, 'nats-auth.conf');
    writeFileSync(conf, auth, { mode: 0o600 });
    chmodSync(conf, 0o600);
    args.unshift('-c', conf);
  }
  return args;
}

function readPortsFile(dir: string, pid: number): number | undefined {
  const file = path.join(dir, `nats-server_${pid}.ports`);
  if (!existsSync(file)) return undefined;
  try {
    const ports = JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[] };
    const url = ports.nats?.[0];
    if (!url) return undefined;
    const port = Number(new URL(url).port);
    return Number.isFinite(port) && port > 0 ? port : undefined;
  } catch {
    return undefined; // partially written; try again
  }
}

/** Sends SIGTERM to `pid`, waits up to `graceMs`, then SIGKILL. Resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 5000, child?: ChildProcess): Promise<void> {
  if (child && (child.exitCode !== null || child.signalCode !== null)) return;
  const exited = child
    ? new Promise<void>((resolve) => child.once('exit', () => resolve()))
    : undefined;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !pidAlive(pid)) break;
    await sleep(25);
  }
  if (child ? child.exitCode === null && child.signalCode === null : pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (exited) await exited;
  else while (pidAlive(pid)) await sleep(25);
}

/**
 * Starts a real `nats-server` with JetStream, listening on loopback by
 * default, and resolves once it has written its ports file (it is then
 * accepting connections).
 */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerHandle> {
  const bin = options.bin ?? process.env.COHORT_NATS_SERVER ?? DEFAULT_NATS_SERVER_BIN;
  if (!existsSync(bin)) {
    throw new Error(`nats-server not found at ${bin}; install the Debian package "nats-server" or set COHORT_NATS_SERVER to its path`);
  }
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dir, { recursive: true });
  const storeDir = options.dir; // nats-server keeps JetStream under <storeDir>/jetstream
  for (const f of readdirSync(options.dir)) if (/^nats-server_\d+\.ports$/.test(f)) rmSync(path.join(options.dir, f), { force: true });
  const args = buildArgs(options, host, options.port ?? -1, storeDir);
  const errLog = openSync(path.join(options.dir, 'nats-server.stderr'), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', errLog], detached: options.detached ?? false });
  closeSync(errLog);
  if (options.detached) child.unref();
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const pid = child.pid;
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let port: number | undefined;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`nats-server failed to start: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (pid !== undefined) port = readPortsFile(options.dir, pid);
    if (port) break;
    await sleep(20);
  }
  if (!port || pid === undefined) {
    if (pid !== undefined) await stopPid(pid, 1000, child);
    let tail = '';
    try {
      tail = readFileSync(path.join(options.dir, 'nats-server.log'), 'utf8').split('\n').slice(-5).join('\n');
    } catch {
      /* no log */
    }
    const exited = child.exitCode !== null || child.signalCode !== null;
    throw new Error(`nats-server ${exited ? `exited (${child.exitCode ?? child.signalCode}) during start-up` : 'did not start'} within ${options.startTimeoutMs ?? 10_000} ms (args: ${args.join(' ')}); log tail:\n${tail}`);
  }
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host;
  const handle: NatsServerHandle = {
    url: `nats://${urlHost}:${port}`,
    host,
    port,
    pid,
    dir: options.dir,
    stop: (graceMs = 5000) => stopPid(pid, graceMs, options.detached ? undefined : child),
    async restart() {
      await handle.stop();
      return startNatsServer({ ...options, port });
    },
  };
  return handle;
}
