import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NoiseSchedule, type Dataset, type QAItem } from '@cohort/zerosearch';
import type { Logger } from 'pino';
import type { TrainConfig } from '../config/schema.js';
import { MetricsWriter, type StepMetrics } from '../metrics/metrics-writer.js';
import type { RolloutPrompt } from '../rollout/policy-rollout.js';
import { findLatestCheckpoint, readCheckpoint } from '../state/checkpoint.js';
import { DataLoader } from '../state/data-loader.js';
import { Prng } from '../state/prng.js';
import type { PeriodicEval } from './evaluate.js';
import type { JobActors } from './job-actors.js';
import { advantages } from './stages/advantages.js';
import { checkpointDue, restoreActors, saveCheckpoint } from './stages/checkpoint.js';
import { collect, type Collected } from './stages/collect.js';
import { score } from './stages/score.js';
import { stepMetrics } from './stages/step-metrics.js';
import { syncWeights } from './stages/sync-weights.js';
import { update } from './stages/update.js';

/** What the RL loop needs from the Trainer. */
export interface RlLoopContext {
  config: TrainConfig;
  runDir: string;
  configSha256?: string;
  resume: boolean;
  ds: Dataset;
  actors: JobActors;
  log: Logger;
  /** Greedy EM on a held-out sample after `step` when `eval.every` says so (undefined otherwise). */
  periodicEval: (step: number) => Promise<PeriodicEval | undefined>;
  /** Each step's metrics once written (progress bars, the cluster's dashboard). */
  onStep: (line: StepMetrics) => void;
}

/**
 * The RL steps: the curriculum, the data loader and the trainer RNG (restored
 * from the newest checkpoint with `resume`), and per step the stages collect →
 * score → advantages → update → sync weights → log → checkpoint. In async mode
 * the next step's rollouts run while this step trains. Returns the final weights.
 */
export class RlLoop {
  private readonly c: TrainConfig;
  private readonly schedule: NoiseSchedule;
  private loader: DataLoader;
  private rng: Prng;
  /** Policy version the rollouts generate with (sync) or hold (async). */
  version = 0;
  private startStep = 0;
  private metrics!: MetricsWriter;

  constructor(private readonly x: RlLoopContext) {
    const c = (this.c = x.config);
    this.schedule = new NoiseSchedule(
      c.curriculum.mode === 'curriculum'
        ? { kind: 'curriculum', start: c.curriculum.ps, end: c.curriculum.pe, base: c.curriculum.base, totalSteps: c.run.totalSteps }
        : { kind: 'random', p: c.curriculum.p },
    );
    this.loader = new DataLoader(x.ds.train.length, c.run.seed);
    this.rng = Prng.fromSeed(c.run.seed, 'trainer');
  }

  /** Runs every remaining step; returns learner 0's final weights. */
  async run(): Promise<Map<string, Float32Array>> {
    const { actors } = this.x;
    await this.restore();
    const asyncMode = this.c.mode.kind === 'async';
    let prefetch: Promise<Collected> | null = null;
    for (let step = this.startStep; step < this.c.run.totalSteps; step++) {
      const got: Promise<Collected> = prefetch ?? this.collect(step);
      // Async: the next step's rollouts start as soon as this one's are in, on the current weights.
      prefetch = asyncMode && step + 1 < this.c.run.totalSteps ? got.then(() => this.collect(step + 1)) : null;
      prefetch?.catch(() => undefined); // awaited by the next step; a failure here must not go unhandled if this step throws first
      await this.step(step, got);
    }
    if (prefetch) await prefetch.catch(() => undefined);
    writeFileSync(path.join(this.x.runDir, 'work', 'final-version.txt'), String(this.version));
    const final = await actors.learners[0].weights();
    await actors.learners[0].closePublisher();
    return final;
  }

  /** One step on one screen. */
  private async step(step: number, rollouts: Promise<Collected>): Promise<void> {
    const { actors, config: c } = this.x;
    const t0 = performance.now();
    const { trajectories, batches } = await rollouts;
    const waitS = (performance.now() - t0) / 1000;
    const simStats = await Promise.all(actors.simulators.map((s) => s.stats()));
    await Promise.all(actors.simulators.map((s) => s.resetStats()));
    const scored = await score(actors, c, trajectories, this.version);
    const rows = advantages(c, scored.batch, actors.critics.length > 0);
    const upd = await update(actors, c, { batch: scored.batch, rows, importanceWeights: scored.staleness.importanceWeights, rng: this.rng, version: this.version });
    const sync = await syncWeights(actors, upd.version);
    this.version = upd.version;
    const te = performance.now();
    const periodic = await this.x.periodicEval(step);
    const evalS = (performance.now() - te) / 1000;
    const line = stepMetrics({ step, noiseP: this.schedule.p(step), trajectories, batches, simStats, scored, updateRows: rows.length, update: upd, waitS, syncS: sync.wallS, evalS, periodic, totalS: (performance.now() - t0) / 1000 });
    this.metrics.write(line);
    this.x.onStep(line);
    if (checkpointDue(c, step)) await saveCheckpoint(actors, c, { runDir: this.x.runDir, step, rng: this.rng, loader: this.loader, configSha256: this.x.configSha256 });
  }

  /** Starts a step's rollouts: its prompts (from the data loader) with the current version and the curriculum's p. */
  private collect(step: number): Promise<Collected> {
    return collect(this.x.actors, this.c, this.prompts(), { step, noiseP: this.schedule.p(step), version: this.version, log: this.x.log });
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
    const { actors, runDir, log } = this.x;
    const latest = this.x.resume ? findLatestCheckpoint(path.resolve(runDir, this.c.checkpoint.dir)) : null;
    const ck = latest ? readCheckpoint(latest, { configSha256: this.x.configSha256 }) : null;
    this.metrics = new MetricsWriter(runDir, ck ? { resumeFrom: ck.manifest.curriculumStep } : {});
    if (this.metrics.previous) log.info({ previous: this.metrics.previous }, "an earlier run's metrics.jsonl was kept under a new name");
    if (!ck || !latest) return;
    const m = ck.manifest;
    this.version = await restoreActors(actors, ck, latest);
    this.rng = Prng.fromState(m.rng.trainer);
    this.loader = new DataLoader(this.x.ds.train.length, this.c.run.seed, m.dataLoader);
    this.startStep = m.curriculumStep;
    await actors.learners[0].publishWeights(this.version, actors.rollouts);
    log.info({ checkpoint: latest, step: this.startStep, version: this.version }, 'resumed');
  }
}
