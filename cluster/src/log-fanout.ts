import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';

/**
 * NATS subject where a cluster's actor log lines are published, one JSON line
 * each: {time, level, actor, node, msg}, plus `owner` (who owns the actor) and
 * `fields` (the line's other bindings, e.g. the actor's own `{tag}`) when present.
 */
export function logSubject(cluster: string): string {
  return `cohort.${cluster}.logs`;
}

/** NATS subject of actor lifecycle events ({type, actorId, name, owner, incarnation, cause}). */
export function actorEventSubject(cluster: string): string {
  return `cohort.${cluster}.events.actor`;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Keys of a worker's pino line that the published line carries by name, or that say nothing about the actor. */
const KNOWN_KEYS = new Set(['time', 'level', 'msg', 'actor', 'node', 'owner', 'pid', 'hostname', 'name', 'role', 'v']);

/**
 * A pino destination that publishes every line carrying an `actor` binding
 * (worker output forwarded by the node agent) to the cluster's log subject,
 * once {@link attach} gave it a connection. Lines are dropped, never queued,
 * while detached.
 */
export class NatsLogSink extends Writable {
  private nc: NatsConnection | undefined;
  private subject = '';
  private buf = '';

  constructor(private readonly node: string) {
    super();
  }

  attach(nc: NatsConnection, cluster: string): void {
    this.nc = nc;
    this.subject = logSubject(cluster);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.buf += chunk.toString('utf8');
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.publish(line);
    }
    cb();
  }

  private publish(line: string): void {
    const nc = this.nc;
    if (!nc || nc.isClosed() || !line.startsWith('{')) return;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.actor !== 'string') return;
      const level = typeof o.level === 'number' ? (LEVELS[o.level] ?? String(o.level)) : String(o.level ?? 'info');
      const out: Record<string, unknown> = { time: o.time ?? Date.now(), level, actor: o.actor, node: this.node, msg: String(o.msg ?? '') };
      if (typeof o.owner === 'string') out.owner = o.owner;
      const fields = Object.fromEntries(Object.entries(o).filter(([k]) => !KNOWN_KEYS.has(k)));
      if (Object.keys(fields).length) out.fields = fields;
      nc.publish(this.subject, JSON.stringify(out));
    } catch {
      /* not JSON or closing: drop */
    }
  }
}

/**
 * Log to the driver (Ray's `log_to_driver`): writes the log lines of the
 * actors `ownerId` owns, and of the actors those own in turn (learned from the
 * cluster's lifecycle events), to `logger`, with the actor's name, node and
 * its own bindings; as local mode does with worker output. Returns the
 * unsubscribe function (closing `nc` ends it too).
 */
export function forwardOwnedActorLogs(nc: NatsConnection, cluster: string, ownerId: string, logger: Logger): () => void {
  const mine = new Set<string>([ownerId]);
  const events = nc.subscribe(actorEventSubject(cluster), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const e = msg.json<{ actorId?: string; owner?: string }>();
        if (e?.actorId && e.owner && mine.has(e.owner)) mine.add(e.actorId);
      } catch {
        /* not an event */
      }
    },
  });
  const lines = nc.subscribe(logSubject(cluster), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const l = msg.json<{ level?: string; actor?: string; node?: string; owner?: string; msg?: string; fields?: Record<string, unknown> }>();
        if (!l?.owner || !mine.has(l.owner) || typeof l.actor !== 'string') return;
        const level = (l.level && l.level in pino.levels.values ? l.level : 'info') as pino.Level;
        logger[level]({ ...(l.fields ?? {}), actor: l.actor, node: l.node }, String(l.msg ?? ''));
      } catch {
        /* not a log line */
      }
    },
  });
  return () => {
    events.unsubscribe();
    lines.unsubscribe();
  };
}

/**
 * A logger for the node agent's worker output: JSON lines to stderr at
 * `COHORT_LOG_LEVEL` (default info; none when `silent`) and to `sink` (NATS) at
 * info and above, whatever the local level.
 */
export function fanoutLogger(sink: NatsLogSink, bindings: Record<string, unknown>): Logger {
  const local = (process.env.COHORT_LOG_LEVEL ?? 'info') as pino.Level | 'silent';
  const streams: pino.StreamEntry[] = [{ level: 'info', stream: sink }];
  if (local !== 'silent') streams.push({ level: local, stream: process.stderr });
  return pino({ level: local !== 'silent' && pino.levels.values[local] < pino.levels.values.info ? local : 'info', name: 'cohort-cluster' }, pino.multistream(streams)).child(bindings);
}
