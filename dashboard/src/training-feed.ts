import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { stepMetricsReadSchema, type StepMetricsRead } from '@cohort/actors';
import { connectCluster, discoverCluster } from '@cohort/cluster';
import { FileTail } from './log-store.js';

/**
 * One training step as the dashboard reads it: `@cohort/actors`' step-metrics
 * contract (the schema the trainer writes `runs/<name>/metrics.jsonl` with),
 * in its reading form: only `step` is required and unknown fields are kept,
 * so older or newer writers still show what they have.
 */
export const trainingStepSchema = stepMetricsReadSchema;
export type TrainingStep = StepMetricsRead;

/** Raised for a step record that does not match {@link trainingStepSchema}. */
export class TrainingStepError extends Error {
  override readonly name = 'TrainingStepError';
}

/** Validates one step record; the error names the field and what was expected. */
export function parseTrainingStep(value: unknown, where = 'step metrics'): TrainingStep {
  const r = trainingStepSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TrainingStepError(`${where}: ${i.path.join('.') || '(top)'}: ${i.message} (expected a StepMetrics object like one line of runs/<name>/metrics.jsonl, with at least an integer "step")`);
  }
  return r.data;
}

/** Largest training-step message taken from NATS (a StepMetrics line is a few KB). */
export const MAX_STEP_MESSAGE_BYTES = 256 * 1024;

/** Run names: what `runs/<name>` allows. */
export const RUN_NAME = /^[A-Za-z0-9_.=-]+$/;

/** NATS subject where a trainer publishes its steps: `{run, step: StepMetrics}` JSON per message. */
export function trainingSubject(cluster: string): string {
  return `cohort.${cluster}.train.steps`;
}

/** Publishes one step of run `run` to the cluster's dashboard (fire and forget). */
export function publishTrainingStep(nc: NatsConnection, cluster: string, run: string, step: unknown): void {
  if (!RUN_NAME.test(run)) throw new TrainingStepError(`run name "${run}": use letters, digits, "-", "_", "." or "=" only`);
  nc.publish(trainingSubject(cluster), JSON.stringify({ run, step: parseTrainingStep(step) }));
}

/** A step of one run, as listeners receive it. */
export interface TrainingUpdate {
  run: string;
  step: TrainingStep;
}

/**
 * The training metrics the dashboard shows, by run. Three ways in, all
 * ending in {@link TrainingFeed.push}: a trainer publishing on NATS
 * ({@link publishTrainingStep} → {@link TrainingFeed.subscribe}), the
 * `metrics.jsonl` files under a runs directory ({@link TrainingFeed.watchRuns}),
 * or an HTTP POST to the dashboard's `/api/training/<run>`.
 */
export class TrainingFeed {
  private readonly runs = new Map<string, TrainingStep[]>();
  private readonly listeners = new Set<(u: TrainingUpdate) => void>();
  private readonly stops: Array<() => void> = [];

  /** Keeps at most `maxSteps` steps per run (the oldest go first) and `maxRuns` runs (the one that reported least recently goes). */
  constructor(
    readonly maxSteps = 10_000,
    readonly maxRuns = 256,
  ) {}

  /** Validates and records one step of `run` (a repeated step number replaces the earlier one). */
  push(run: string, step: unknown): TrainingStep {
    if (!RUN_NAME.test(run)) throw new TrainingStepError(`run name "${run}": use letters, digits, "-", "_", "." or "=" only`);
    const s = parseTrainingStep(step, `run ${run}`);
    let series = this.runs.get(run);
    if (!series) {
      this.runs.set(run, (series = []));
      if (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value!);
    }
    const last = series.at(-1);
    if (last && s.step <= last.step) {
      // a restarted run writes its steps again: drop what it overwrites
      while (series.length && series.at(-1)!.step >= s.step) series.pop();
    }
    series.push(s);
    if (series.length > this.maxSteps) series.splice(0, series.length - this.maxSteps);
    for (const fn of this.listeners) fn({ run, step: s });
    return s;
  }

  /** Run names, in the order they were first seen. */
  runNames(): string[] {
    return [...this.runs.keys()];
  }

  /** Steps of one run (empty when unknown). */
  steps(run: string): readonly TrainingStep[] {
    return this.runs.get(run) ?? [];
  }

  /** The newest step of every run. */
  latest(): Array<{ run: string; step: TrainingStep }> {
    return [...this.runs].filter(([, s]) => s.length).map(([run, s]) => ({ run, step: s.at(-1)! }));
  }

  /** Calls `fn` for every new step; returns an unsubscribe function. */
  onStep(fn: (u: TrainingUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes steps published with {@link publishTrainingStep}; malformed messages are reported to `onError`. */
  subscribe(nc: NatsConnection, cluster: string, onError: (err: Error) => void = () => undefined): void {
    const sub: Subscription = nc.subscribe(trainingSubject(cluster), {
      callback: (err, msg) => {
        if (err) return;
        try {
          if (msg.data.length > MAX_STEP_MESSAGE_BYTES) throw new TrainingStepError(`training message of ${msg.data.length} bytes: at most ${MAX_STEP_MESSAGE_BYTES} are taken (one StepMetrics object)`);
          const m = msg.json<{ run?: unknown; step?: unknown }>();
          if (typeof m?.run !== 'string') throw new TrainingStepError('training message: expected {run: string, step: StepMetrics}');
          this.push(m.run, m.step);
        } catch (e) {
          onError(e as Error);
        }
      },
    });
    this.stops.push(() => sub.unsubscribe());
  }

  /**
   * Follows `<runsDir>/<run>/metrics.jsonl` for every run directory there (new
   * ones too), polling every `pollMs`. Bad lines go to `onError` and are skipped.
   */
  watchRuns(runsDir: string, pollMs = 500, onError: (err: Error) => void = () => undefined): void {
    const tails = new Map<string, FileTail>();
    const pump = () => {
      let names: string[] = [];
      try {
        names = readdirSync(runsDir).filter((n) => RUN_NAME.test(n));
      } catch {
        return;
      }
      for (const name of names) {
        const file = path.join(runsDir, name, 'metrics.jsonl');
        if (!tails.has(name)) {
          try {
            if (!statSync(file).isFile()) continue;
          } catch {
            continue;
          }
          tails.set(name, new FileTail(file));
        }
        for (const line of tails.get(name)!.read()) {
          try {
            this.push(name, JSON.parse(line));
          } catch (e) {
            onError(new TrainingStepError(`${file}: ${(e as Error).message}`));
          }
        }
      }
    };
    pump();
    const timer = setInterval(pump, pollMs);
    timer.unref();
    this.stops.push(() => clearInterval(timer));
  }

  /** Stops subscriptions and file watches. */
  close(): void {
    for (const s of this.stops.splice(0)) s();
    this.listeners.clear();
  }
}

/** A trainer's line to a cluster's dashboard (see {@link openTrainingPublisher}). */
export interface TrainingPublisher {
  readonly cluster: string;
  /** Publishes one step of `run` (validated; fire and forget). */
  publish(run: string, step: unknown): void;
  /** Flushes and closes the connection. */
  close(): Promise<void>;
}

/**
 * Opens a NATS connection to a cluster (its address and token, as for
 * `connect()`) for publishing training steps to the head's dashboard from
 * any machine: `const p = await openTrainingPublisher(addr); p.publish(run, metrics)`.
 */
export async function openTrainingPublisher(address: string = process.env.COHORT_ADDRESS ?? '', o: { token?: string; credsFile?: string; cluster?: string } = {}): Promise<TrainingPublisher> {
  if (!address) throw new Error('no cluster address to publish training steps to: pass one (nats://HOST:PORT) or set COHORT_ADDRESS');
  const nc = await connectCluster({ url: address, token: o.token ?? (process.env.COHORT_TOKEN || undefined), credsFile: o.credsFile, name: `training publisher ${process.pid}` });
  let cluster: string;
  try {
    cluster = o.cluster ?? (await discoverCluster(nc, 10_000)).cluster;
  } catch (err) {
    await nc.close();
    throw err;
  }
  return {
    cluster,
    publish: (run, step) => publishTrainingStep(nc, cluster, run, step),
    close: async () => {
      await nc.drain().catch(() => undefined);
    },
  };
}
