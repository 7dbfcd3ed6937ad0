// Runs an experiment's trials (arm × seed), resumably: a trial whose run
// finished under the same config is read back, never redone.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Runtime } from '@cohort/runtime';
import { runReportSchema, type RunReport } from '../metrics/report.js';
import { Trainer, type TrainerOptions, type TrainerProgress } from '../trainer/trainer.js';
import type { Experiment, Trial } from './experiment-spec.js';

/** `<runDir>/trial.json`: written after report.json, it marks a finished trial. */
interface TrialMarker {
  arm: string;
  seed: number;
  /** The run's config sha256 (run.outDir included). */
  configSha256: string;
  /** `Trial.identity` (absent in markers written before it: then configSha256 must match). */
  identity?: string;
  finishedAt: string;
}

/** A trial's outcome. */
export interface TrialResult {
  readonly trial: Trial;
  readonly report: RunReport;
  /** True when the run was finished before and read back. */
  readonly reused: boolean;
}

export interface RunExperimentOptions {
  logger: Logger;
  /** The cluster the trials' actors run on (each trial a job on it); default: a local runtime per trial. */
  runtime?: Runtime;
  /** Trials run at once (default 1; more only makes sense on a cluster). */
  parallel?: number;
  onProgress?: (trial: Trial, p: TrainerProgress) => void;
  /** Called when a trial starts, finishes or is reused. */
  onTrial?: (trial: Trial, event: 'start' | 'done' | 'reused', index: number, total: number) => void;
}

/** The finished report of a trial, or null when it has not finished (a stale marker is an error). */
export function finishedTrial(trial: Trial): RunReport | null {
  const markerFile = path.join(trial.runDir, 'trial.json');
  const reportFile = path.join(trial.runDir, 'report.json');
  if (!existsSync(markerFile) || !existsSync(reportFile)) return null;
  const json = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not JSON (${(err as Error).message}); delete ${trial.runDir} to redo the trial`);
    }
  };
  const marker = json(markerFile) as Partial<TrialMarker>;
  if (typeof marker.configSha256 !== 'string') throw new Error(`${markerFile}: no configSha256; delete ${trial.runDir} to redo the trial`);
  const [was, now] = typeof marker.identity === 'string' ? [marker.identity, trial.identity] : [marker.configSha256, trial.loaded.sha256];
  if (was !== now) {
    throw new Error(
      `${trial.runDir} finished under another config (sha256 ${was.slice(0, 12)}…, now ${now.slice(0, 12)}…): ` +
        'the base config or the arm changed since; delete that run directory to redo it, or give the experiment a new name',
    );
  }
  const r = runReportSchema.safeParse(json(reportFile));
  if (!r.success) throw new Error(`${reportFile}: not a run report (${r.error.issues[0]?.message}); delete ${trial.runDir} to redo the trial`);
  return r.data;
}

/** The control arm's budget and before-evaluation from the RL run it controls (same seed). */
function controlFrom(rl: RunReport, name: string): NonNullable<TrainerOptions['control']> {
  const budgetS = rl.stages.rl;
  if (budgetS === undefined) throw new Error(`run ${name} recorded no RL stage time (stages.rl); a control arm's budget is that time`);
  return { budgetS, before: { test: rl.splits.before, dev: rl.dev_splits?.before ?? [] } };
}

async function runTrial(trial: Trial, o: RunExperimentOptions, controlled?: RunReport): Promise<RunReport> {
  // An unfinished run starts over (its checkpoints came from a killed process).
  rmSync(trial.runDir, { recursive: true, force: true });
  const trainer = new Trainer({
    ...(controlled ? { control: controlFrom(controlled, trial.controlOf!) } : {}),
    config: trial.loaded.config,
    configSha256: trial.loaded.sha256,
    logger: o.logger.child({ arm: trial.arm, seed: trial.seed }),
    onProgress: o.onProgress ? (p) => o.onProgress!(trial, p) : undefined,
    ...(o.runtime ? { runtime: o.runtime } : {}),
  });
  const { report } = await trainer.run();
  if (!report) throw new Error(`trial ${trial.name} wrote no report: the base config evaluates nothing (eval.before and eval.after are false)`);
  const marker: TrialMarker = { arm: trial.arm, seed: trial.seed, configSha256: trial.loaded.sha256, identity: trial.identity, finishedAt: new Date().toISOString() };
  writeFileSync(path.join(trial.runDir, 'trial.json'), JSON.stringify(marker, null, 2) + '\n');
  return report;
}

/** Runs every unfinished trial (up to `parallel` at once) and returns all trials' results in the experiment's order. */
export async function runExperiment(exp: Experiment, o: RunExperimentOptions): Promise<TrialResult[]> {
  mkdirSync(exp.dir, { recursive: true });
  const results: Array<TrialResult | undefined> = new Array(exp.trials.length);
  // Each trial's report, as a promise: a control trial waits for the run it controls.
  const reports = new Map<string, Promise<RunReport>>();
  const settle = new Map<string, (r: RunReport) => void>();
  const fail = new Map<string, (e: unknown) => void>();
  for (const t of exp.trials) {
    const p = new Promise<RunReport>((resolve, reject) => {
      settle.set(t.name, resolve);
      fail.set(t.name, reject);
    });
    p.catch(() => undefined);
    reports.set(t.name, p);
  }
  const todo: number[] = [];
  exp.trials.forEach((trial, i) => {
    const done = finishedTrial(trial);
    if (done) {
      results[i] = { trial, report: done, reused: true };
      settle.get(trial.name)!(done);
      o.onTrial?.(trial, 'reused', i, exp.trials.length);
    } else todo.push(i);
  });
  const parallel = Math.max(1, o.parallel ?? 1);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const i = todo[next++];
      const trial = exp.trials[i];
      try {
        const controlled = trial.controlOf ? await reports.get(trial.controlOf)! : undefined;
        o.onTrial?.(trial, 'start', i, exp.trials.length);
        const report = await runTrial(trial, o, controlled);
        results[i] = { trial, report, reused: false };
        settle.get(trial.name)!(report);
        o.onTrial?.(trial, 'done', i, exp.trials.length);
      } catch (err) {
        fail.get(trial.name)!(err);
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, worker));
  return results as TrialResult[];
}
