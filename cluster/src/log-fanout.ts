import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';

/** NATS subject where a cluster's actor log lines are published (one JSON line each: {time, level, actor, node, msg}). */
export function logSubject(cluster: string): string {
  return `cohort.${cluster}.logs`;
}

/** NATS subject of actor lifecycle events ({type, actorId, name, owner, incarnation, cause}). */
export function actorEventSubject(cluster: string): string {
  return `cohort.${cluster}.events.actor`;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

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
      nc.publish(this.subject, JSON.stringify({ time: o.time ?? Date.now(), level, actor: o.actor, node: this.node, msg: String(o.msg ?? '') }));
    } catch {
      /* not JSON or closing: drop */
    }
  }
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
