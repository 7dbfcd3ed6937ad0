import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, type ExecutionProvider, type Tokenizer } from '@cohort/engine';
import { preflight } from './gpu-inventory.js';
import { createLogger, init, type Runtime } from '@cohort/runtime';
import { type Dataset, type SearchEngine, type TuneReport } from '@cohort/zerosearch';
import { openEvalEngine } from './eval-engine.js';
import type { Logger } from 'pino';
import { getAlgorithm } from '../algorithms/registry.js';
import { roleProviders, type TrainConfig } from '../config/schema.js';
import type { StepMetrics } from '../metrics/metrics-writer.js';
import { buildReport, writeReport, type BuildReportInput, type EvalSplitResult, type ReportSimulator, type RunReport } from '../metrics/report.js';
import { evaluateSample, evaluateSplit, type PeriodicEval } from './evaluate.js';
import type { JobActors } from './job-actors.js';
import { jobLayout } from './layout.js';
import { RlLoop } from './rl-loop.js';
import {
  cachedSupervised,
  contentHash,
  evalItems,
  extraDemosFor,
  policyInit,
  prepareLocalSimulator,
  preparePolicyTokenizer,
  prepareWorld,
  simulatorBackends,
  warmStartExamples,
  type LocalSimulator,
  type TrainWorld,
} from './setup.js';
import { JobSpawner } from './spawn.js';
import { supervisedTrain } from './supervised.js';
import { JobWatch } from './watch.js';
import { ElasticPool } from './elastic.js';

/** Progress of a long stage (for progress bars). */
export interface TrainerProgress {
  stage: string;
  done: number;
  total: number;
  detail?: string;
}

export interface TrainerOptions {
  config: TrainConfig;
  /** sha256 of the config file (recorded in checkpoints and the report). */
  configSha256?: string;
  /** Base directory for relative paths (run outputs, caches). */
  cwd?: string;
  /** Default: JSON lines on stderr at `COHORT_LOG_LEVEL` (info), so stdout stays for results. */
  logger?: Logger;
  onProgress?: (p: TrainerProgress) => void;
  /**
   * Continue from the newest checkpoint under the run's checkpoint directory:
   * policy and optimizer state, version, trainer RNG, data-loader position and
   * curriculum step are restored (the config must be the same file).
   */
  resume?: boolean;
  /**
   * Called with each RL step's metrics right after its metrics.jsonl line is
   * written (e.g. to publish them to a cluster's dashboard). Errors it throws
   * are logged, not raised: a metrics consumer never stops training.
   */
  onStep?: (metrics: StepMetrics) => void;
  /**
   * Where the job's actors run. A `Runtime` the caller owns (e.g. `connect()`
   * to a cluster; the Trainer removes its placement groups and actors at the
   * end but leaves the runtime up), or a function that makes one (called once
   * the policy is ready; the Trainer shuts it down at the end). Default: a
   * local `init()` sized to the layout's CPUs and GPUs.
   */
  runtime?: Runtime | (() => Promise<Runtime>);
  /**
   * Run the control arm instead of RL: the same starting policy (the
   * configured warm start, or policy.model.path), then more warm-start SFT
   * (warmStart's data mix, lr and batch size; warm start forced on for the mix)
   * for `budgetS` seconds of wall time (the RL arm's `stages.rl` for the same
   * seed), then the same evaluation. `before` reuses the RL arm's before
   * evaluation (same policy, same questions, greedy: identical) instead of
   * evaluating again.
   */
  control?: { budgetS: number; before?: EvalPass };
}

/** One evaluation of the eval splits: on the test questions and on the dev questions (empty: the world has none). */
export interface EvalPass {
  test: EvalSplitResult[];
  dev: EvalSplitResult[];
}

/** What the whole job returns. */
export interface TrainResult {
  /** null when both evaluations are disabled (eval.before and eval.after false). */
  report: RunReport | null;
  runDir: string;
}

/**
 * The ZeroSearch driver: makes the world, prepares the tokenizer and
 * simulator, warm-starts the policy, evaluates, runs RL steps over the
 * simulator/rollout/learner/reference actors, evaluates again and writes
 * `runs/<name>/` (metrics.jsonl, report.json, checkpoints). It owns the step
 * loop and the curriculum step index.
 */
export class Trainer {
  readonly config: TrainConfig;
  readonly runDir: string;
  private readonly log: Logger;
  private readonly cwd: string;
  private readonly stages: Record<string, number> = {};
  /** What the periodic evaluation (`eval.every`) needs; set before the RL loop. */
  private evalCtx: { policyDir: string; tokenizer: Tokenizer; engine: SearchEngine; ds: Dataset; model?: CausalLM } | null = null;
  /** The simulators' cost over the RL steps (report.json simulator.searches_per_s / step_share). */
  private readonly simCost: SimulatorCost = { searches: 0, busyS: 0, shareS: 0, stepS: 0 };

  constructor(private readonly opts: TrainerOptions) {
    this.config = opts.config;
    this.cwd = opts.cwd ?? process.cwd();
    this.runDir = path.resolve(this.cwd, this.config.run.outDir, this.config.run.name);
    this.log = (opts.logger ?? createLogger()).child({ run: this.config.run.name });
  }

  private progress(p: TrainerProgress): void {
    this.opts.onProgress?.(p);
  }

  private async timed<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.stages[stage] = (this.stages[stage] ?? 0) + (performance.now() - t0) / 1000;
    }
  }

  /** Session options of the driver's evaluation model (devices.evaluation). */
  private evalDevice(): { executionProviders: ExecutionProvider[] } {
    return { executionProviders: roleProviders(this.config, 'evaluation') };
  }

  /** Runs the whole job (or its control arm, see `control`). */
  async run(): Promise<TrainResult> {
    if (this.opts.control) return this.runControl(this.opts.control);
    const c = this.config;
    const t0 = performance.now();
    if (getAlgorithm(c.algorithm.name).needsCritic && !(c.layout.rl.shares.critic > 0)) {
      throw new Error(`algorithm "${c.algorithm.name}" needs a CriticActor on every RL bundle; give layout.rl.shares.critic a GPU share > 0 (e.g. 0.2) and lower the others so they fit`);
    }
    // On a cluster (a runtime given) the GPUs are the nodes': the scheduler checks them, not nvidia-smi here.
    preflight(c, process.env, this.cwd, { localGpus: this.opts.runtime === undefined });
    mkdirSync(this.runDir, { recursive: true });
    const ds = await this.timed('world', () => prepareWorld(c, extraDemosFor(c.warmStart), this.cwd));
    this.log.info({ train: ds.train.length, dev: ds.dev.length, test: ds.test.length, pool: ds.pool, docs: ds.corpus.length }, 'world ready');
    const evalEngine = await openEvalEngine(c, ds, this.log);
    const workDir = path.join(this.runDir, 'work');
    mkdirSync(workDir, { recursive: true });
    const { tokenizer, tokenizerPath } = await this.timed('tokenizer', async () => this.prepareTokenizer(ds, workDir));
    const localSim = c.simulator.backend === 'local' ? await this.timed('simulator', () => this.prepareSimulator(ds)) : undefined;
    const policyDir = await this.timed('warm-start', () => this.warmStart(ds, tokenizer));
    this.evalCtx = { policyDir, tokenizer, engine: evalEngine, ds };
    const before: EvalPass = c.eval.before ? await this.timed('eval-before', () => this.evaluate(CausalLM.load(policyDir, this.evalDevice()), tokenizer, evalEngine, ds, 'before')) : { test: [], dev: [] };

    const owned = this.opts.runtime === undefined || typeof this.opts.runtime === 'function';
    const rt = await this.timed('runtime', () => this.runtime());
    let after: EvalPass = { test: [], dev: [] };
    let spawner: JobSpawner | undefined;
    let actors: JobActors | undefined;
    const watch = new JobWatch(rt, this.log);
    try {
      spawner = new JobSpawner(rt, c, jobLayout(c), { policyDir, tokenizerPath, simulatorBackends: simulatorBackends(c, this.cwd, localSim) }, this.log);
      spawner.onSpawn = (h, role, o) => watch.track(h, role, o);
      actors = await this.timed('spawn', () => spawner!.spawnAll());
      const job = spawner.job(actors);
      watch.start();
      const loop = new RlLoop({
        config: c,
        runDir: this.runDir,
        configSha256: this.opts.configSha256,
        resume: this.opts.resume ?? false,
        ds,
        job,
        spawner,
        watch,
        elastic: new ElasticPool(rt, spawner, job, c, this.log),
        log: this.log,
        periodicEval: async (step) => (this.evalDue(step) ? this.periodicEval(step, await job.learners.one('eval weights', 0, (le) => le.weights())) : undefined),
        onStep: (line) => this.emitStep(line),
      });
      const finalWeights = await this.timed('rl', () => loop.run());
      const finalModel = CausalLM.load(policyDir, this.evalDevice());
      finalModel.loadParams(finalWeights);
      if (c.eval.after) after = await this.timed('eval-after', () => this.evaluate(finalModel, tokenizer, evalEngine, ds, 'after'));
    } finally {
      watch.stop();
      // Managed simulator servers get a SIGTERM to their process group (a SIGKILLed worker's guard does the same);
      // a simulator that is not alive (e.g. waiting to be placed again) is not waited for.
      await Promise.all((actors?.simulators ?? []).map(async (s) => ((await s.$info().catch(() => undefined))?.state === 'alive' ? withTimeout(s.close(), 15_000).catch(() => undefined) : undefined)));
      if (owned) await rt.shutdown();
      else await spawner?.removeGroups();
    }
    if (before.test.length === 0 && after.test.length === 0) {
      this.log.info({ wallS: (performance.now() - t0) / 1000 }, 'no evaluation configured; report.json not written');
      return { report: null, runDir: this.runDir };
    }
    const report = buildReport({
      run: c.run.name,
      seed: c.run.seed,
      algorithm: c.algorithm.name,
      configSha256: this.opts.configSha256,
      steps: c.run.totalSteps,
      wallS: (performance.now() - t0) / 1000,
      stages: this.stages,
      before: before.test.length ? before.test : after.test,
      after: after.test.length ? after.test : before.test,
      devBefore: before.dev,
      devAfter: after.dev,
      splitsSizes: this.splitsSizes(ds, before.test.length ? before : after),
      simulator: reportSimulator(c.simulator.backend, localSim?.report, this.simCost),
    });
    writeReport(this.runDir, report);
    return { report, runDir: this.runDir };
  }

  /**
   * The control arm: the RL arm's starting policy, then warm-start SFT (more of
   * the same mix) for the RL phase's wall time instead of RL, evaluated the
   * same way; no actors. Its report has `arm: control` and what the SFT did.
   */
  private async runControl(ctl: NonNullable<TrainerOptions['control']>): Promise<TrainResult> {
    const c = this.config;
    const t0 = performance.now();
    if (!c.eval.after) throw new Error('the control arm is judged by its evaluation after training; set eval.after: true');
    mkdirSync(this.runDir, { recursive: true });
    const ws = { ...c.warmStart, enabled: true };
    // The world the RL arm had (its warm start's demonstrations); the SFT mix needs the warm start's demonstrations even when the policy comes warm-started.
    const ds = await this.timed('world', () => prepareWorld(c, extraDemosFor(c.warmStart), this.cwd));
    const mixDs = c.warmStart.enabled ? ds : await this.timed('world', () => prepareWorld(c, extraDemosFor(ws), this.cwd));
    const evalEngine = await openEvalEngine(c, ds, this.log);
    const workDir = path.join(this.runDir, 'work');
    mkdirSync(workDir, { recursive: true });
    const { tokenizer } = await this.timed('tokenizer', async () => this.prepareTokenizer(ds, workDir));
    const policyDir = await this.timed('warm-start', () => this.warmStart(ds, tokenizer));
    const before: EvalPass = ctl.before?.test.length ? ctl.before : await this.timed('eval-before', () => this.evaluate(CausalLM.load(policyDir, this.evalDevice()), tokenizer, evalEngine, ds, 'before'));
    const model = CausalLM.load(policyDir);
    const mc = model.config;
    const sftT0 = performance.now();
    const losses = await this.timed('control-sft', () =>
      supervisedTrain(model, tokenizer, warmStartExamples(mixDs, ws.demoShare, 4000), {
        steps: Number.MAX_SAFE_INTEGER,
        budgetS: ctl.budgetS,
        lr: ws.lr,
        batchSize: ws.batchSize,
        seed: c.run.seed,
        stream: 'control-sft',
        warmupSteps: 20,
        maxLength: Math.min(mc.max_position_embeddings, c.rollout.contextWindow),
        onStep: (i, loss) => this.progress({ stage: 'control-sft', done: Math.min(ctl.budgetS, (performance.now() - sftT0) / 1000), total: ctl.budgetS, detail: `step ${i + 1} loss ${loss.toFixed(3)}` }),
      }),
    );
    this.progress({ stage: 'control-sft', done: ctl.budgetS, total: ctl.budgetS });
    const sftS = (performance.now() - sftT0) / 1000;
    this.log.info({ steps: losses.length, seconds: sftS, budgetS: ctl.budgetS, finalLoss: losses.at(-1) }, 'control arm: warm-start SFT done');
    const after = await this.timed('eval-after', () => this.evaluate(model, tokenizer, evalEngine, ds, 'after'));
    const report = buildReport({
      run: c.run.name,
      seed: c.run.seed,
      algorithm: 'sft-control',
      configSha256: this.opts.configSha256,
      steps: losses.length,
      wallS: (performance.now() - t0) / 1000,
      stages: this.stages,
      before: before.test,
      after: after.test,
      devBefore: before.dev,
      devAfter: after.dev,
      splitsSizes: this.splitsSizes(ds, after),
      arm: 'control',
      control: { budget: 'rl_wall_s', budget_s: ctl.budgetS, sft_steps: losses.length, sft_s: sftS, sft_lr: ws.lr, sft_batch_size: ws.batchSize },
    });
    writeReport(this.runDir, report);
    return { report, runDir: this.runDir };
  }

  /**
   * Only the base policy: the world, the policy tokenizer and the warm start
   * (warmStart must be on), then the warm-started policy's greedy EM on the
   * DEV questions (test is not looked at: settings are chosen on dev). See
   * `writeBasePolicy` for the shipped directory.
   */
  async warmStartOnly(): Promise<{ policyDir: string; tokenizerPath: string; dev: EvalSplitResult[]; stages: Record<string, number> }> {
    const c = this.config;
    if (!c.warmStart.enabled || c.warmStart.sftSteps === 0) throw new Error('warmStartOnly needs warmStart.enabled with sftSteps > 0 (use fromScratchOverrides to remake a shipped policy)');
    mkdirSync(this.runDir, { recursive: true });
    const ds = await this.timed('world', () => prepareWorld(c, extraDemosFor(c.warmStart), this.cwd));
    const workDir = path.join(this.runDir, 'work');
    mkdirSync(workDir, { recursive: true });
    const { tokenizer, tokenizerPath } = await this.timed('tokenizer', async () => this.prepareTokenizer(ds, workDir));
    const policyDir = await this.timed('warm-start', () => this.warmStart(ds, tokenizer));
    const engine = await openEvalEngine(c, ds, this.log);
    const dev = (await this.timed('eval-dev', () => this.evaluate(CausalLM.load(policyDir, this.evalDevice()), tokenizer, engine, ds, 'dev', ['dev']))).dev;
    if (dev.length === 0) throw new Error('the world has no dev questions of the eval splits\' kinds; the base policy is judged on dev (give world.devSize, or world.dev files for a parquet world)');
    return { policyDir, tokenizerPath, dev, stages: this.stages };
  }

  /** The runtime of the job's actors: the caller's, the caller's factory's, or a local one. */
  private async runtime(): Promise<Runtime> {
    const r = this.opts.runtime;
    if (typeof r === 'function') return r();
    if (r) return r;
    return init({ logLevel: 'warn', resources: { CPU: Math.max(2, this.bundleCpus()), GPU: this.config.layout.gpus.count } });
  }

  private bundleCpus(): number {
    const l = this.config.layout;
    return l.simulator.bundles * l.simulator.cpusPerBundle + l.rl.bundles * l.rl.cpusPerBundle;
  }

  private prepareTokenizer(ds: Dataset, workDir: string): { tokenizer: Tokenizer; tokenizerPath: string } {
    return preparePolicyTokenizer(this.config, ds, workDir, this.cwd);
  }

  /** Tunes the local simulator on the world's pairs (cached by content hash), or takes simulator.model.path. */
  private async prepareSimulator(ds: Dataset): Promise<LocalSimulator> {
    const c = this.config;
    const steps = c.simulator.backend === 'local' ? c.simulator.tune.steps : 0;
    const cacheDir = path.resolve(this.cwd, path.dirname(c.warmStart.cacheDir), 'simulator');
    const r = await prepareLocalSimulator(c, ds, cacheDir, this.cwd, (i, loss) => this.progress({ stage: 'simulator-tune', done: i, total: steps, detail: `loss ${loss.toFixed(3)}` }));
    this.log.info({ cached: r.cached, dir: r.dir, lastLoss: r.report?.lastLoss, fidelity: r.report?.fidelity ?? undefined }, 'local simulator ready');
    return r;
  }

  private async warmStart(ds: Dataset, tokenizer: Tokenizer): Promise<string> {
    const c = this.config;
    const start = policyInit(c, tokenizer.vocabSize, this.cwd);
    const mc = start.config;
    const ws = c.warmStart;
    const steps = ws.enabled ? ws.sftSteps : 0;
    // A checkpoint with no warm start is the policy as is: no copy.
    if (steps === 0 && start.dir) return start.dir;
    const key = { kind: 'warm-start', mc, ...(start.dir ? { init: start.key } : {}), tokenizer: contentHash(tokenizer.toJSON()), ws: { ...ws, cacheDir: undefined }, world: c.world, demos: { topk: c.rollout.topk, extra: extraDemosFor(ws), n: ds.demos.length }, seed: c.run.seed };
    const cacheDir = path.resolve(this.cwd, ws.cacheDir);
    const r = await cachedSupervised(
      cacheDir,
      key,
      start.init,
      tokenizer,
      () => warmStartExamples(ds, ws.demoShare, 4000),
      {
        steps,
        lr: ws.lr,
        batchSize: ws.batchSize,
        seed: c.run.seed,
        maxLength: Math.min(mc.max_position_embeddings, c.rollout.contextWindow),
        onStep: (i, loss) => this.progress({ stage: 'warm-start', done: i + 1, total: steps, detail: `loss ${loss.toFixed(3)}` }),
      },
    );
    this.log.info({ cached: r.cached, dir: r.dir, finalLoss: r.losses.at(-1) }, 'warm start ready');
    return r.dir;
  }

  /** Greedy evaluation of every eval split on the test questions, then on the dev questions (when the world has dev questions of the split's kind). */
  private async evaluate(model: CausalLM, tokenizer: Tokenizer, engine: SearchEngine, ds: TrainWorld, when: string, which: ReadonlyArray<'test' | 'dev'> = ['test', 'dev']): Promise<EvalPass> {
    const out: EvalPass = { test: [], dev: [] };
    const jobs = which.flatMap((which) => this.config.eval.splits.map((split) => ({ which, split, items: evalItems(ds, split, which) }))).filter((j) => j.which === 'test' || j.items.length > 0);
    for (const [i, j] of jobs.entries()) {
      this.progress({ stage: `eval-${when}`, done: i, total: jobs.length, detail: `${j.which} ${j.split.name}` });
      out[j.which].push(await evaluateSplit(model, tokenizer, engine, j.split, j.items, this.config.rollout, { greedy: this.config.eval.greedy, seed: this.config.run.seed }));
    }
    this.progress({ stage: `eval-${when}`, done: jobs.length, total: jobs.length });
    this.log.info({ when, test: out.test.map((r) => ({ split: r.split, em: r.em })), dev: out.dev.map((r) => ({ split: r.split, em: r.em })) }, 'evaluation');
    return out;
  }

  /** Questions evaluated of each protocol split, out of its pool (train: the RL prompts' pool, not evaluated). */
  private splitsSizes(ds: TrainWorld, pass: EvalPass): NonNullable<BuildReportInput['splitsSizes']> {
    const n = (rs: readonly EvalSplitResult[]) => rs.reduce((a, r) => a + r.questions, 0);
    return {
      train: { evaluated: 0, pool: ds.pool.train },
      dev: { evaluated: n(pass.dev), pool: ds.pool.dev },
      test: { evaluated: n(pass.test), pool: ds.pool.test },
    };
  }

  /** Greedy EM on a small held-out sample after step `step` when `eval.every` says so (undefined otherwise). */
  private evalDue(step: number): boolean {
    const e = this.config.eval;
    return e.every > 0 && (step + 1) % e.every === 0 && this.evalCtx !== null;
  }

  private async periodicEval(step: number, weights: Map<string, Float32Array>): Promise<PeriodicEval | undefined> {
    const e = this.config.eval;
    const ctx = this.evalCtx;
    if (!this.evalDue(step) || !ctx || weights.size === 0) return undefined;
    ctx.model ??= CausalLM.load(ctx.policyDir, this.evalDevice());
    ctx.model.loadParams(weights);
    // The EM curve reads dev questions: the test split is evaluated once, at the end.
    const splits = e.splits.map((s) => ({ ...s, items: evalItems(ctx.ds, s, 'dev') }));
    const r = await evaluateSample(ctx.model, ctx.tokenizer, ctx.engine, splits, this.config.rollout, { sampleSize: e.sampleSize, seed: this.config.run.seed, split: 'dev' });
    this.log.info({ step, em: r.em, emByType: r.emByType, questions: r.evalQuestions }, 'periodic evaluation');
    return r;
  }

  private emitStep(line: StepMetrics): void {
    if (line.simulator) {
      const k = this.simCost;
      k.searches += line.simulator.searches;
      k.busyS += line.simulator.busyS;
      k.shareS += line.simulator.stepShare * line.timings.total;
      k.stepS += line.timings.total;
    }
    this.progress({ stage: 'rl', done: line.step + 1, total: this.config.run.totalSteps, detail: `reward ${line.reward.toFixed(3)}` });
    this.log.info({ step: line.step, reward: line.reward, version: line.policyVersion, totalS: +line.timings.total.toFixed(2) }, 'rl step');
    try {
      this.opts.onStep?.(line);
    } catch (err) {
      this.log.warn({ step: line.step, err: (err as Error).message }, 'onStep hook failed; training goes on');
    }
  }
}

/** The simulators' cost summed over the RL steps this process ran (from each step's metrics line). */
export interface SimulatorCost {
  searches: number;
  busyS: number;
  /** Σ stepShare × step seconds, and Σ step seconds: their ratio is the time-weighted busy share. */
  shareS: number;
  stepS: number;
}

/**
 * The report's simulator entry: the backend, and the fidelity its tune report
 * measured on its tuning hold-out (tune.json; older reports named the rates
 * usefulHasAnswer / noisyHasAnswer); null for a figure it lacks.
 */
export function reportSimulator(backend: string, tune: TuneReport | null | undefined, cost?: SimulatorCost): ReportSimulator {
  const f = (tune?.fidelity ?? null) as Record<string, unknown> | null;
  const rate = (...keys: string[]): number | null => {
    for (const k of keys) {
      const v = f?.[k];
      if (typeof v === 'number' && v >= 0 && v <= 1) return v;
    }
    return null;
  };
  return {
    backend,
    useful_answer_rate: rate('useful_answer_rate', 'usefulHasAnswer'),
    noisy_answer_rate: rate('noisy_answer_rate', 'noisyHasAnswer'),
    format_ok_rate: rate('format_ok_rate'),
    searches_per_s: cost && cost.busyS > 0 ? cost.searches / cost.busyS : null,
    step_share: cost && cost.stepS > 0 ? Math.min(1, cost.shareS / cost.stepS) : null,
  };
}

/** `p`, or a rejection after `ms`. */
function withTimeout<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([Promise.resolve(p), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
