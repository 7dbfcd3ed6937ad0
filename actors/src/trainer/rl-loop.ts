import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Curriculum, type Dataset, type QAItem } from '@cohort/zerosearch';
import type { Logger } from 'pino';
import type { TrainConfig } from '../config/schema.js';
import { MetricsWriter, type StepMetrics } from '../metrics/metrics-writer.js';
import type { RolloutPrompt } from '../rollout/policy-rollout.js';
import type { SimulatorStats } from '../simulator/simulator-actor.js';
import { findLatestCheckpoint, readCheckpoint } from '../state/checkpoint.js';
import { DataLoader } from '../state/data-loader.js';
import { Rng } from '@cohort/engine/rng';
import type { PeriodicEval } from './evaluate.js';
import type { Job } from './job-actors.js';
import { AllReplicasLostError, type RecoveryEvent } from './replicas.js';
import type { JobSpawner } from './spawn.js';
import { advantages } from './stages/advantages.js';
import { checkpointDue, restoreActors, saveCheckpoint } from './stages/checkpoint.js';
import { collect, type Collected } from './stages/collect.js';
import { score } from './stages/score.js';
import { StalenessGuard } from './stages/staleness-guard.js';
import { stepMetrics } from './stages/step-metrics.js';
import { syncWeights } from './stages/sync-weights.js';
import { update } from './stages/update.js';
import type { JobWatch } from './watch.js';
import type { ElasticPool, PoolChange } from './elastic.js';

/** What the RL loop needs from the Trainer. */
export interface RlLoopContext {
  config: TrainConfig;
  runDir: string;
  configSha256?: string;
  resume: boolean;
  ds: Dataset;
  job: Job;
  /** Spawns fresh learners (and critics) when every one was lost. */
  spawner: JobSpawner;
  /** Restarts, nodes, and actors that cannot be placed again. */
  watch: JobWatch;
  /** The elastic rollout/simulator pool, brought in line with the live nodes at each step boundary. */
  elastic: ElasticPool;
  log: Logger;
  /** Greedy EM on a held-out sample after `step` when `eval.every` says so (undefined otherwise). */
  periodicEval: (step: number) => Promise<PeriodicEval | undefined>;
  /** Each step's metrics once written (progress bars, the cluster's dashboard). */
  onStep: (line: StepMetrics) => void;
}

/**
 * The RL steps: the curriculum, the data loader and the trainer RNG (restored
 * from the newest checkpoint with `resume`), and per step the stages collect →
 * score → guard → advantages → update → sync weights → log → checkpoint. In async mode
 * the next step's rollouts run while this step trains. A lost learner is
 * replaced inside the stages; when every learner is lost the loop goes back
 * to the last checkpoint (or the start) and redoes the steps after it.
 * Returns the final weights.
 */
export class RlLoop {
  private readonly c: TrainConfig;
  private readonly curriculum: Curriculum;
  private loader: DataLoader;
  private rng: Rng;
  /** Policy version the rollouts generate with (sync) or hold (async). */
  version = 0;
  private startStep = 0;
  private metrics!: MetricsWriter;
  /** What the last step boundary changed in the elastic pool. */
  private poolChange: PoolChange = { joined: [], left: [] };
  /** Recoveries made between steps (a return to a checkpoint), reported with the next step. */
  private pending: RecoveryEvent[] = [];
  private readonly guard: StalenessGuard;

  constructor(private readonly x: RlLoopContext) {
    const c = (this.c = x.config);
    this.curriculum = new Curriculum(c.curriculum, c.run.totalSteps);
    this.loader = new DataLoader(x.ds.train.length, c.run.seed);
    this.rng = Rng.fromSeed(c.run.seed, 'trainer');
    this.guard = new StalenessGuard(c.stalenessGuard, x.log);
  }

  /** Runs every remaining step; returns learner 0's final weights. */
  async run(): Promise<Map<string, Float32Array>> {
    const { job } = this.x;
    await this.restore();
    const asyncMode = this.c.mode.kind === 'async';
    let prefetch: Promise<Collected> | null = null;
    for (let step = this.startStep; step < this.c.run.totalSteps; ) {
      // Step boundary: nodes that joined get their elastic share, those gone take theirs away.
      this.poolChange = await this.x.elastic.reconcile(this.version);
      const got: Promise<Collected> = prefetch ?? this.collect(step);
      // Async: the next step's rollouts start as soon as this one's are in, on the current weights.
      prefetch = asyncMode && step + 1 < this.c.run.totalSteps ? got.then(() => this.collect(step + 1)) : null;
      prefetch?.catch(() => undefined); // awaited by the next step; a failure here must not go unhandled if this step throws first
      try {
        // An actor that cannot be placed again ends the run at once (the step would wait for it forever).
        const done = this.step(step, got);
        done.catch(() => undefined); // when the watch wins the race, the step's own failure must not go unhandled
        await Promise.race([done, this.x.watch.failed]);
        step++;
      } catch (err) {
        if (!(err instanceof AllReplicasLostError)) throw err;
        prefetch = null;
        step = await this.backToCheckpoint(err);
      }
    }
    if (prefetch) await prefetch.catch(() => undefined);
    writeFileSync(path.join(this.x.runDir, 'work', 'final-version.txt'), String(this.version));
    const final = await job.learners.one('final weights', 0, (le) => le.weights());
    await job.learners.one('close', 0, (le) => le.closePublisher());
    return final;
  }

  /** One step on one screen. */
  private async step(step: number, rollouts: Promise<Collected>): Promise<void> {
    const { job, config: c } = this.x;
    const t0 = performance.now();
    const { trajectories, batches, redone } = await rollouts;
    const waitS = (performance.now() - t0) / 1000;
    const pool = { rollouts: job.actors.rollouts.length, simulators: job.actors.simulators.length, ...(this.poolChange.joined.length ? { joined: this.poolChange.joined } : {}), ...(this.poolChange.left.length ? { left: this.poolChange.left } : {}) };
    const simStats = await simulatorStats(job);
    const scored = await score(job, c, trajectories, this.version);
    this.guard.check(step, scored.gap);
    const rows = advantages(c, scored.batch, job.critics !== null);
    const upd = await update(job, c, { batch: scored.batch, rows, rng: this.rng, version: this.version });
    const sync = await syncWeights(job, upd.version);
    this.version = upd.version;
    const te = performance.now();
    const periodic = await this.x.periodicEval(step);
    const evalS = (performance.now() - te) / 1000;
    const recovery = await this.recoveries(redone);
    const nodes = await this.x.watch.nodes();
    const line = stepMetrics({ step, noiseP: this.curriculum.p(step), trajectories, batches, simStats, scored, updateRows: rows.length, update: upd, waitS, syncS: sync.wallS, evalS, periodic, totalS: (performance.now() - t0) / 1000, sync, world: job.actors.learners.length, nodes, pool, recovery });
    this.metrics.write(line);
    this.x.onStep(line);
    if (checkpointDue(c, step)) await saveCheckpoint(job, c, { runDir: this.x.runDir, step, rng: this.rng, loader: this.loader, configSha256: this.x.configSha256 });
  }

  /** The step's recoveries (restarts, redone rollouts, replaced learners) and, after any, the learners' checksums. */
  private async recoveries(redone: Collected['redone']): Promise<{ events: RecoveryEvent[]; learnerChecksums?: number[] }> {
    const { job, watch } = this.x;
    const events = [
      ...this.pending.splice(0),
      ...watch.drainEvents(),
      ...redone.map((r): RecoveryEvent => ({ kind: 'redone', role: 'rollout', actor: r.rollout, seconds: r.seconds, detail: r.reason })),
      ...job.learners.drainEvents(),
      ...(job.critics?.drainEvents() ?? []),
    ];
    if (events.length === 0) return { events };
    return { events, learnerChecksums: await job.learners.each('checksum', (le) => le.paramChecksum()) };
  }

  /** Starts a step's rollouts: its prompts (from the data loader) with the current version and the curriculum's p. */
  private collect(step: number): Promise<Collected> {
    return collect(this.x.job, this.c, this.prompts(), { step, noiseP: this.curriculum.p(step), version: this.version, log: this.x.log });
  }

  private prompts(): RolloutPrompt[] {
    const { ds } = this.x;
    return this.loader.next(this.c.batch.promptsPerStep).indices.map((idx, k) => {
      const q: QAItem = ds.train[idx];
      return { promptIndex: k, question: q.question, answers: [...q.goldenAnswers], dataSource: q.hops === 1 ? 'single-hop' : 'two-hop' };
    });
  }

  /** With `resume`: policy, optimizer, version, RNG, data-loader position and curriculum step from the newest checkpoint. */
  private async restore(): Promise<void> {
    const latest = this.x.resume ? findLatestCheckpoint(path.resolve(this.x.runDir, this.c.checkpoint.dir)) : null;
    const ck = latest ? readCheckpoint(latest, { configSha256: this.x.configSha256 }) : null;
    this.metrics = new MetricsWriter(this.x.runDir, ck ? { resumeFrom: ck.manifest.curriculumStep } : {});
    if (this.metrics.previous) this.x.log.info({ previous: this.metrics.previous }, "an earlier run's metrics.jsonl was kept under a new name");
    if (!latest) return;
    await this.loadCheckpoint(latest);
    this.x.log.info({ checkpoint: latest, step: this.startStep, version: this.version }, 'resumed');
  }

  /** Learners (and critics) take a checkpoint's state; version, RNG, loader position and the next step come from its manifest; rollouts get the weights. */
  private async loadCheckpoint(dir: string): Promise<void> {
    const { job } = this.x;
    const ck = readCheckpoint(dir, { configSha256: this.x.configSha256 });
    const m = ck.manifest;
    this.version = await restoreActors(job, ck, dir);
    this.rng = Rng.fromState(m.rng.trainer);
    this.loader = new DataLoader(this.x.ds.train.length, this.c.run.seed, m.dataLoader);
    this.startStep = m.curriculumStep;
    await this.republish();
  }

  /** Publishes the learners' version to every rollout, also when the rollouts held a later one (a return to a checkpoint). */
  private async republish(): Promise<void> {
    const { job } = this.x;
    await Promise.all(job.actors.rollouts.map((ro) => ro.rewind(this.version).then(undefined, () => undefined)));
    await job.learners.one('weight sync', 0, (le) => le.publishWeights(this.version, job.actors.rollouts));
  }

  /**
   * Every learner (or critic) was lost: fresh ones in every RL bundle take the
   * newest checkpoint of this run (or start again from the warm-start policy
   * when there is none), and the steps after it are redone with the same
   * prompts; their metrics lines are dropped first, so each step is there once.
   */
  private async backToCheckpoint(lost: AllReplicasLostError): Promise<number> {
    const { job, spawner, log } = this.x;
    const t0 = performance.now();
    log.warn({ err: lost.message }, 'every learner was lost: going back to the last checkpoint');
    const a = job.actors;
    for (const h of [...a.learners, ...a.critics]) void h.$kill().catch(() => undefined);
    a.learners = await Promise.all(a.learners.map((_, r) => spawner.spawnLearner(spawner.entry('learner', r), true)));
    a.critics = await Promise.all(a.critics.map((_, r) => spawner.spawnCritic(spawner.entry('critic', r), true)));
    await Promise.all([...a.learners, ...a.critics].map((h) => h.$ready()));
    await spawner.formGroups(a);
    const latest = findLatestCheckpoint(path.resolve(this.x.runDir, this.c.checkpoint.dir));
    if (latest) await this.loadCheckpoint(latest);
    else {
      this.version = 0;
      this.rng = Rng.fromSeed(this.c.run.seed, 'trainer');
      this.loader = new DataLoader(this.x.ds.train.length, this.c.run.seed);
      this.startStep = 0;
      await this.republish();
    }
    this.metrics.truncateFrom(this.startStep);
    this.pending.push({
      kind: 'restored-from-checkpoint',
      role: lost.role,
      actor: `${lost.role}s`,
      seconds: (performance.now() - t0) / 1000,
      detail: `${lost.message}; fresh ${lost.role}s took ${latest ? path.basename(latest) : 'the warm-start policy'} and step ${this.startStep} is redone`,
    });
    return this.startStep;
  }
}

/** Each simulator's batching stats since the last step (reset after reading); an elastic simulator gone meanwhile has none. */
async function simulatorStats(job: Job): Promise<SimulatorStats[]> {
  const lost = (err: unknown) => {
    if ((err as Error)?.name !== 'ActorDiedError') throw err;
    return null;
  };
  const stats = await Promise.all(job.actors.simulators.map((s) => s.stats().then((x) => x, lost)));
  await Promise.all(job.actors.simulators.map((s) => s.resetStats().then(undefined, lost)));
  return stats.filter((x): x is SimulatorStats => x !== null);
}
