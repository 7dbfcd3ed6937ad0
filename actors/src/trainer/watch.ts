import type { ActorHandle, ActorInfo, Runtime } from '@cohort/runtime';
import type { Logger } from 'pino';
import type { RecoveryEvent } from './replicas.js';
import { localName } from './job-actors.js';

/** An actor of the job the watch follows. */
interface Tracked {
  role: string;
  name: string;
  /** Placement group id of its bundle. */
  groupId?: string;
  /** Last node it was seen on. */
  node?: string;
  /** Since when it has not been alive (restarting, or pending for a placement), and why. */
  downSince?: number;
  cause?: string;
  /** The runtime is restarting it (not a first start). */
  restarting?: boolean;
  /** An elastic pool's actor: a node that leaves may take it away; never fails the run. */
  elastic?: boolean;
}

/** An actor of the job cannot be placed again: the run stops with this one line. */
export class PlacementLostError extends Error {
  override readonly name = 'PlacementLostError';
}

/**
 * Follows the job's actors on the runtime while the RL loop runs: records
 * each restart the runtime made (cause, node, seconds until the actor was
 * alive again) for the step metrics, knows the node every actor runs on, and
 * fails the run with one line naming the role, the node and the missing
 * capacity when an actor cannot be placed again: its placement group waits
 * on an `infeasible` reason (no node can ever hold it, e.g. no node left with
 * its labels or GPUs), or it has waited longer than `timeoutS`.
 */
export class JobWatch {
  private readonly actors = new Map<string, Tracked>();
  private events: RecoveryEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private fail!: (e: Error) => void;
  private polling = false;
  /** Rejects once an actor cannot be placed again (never resolves). */
  readonly failed: Promise<never>;

  constructor(
    private readonly rt: Runtime,
    private readonly log: Logger,
    private readonly o: { timeoutS: number; pollMs?: number } = { timeoutS: 180 },
  ) {
    this.failed = new Promise<never>((_, reject) => (this.fail = reject));
    this.failed.catch(() => undefined);
  }

  /** Follows `h` (role e.g. `simulator`; `groupId` its placement group; `elastic`: an elastic pool's, which may go away). */
  track(h: ActorHandle<unknown>, role: string, o: { groupId?: string; elastic?: boolean } = {}): void {
    this.actors.set(h.$id, { role, name: localName(h.$name, h.$id), ...o });
  }

  start(): void {
    this.off = this.rt.onActorEvent((e) => {
      const a = this.actors.get(e.actorId);
      if (!a) return;
      if (e.type === 'restarting') {
        a.downSince ??= performance.now();
        a.cause ??= e.cause;
        a.restarting = true;
      } else if (e.type === 'alive') {
        if (a.restarting && a.downSince !== undefined) {
          this.events.push({ kind: 'restarted', role: a.role, actor: a.name, ...(a.node ? { node: a.node } : {}), seconds: (performance.now() - a.downSince) / 1000, ...(a.cause ? { detail: a.cause } : {}) });
        }
        a.downSince = undefined;
        a.cause = undefined;
        a.restarting = false;
      }
    });
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    this.off?.();
    if (this.timer) clearInterval(this.timer);
  }

  /** Restarts seen since the last call. */
  drainEvents(): RecoveryEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Actor name → node, as of the last look at the directory (live actors of the job). */
  async nodes(): Promise<Record<string, string>> {
    const infos = await this.rt.listActors();
    const out: Record<string, string> = {};
    for (const i of infos) {
      const a = this.actors.get(i.id);
      if (a && i.state === 'alive' && i.nodeId) out[a.name] = i.nodeId;
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const [infos, pending] = await Promise.all([this.rt.listActors(), this.rt.pending()]);
      const groupReason = new Map(pending.filter((p) => p.kind === 'placement-group').map((p) => [p.id, p.reason]));
      for (const i of infos) this.check(i, groupReason);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'job watch: could not read the actor directory');
    } finally {
      this.polling = false;
    }
  }

  private check(i: ActorInfo, groupReason: Map<string, string>): void {
    const a = this.actors.get(i.id);
    if (!a) return;
    if (i.state === 'alive') {
      if (i.nodeId) a.node = i.nodeId;
      return;
    }
    // Dead: learners are replaced by the driver; other deaths fail the calls that need them. Starting: a first start.
    if (i.state === 'dead' || i.state === 'starting' || a.elastic) return;
    a.downSince ??= performance.now();
    if (i.state === 'restarting') a.restarting = true;
    const reason = (a.groupId && groupReason.get(a.groupId)) || i.pendingReason;
    const waited = (performance.now() - a.downSince) / 1000;
    if (reason?.startsWith('infeasible') || waited > this.o.timeoutS) {
      const where = a.node ? `it ran on node ${a.node}` : 'it never ran';
      const why = reason ?? `not alive after ${Math.round(waited)} s (${i.state}${i.lastExit ? `: ${i.lastExit}` : ''})`;
      this.fail(new PlacementLostError(`cannot place ${a.role} ${a.name} again (${where}${a.cause ? `; ${a.cause}` : ''}): ${why}; add capacity, then \`cohort train --resume\` continues from the last checkpoint`));
    }
  }
}
