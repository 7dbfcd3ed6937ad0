import { openSync, readSync, closeSync, statSync } from 'node:fs';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { logSubject } from '@cohort/cluster';
import type { LogLine } from './data-source.js';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * Parses one pino JSON line into a {@link LogLine} when it carries an `actor`
 * binding (worker output forwarded by a node agent); other lines give undefined.
 */
export function parseActorLogLine(line: string, node?: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o.actor !== 'string' || !o.actor) return undefined;
  const level = typeof o.level === 'number' ? (LEVELS[o.level] ?? String(o.level)) : typeof o.level === 'string' ? o.level : 'info';
  return {
    time: typeof o.time === 'number' ? o.time : Date.now(),
    level,
    actor: o.actor,
    node: typeof o.node === 'string' ? o.node : node,
    msg: typeof o.msg === 'string' ? o.msg : '',
  };
}

/**
 * The last lines of every actor's log, in memory (a ring of `perActor` lines
 * each). Fed from node agents' log files ({@link LogStore.tailFiles}) or from
 * the cluster's log subject on NATS, where node agents publish their
 * workers' lines ({@link LogStore.subscribe}; `logSubject` of `@cohort/cluster`).
 */
const MAX_LOG_MSG_CHARS = 16 * 1024;

export class LogStore {
  private readonly lines = new Map<string, LogLine[]>();
  private readonly listeners = new Set<(l: LogLine) => void>();
  private readonly stops: Array<() => void> = [];

  /** Keeps `perActor` lines for each of the `maxActors` actors that logged last (older actors are forgotten). */
  constructor(
    readonly perActor = 500,
    readonly maxActors = 2000,
  ) {}

  /** Adds one line (and tells the listeners); a message over 16 KiB keeps its head. */
  add(l: LogLine): void {
    if (l.msg.length > MAX_LOG_MSG_CHARS) l = { ...l, msg: `${l.msg.slice(0, MAX_LOG_MSG_CHARS)}… (${l.msg.length - MAX_LOG_MSG_CHARS} characters cut)` };
    let ring = this.lines.get(l.actor);
    if (ring) this.lines.delete(l.actor); // re-inserted below: the map stays in least-recently-logged order
    else ring = [];
    this.lines.set(l.actor, ring);
    if (this.lines.size > this.maxActors) this.lines.delete(this.lines.keys().next().value!);
    ring.push(l);
    if (ring.length > this.perActor) ring.splice(0, ring.length - this.perActor);
    for (const fn of this.listeners) fn(l);
  }

  /** The last `n` lines of the actor named `actor` (or any of `aliases`, e.g. its id). */
  tail(actor: string, n: number, aliases: string[] = []): LogLine[] {
    const all = [actor, ...aliases].flatMap((k) => this.lines.get(k) ?? []);
    if (aliases.length) all.sort((a, b) => a.time - b.time);
    return n > 0 ? all.slice(-n) : [];
  }

  /** Actor names with at least one line. */
  actors(): string[] {
    return [...this.lines.keys()].sort();
  }

  /** Calls `fn` for every new line; returns an unsubscribe function. */
  onLine(fn: (l: LogLine) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes every line published on the cluster's log subject. */
  subscribe(nc: NatsConnection, cluster: string): void {
    const sub: Subscription = nc.subscribe(logSubject(cluster), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const l = msg.json<LogLine>();
          if (l && typeof l.actor === 'string' && typeof l.msg === 'string') this.add({ time: Number(l.time) || Date.now(), level: String(l.level ?? 'info'), actor: l.actor, node: l.node, msg: l.msg });
        } catch {
          /* not a log line: ignored */
        }
      },
    });
    this.stops.push(() => sub.unsubscribe());
  }

  /**
   * Follows pino JSON log files (node agents' logs; `node` names the node of
   * each file): reads what is there, then polls for appended lines every `pollMs`.
   */
  tailFiles(files: Array<{ path: string; node?: string }>, pollMs = 500): void {
    const tails = files.map((f) => new FileTail(f.path));
    const pump = () => {
      files.forEach((f, i) => {
        for (const line of tails[i].read()) {
          const l = parseActorLogLine(line, f.node);
          if (l) this.add(l);
        }
      });
    };
    pump();
    const timer = setInterval(pump, pollMs);
    timer.unref();
    this.stops.push(() => clearInterval(timer));
  }

  /** Stops every subscription and file tail. */
  close(): void {
    for (const s of this.stops.splice(0)) s();
    this.listeners.clear();
  }
}

/** Reads whole lines appended to a file since the last read (survives truncation and a missing file). */
export class FileTail {
  private offset = 0;
  private partial = '';

  constructor(readonly path: string) {}

  /** New complete lines since the last call. */
  read(): string[] {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return [];
    }
    if (size < this.offset) {
      this.offset = 0;
      this.partial = '';
    }
    if (size === this.offset) return [];
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      return parts.filter((p) => p.length > 0);
    } finally {
      closeSync(fd);
    }
  }
}
