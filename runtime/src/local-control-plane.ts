import type { Logger } from 'pino';
import { ActorLifecycle, type ActorRecord } from './lifecycle/actor-lifecycle.js';
import type { WorkerExit, WorkerLauncher, WorkerProcess } from './worker-launcher.js';

interface LocalRecord extends ActorRecord {
  worker?: WorkerProcess;
}

export interface LocalControlPlaneOptions {
  logger: Logger;
  launcher: WorkerLauncher;
  /** Data-plane address workers register with. */
  controlAddress: string;
  logLevel: string;
  restartBackoffMs: number;
  nodeResources: Record<string, number>;
  nodeLabels: Record<string, string>;
  /** Extra environment for every worker (runtime limits). */
  workerEnv: Record<string, string>;
}

/**
 * The control plane of one machine: the shared actor lifecycle
 * ({@link ActorLifecycle}: scheduler, directory, restarts, placement groups)
 * over one worker launcher whose worker processes are children of the driver.
 * Lives in the driver process.
 */
export class LocalControlPlane extends ActorLifecycle<LocalRecord> {
  constructor(private readonly o: LocalControlPlaneOptions) {
    super({ logger: o.logger, restartBackoffMs: o.restartBackoffMs, closedMessage: 'the runtime is shut down', defaultNodeId: o.launcher.nodeId });
    this.scheduler.addNode({ id: o.launcher.nodeId, resources: o.nodeResources, labels: o.nodeLabels });
  }

  protected newActorId(className: string): string {
    return `a${++this.seq}-${className}`;
  }

  protected newGroupId(): string {
    return `pg${++this.seq}`;
  }

  protected newRecord(base: ActorRecord): LocalRecord {
    return base;
  }

  protected startProcess(rec: LocalRecord): void {
    const inc = rec.info.incarnation;
    const w = this.o.launcher.start(this.workerLaunch(rec, this.o), (exit) => this.onExit(rec, inc, exit));
    rec.worker = w;
    rec.info.pid = w.pid;
  }

  protected stopProcess(rec: LocalRecord): void {
    rec.worker?.kill();
  }

  private onExit(rec: LocalRecord, inc: number, exit: WorkerExit): void {
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    this.workerEnded(rec, inc, this.workerExitCause(rec, how));
  }

  /** Kills every actor and stops restarts. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const rec of this.actors.values()) if (rec.info.state !== 'dead') this.markDead(rec, 'the runtime shut down');
    await this.o.launcher.shutdown();
  }
}
