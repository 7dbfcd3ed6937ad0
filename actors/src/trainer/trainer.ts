import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, type Tokenizer } from '@cohort/engine';
import { createCollectiveGroup, init, type ActorHandle, type Runtime } from '@cohort/runtime';
import { CorpusSearchEngine, NoiseSchedule, type Dataset, type QAItem } from '@cohort/zerosearch';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { getAlgorithm, klInReward } from '../algorithms/registry.js';
import type { TrainConfig } from '../config/schema.js';
import { rowsToResponse, rowTokens, toPolicyBatch } from '../learner/engine-batch.js';
import { CriticActorClass, toValueBatch, type CriticActor, type CriticStepResult } from '../learner/critic-actor.js';
import { LearnerActorClass, type LearnerActor } from '../learner/learner-actor.js';
import { ReferenceActorClass, type ReferenceActor } from '../learner/reference-actor.js';
import { MetricsWriter, summarizeTrajectories, type StepMetrics } from '../metrics/metrics-writer.js';
import { buildReport, writeReport, type EvalSplitResult, type RunReport } from '../metrics/report.js';
import { RolloutActorClass, type RolloutActor, type RolloutBatch } from '../rollout/rollout-actor.js';
import { rolloutWithRecovery } from '../rollout/rollout-recovery.js';
import type { RolloutPrompt } from '../rollout/policy-rollout.js';
import { SIMULATOR_MAX_CONCURRENCY, SimulatorActorClass, type SimulatorActor } from '../simulator/simulator-actor.js';
import { applyStaleness } from '../staleness/staleness.js';
import { findLatestCheckpoint, readCheckpoint, writeCheckpoint } from '../state/checkpoint.js';
import { DataLoader } from '../state/data-loader.js';
import { Prng } from '../state/prng.js';
import { informativeRows } from '../trajectory/filter-groups.js';
import { collate, selectRows, shardRows, toAdvantageBatch, type CollatedBatch } from '../trajectory/collate.js';
import { decodeTrajectories } from '../trajectory/codec.js';
import type { Trajectory } from '../trajectory/trajectory.js';
import { evaluateSample, evaluateSplit, type PeriodicEval } from './evaluate.js';
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
} from './setup.js';

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
}

interface Actors {
  simulators: ActorHandle<SimulatorActor>[];
  rollouts: ActorHandle<RolloutActor>[];
  learners: ActorHandle<LearnerActor>[];
  references: ActorHandle<ReferenceActor>[];
  /** PPO's value models, one per RL bundle (empty for critic-free algorithms). */
  critics: ActorHandle<CriticActor>[];
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
  /** Policy version the rollouts must generate with (sync) or hold (async). */
  private version = 0;
  /** What the periodic evaluation (`eval.every`) needs; set before the RL loop. */
  private evalCtx: { policyDir: string; tokenizer: Tokenizer; engine: CorpusSearchEngine; ds: Dataset; model?: CausalLM } | null = null;

  constructor(private readonly opts: TrainerOptions) {
    this.config = opts.config;
    this.cwd = opts.cwd ?? process.cwd();
    this.runDir = path.resolve(this.cwd, this.config.run.outDir, this.config.run.name);
    this.log = (opts.logger ?? pino({ level: 'info' })).child({ run: this.config.run.name });
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

  /** Runs the whole job. */
  async run(): Promise<TrainResult> {
    const c = this.config;
    const t0 = performance.now();
    if (getAlgorithm(c.algorithm.name).needsCritic && !(c.layout.rl.shares.critic > 0)) {
      throw new Error(`algorithm "${c.algorithm.name}" needs a CriticActor on every RL bundle; give layout.rl.shares.critic a GPU share > 0 (e.g. 0.2) and lower the others so they fit`);
    }
    mkdirSync(this.runDir, { recursive: true });
    const ds = await this.timed('world', () => prepareWorld(c, extraDemosFor(c.warmStart), this.cwd));
    this.log.info({ train: ds.train.length, test: ds.test.length, docs: ds.corpus.length }, 'world ready');
    const workDir = path.join(this.runDir, 'work');
    mkdirSync(workDir, { recursive: true });
    const { tokenizer, tokenizerPath } = await this.timed('tokenizer', async () => this.prepareTokenizer(ds, workDir));
    const localSim = c.simulator.backend === 'local' ? await this.timed('simulator', () => this.prepareSimulator(ds)) : undefined;
    const policyDir = await this.timed('warm-start', () => this.warmStart(ds, tokenizer));
    const corpusEngine = new CorpusSearchEngine(ds.corpus, { topk: c.rollout.topk });
    this.evalCtx = { policyDir, tokenizer, engine: corpusEngine, ds };
    const before = c.eval.before ? await this.timed('eval-before', () => this.evaluate(CausalLM.load(policyDir), tokenizer, corpusEngine, ds, 'before')) : [];

    const rt = await init({ logLevel: 'warn', resources: { CPU: Math.max(2, this.bundleCpus()), GPU: c.layout.gpus.count } });
    let after: EvalSplitResult[] = [];
    let actors: Actors | undefined;
    try {
      actors = await this.timed('spawn', () => this.spawnActors(rt, ds, policyDir, tokenizerPath, localSim));
      const finalWeights = await this.timed('rl', () => this.rlLoop(actors!, ds));
      const finalModel = CausalLM.load(policyDir);
      finalModel.loadParams(finalWeights);
      if (c.eval.after) after = await this.timed('eval-after', () => this.evaluate(finalModel, tokenizer, corpusEngine, ds, 'after'));
    } finally {
      // Managed simulator servers get a SIGTERM to their process group (a SIGKILLed worker's guard does the same).
      await Promise.all((actors?.simulators ?? []).map((s) => s.close().catch(() => undefined)));
      await rt.shutdown();
    }
    if (before.length === 0 && after.length === 0) {
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
      before: before.length ? before : after,
      after: after.length ? after : before,
    });
    writeReport(this.runDir, report);
    return { report, runDir: this.runDir };
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

  private async evaluate(model: CausalLM, tokenizer: Tokenizer, engine: CorpusSearchEngine, ds: Dataset, when: string): Promise<EvalSplitResult[]> {
    const out: EvalSplitResult[] = [];
    for (const split of this.config.eval.splits) {
      const items = evalItems(ds, split);
      this.progress({ stage: `eval-${when}`, done: out.length, total: this.config.eval.splits.length, detail: split.name });
      out.push(await evaluateSplit(model, tokenizer, engine, split, items, this.config.rollout, { greedy: this.config.eval.greedy, seed: this.config.run.seed }));
    }
    this.progress({ stage: `eval-${when}`, done: out.length, total: out.length });
    this.log.info({ when, results: out.map((r) => ({ split: r.split, em: r.em })) }, 'evaluation');
    return out;
  }

  private async spawnActors(rt: Runtime, ds: Dataset, policyDir: string, tokenizerPath: string, localSim?: LocalSimulator): Promise<Actors> {
    const c = this.config;
    const l = c.layout;
    const sim = c.simulator;
    const backends = simulatorBackends(c, this.cwd, localSim);
    const simulators = await Promise.all(
      Array.from({ length: l.simulator.bundles }, (_, i) =>
        rt.spawn(SimulatorActorClass, [{ index: i, backend: backends[i], style: sim.prompt, maxTokens: sim.maxTokens, temperature: sim.temperature, seed: c.run.seed, batching: sim.batching }], {
          name: `simulator-${i}`,
          resources: { CPU: l.simulator.cpusPerBundle, GPU: l.simulator.gpusPerBundle },
          // Concurrent calls from every rollout must overlap so the batcher can merge them.
          maxConcurrency: SIMULATOR_MAX_CONCURRENCY,
        }),
      ),
    );
    // Managed servers start in the background: fail here, with the server's own words, not at the first search.
    const urls = await Promise.all(simulators.map((s) => s.ready()));
    if (sim.backend === 'openai' && sim.managed) this.log.info({ urls: urls.map((u) => u.url) }, 'managed simulator servers healthy');
    const pg = await rt.createPlacementGroup({ bundles: Array.from({ length: l.rl.bundles }, () => ({ CPU: l.rl.cpusPerBundle, GPU: l.rl.gpusPerBundle })), strategy: l.strategy, name: 'rl' });
    await pg.ready();
    const share = l.rl.shares;
    const needCritic = getAlgorithm(c.algorithm.name).needsCritic;
    // Three colocated actors per bundle (four with a critic); round down to the scheduler's 1/10,000 units so they always fit.
    const cpu = Math.floor((l.rl.cpusPerBundle / (needCritic ? 4 : 3)) * 10_000) / 10_000;
    const updatesPerStep = Math.ceil((c.batch.promptsPerStep * c.batch.samplesPerPrompt) / c.batch.miniBatch) * c.algorithm.params.epochs;
    const learners = await Promise.all(
      Array.from({ length: l.rl.bundles }, (_, i) =>
        rt.spawn(
          LearnerActorClass,
          [{ rank: i, worldSize: l.rl.bundles, modelDir: policyDir, algorithm: { name: c.algorithm.name, params: c.algorithm.params }, optimizer: c.optimizer, totalUpdates: c.run.totalSteps * updatesPerStep, microBatch: c.batch.microBatch }],
          { name: `learner-${i}`, resources: { CPU: cpu, GPU: share.learner }, placementGroup: pg, bundleIndex: i },
        ),
      ),
    );
    const rollouts = await Promise.all(
      Array.from({ length: l.rl.bundles }, (_, i) =>
        rt.spawn(RolloutActorClass, [{ index: i, modelDir: policyDir, tokenizer: tokenizerPath, simulators }], {
          name: `rollout-${i}`,
          resources: { CPU: cpu, GPU: share.rollout },
          placementGroup: pg,
          bundleIndex: i,
          maxRestarts: 2,
        }),
      ),
    );
    const needRef = c.algorithm.params.kl.coef > 0;
    const references = needRef
      ? await Promise.all(
          Array.from({ length: l.rl.bundles }, (_, i) =>
            rt.spawn(ReferenceActorClass, [{ modelDir: policyDir }], { name: `reference-${i}`, resources: { CPU: cpu, GPU: share.reference }, placementGroup: pg, bundleIndex: i }),
          ),
        )
      : [];
    // PPO: one critic per RL bundle, initialised from the warm-start policy (same value-head seed everywhere).
    const critics = needCritic
      ? await Promise.all(
          Array.from({ length: l.rl.bundles }, (_, i) =>
            rt.spawn(
              CriticActorClass,
              [{ rank: i, worldSize: l.rl.bundles, modelDir: policyDir, params: c.algorithm.params, optimizer: c.optimizer, microBatch: c.batch.microBatch, seed: c.run.seed, group: 'critics' }],
              { name: `critic-${i}`, resources: { CPU: cpu, GPU: share.critic }, placementGroup: pg, bundleIndex: i },
            ),
          ),
        )
      : [];
    void ds;
    // Gradients are all-reduced among the learners (and among the critics) by the runtime's ring collective.
    await createCollectiveGroup(rt, { name: 'learners', members: learners });
    if (critics.length) await createCollectiveGroup(rt, { name: 'critics', members: critics });
    return { simulators, rollouts, learners, references, critics };
  }

  /** Splits prompts over rollouts and runs them concurrently. */
  private async collect(actors: Actors, prompts: RolloutPrompt[], step: number, noiseP: number): Promise<{ trajectories: Trajectory[]; batches: RolloutBatch[] }> {
    const c = this.config;
    const n = actors.rollouts.length;
    const parts = actors.rollouts.map((_, r) => shardRows(prompts.length, r, n).map((i) => prompts[i]));
    const batches = await Promise.all(
      actors.rollouts.map((ro, r) =>
        parts[r].length
          ? rolloutWithRecovery(ro, parts[r], {
              step,
              samplesPerPrompt: c.batch.samplesPerPrompt,
              maxTurns: c.rollout.maxTurns,
              maxNewTokensPerTurn: c.rollout.maxNewTokensPerTurn,
              observationTokenCap: c.rollout.observationTokenCap,
              contextWindow: c.rollout.contextWindow,
              temperature: c.rollout.temperature,
              topP: c.rollout.topP,
              noiseP,
              seed: c.run.seed * 131 + r,
            }, {
              version: this.version,
              // A restarted rollout gets the published version from learner 0 (not the driver's copy: there is none).
              weights: async () => actors.learners[0].publishedWeights(this.version),
              onRetry: (reason) => this.log.warn({ rollout: r, step, reason }, 'rollout redone'),
            })
          : Promise.resolve<RolloutBatch | null>(null),
      ),
    );
    const real = batches.filter((b): b is RolloutBatch => b !== null);
    return { trajectories: real.flatMap((b) => decodeTrajectories(b.trajectories)), batches: real };
  }

  /** Greedy EM on a small held-out sample after step `step` when `eval.every` says so (undefined otherwise). */
  private async periodicEval(step: number, weights: Map<string, Float32Array>): Promise<PeriodicEval | undefined> {
    const e = this.config.eval;
    const ctx = this.evalCtx;
    if (e.every <= 0 || (step + 1) % e.every !== 0 || !ctx || weights.size === 0) return undefined;
    ctx.model ??= CausalLM.load(ctx.policyDir);
    ctx.model.loadParams(weights);
    const splits = e.splits.map((s) => ({ ...s, items: evalItems(ctx.ds, s) }));
    const r = await evaluateSample(ctx.model, ctx.tokenizer, ctx.engine, splits, this.config.rollout, { sampleSize: e.sampleSize, seed: this.config.run.seed });
    this.log.info({ step, em: r.em, emByType: r.emByType, questions: r.evalQuestions }, 'periodic evaluation');
    return r;
  }

  private emitStep(line: StepMetrics): void {
    try {
      this.opts.onStep?.(line);
    } catch (err) {
      this.log.warn({ step: line.step, err: (err as Error).message }, 'onStep hook failed; training goes on');
    }
  }

  /** Per-token critic values of a batch, response-aligned; rows sharded over the critics. */
  private async criticValues(critics: ActorHandle<CriticActor>[], batch: CollatedBatch): Promise<Float32Array> {
    const rows = rowTokens(batch);
    const shards = critics.map((_, r) => shardRows(batch.batchSize, r, critics.length));
    const parts = await Promise.all(critics.map((cr, r) => (shards[r].length ? cr.values(shards[r].map((i) => rows[i])) : Promise.resolve([]))));
    const out: Float32Array[] = new Array(batch.batchSize);
    shards.forEach((s, r) => s.forEach((i, k) => (out[i] = parts[r][k])));
    return rowsToResponse(batch, out);
  }

  /** One data-parallel critic update on a mini-batch (every critic takes its shard; all-reduced in the critics). */
  private async criticUpdate(critics: ActorHandle<CriticActor>[], mini: CollatedBatch): Promise<{ result: CriticStepResult; seconds: number }> {
    const t0 = performance.now();
    const results = await Promise.all(
      critics.map((cr, r) => {
        const rowsR = shardRows(mini.batchSize, r, critics.length);
        if (rowsR.length === 0) return cr.trainStep(null);
        const shard = selectRows(mini, rowsR);
        return cr.trainStep(toValueBatch(shard, shard.returns!, shard.values!));
      }),
    );
    return { result: results[0], seconds: (performance.now() - t0) / 1000 };
  }

  private async rlLoop(actors: Actors, ds: Dataset): Promise<Map<string, Float32Array>> {
    const c = this.config;
    const def = getAlgorithm(c.algorithm.name);
    const schedule = new NoiseSchedule(
      c.curriculum.mode === 'curriculum'
        ? { kind: 'curriculum', start: c.curriculum.ps, end: c.curriculum.pe, base: c.curriculum.base, totalSteps: c.run.totalSteps }
        : { kind: 'random', p: c.curriculum.p },
    );
    let loader = new DataLoader(ds.train.length, c.run.seed);
    let rng = Prng.fromSeed(c.run.seed, 'trainer');
    const W = actors.learners.length;
    let version = 0;
    let startStep = 0;
    const latest = this.opts.resume ? findLatestCheckpoint(path.resolve(this.runDir, c.checkpoint.dir)) : null;
    const resumed = latest ? readCheckpoint(latest, { configSha256: this.opts.configSha256 }) : null;
    const metrics = new MetricsWriter(this.runDir, resumed ? { resumeFrom: resumed.manifest.curriculumStep } : {});
    if (metrics.previous) this.log.info({ previous: metrics.previous }, "an earlier run's metrics.jsonl was kept under a new name");
    if (latest && resumed) {
      const ck = resumed;
      const m = ck.manifest;
      const policy = ck.readFile('policy');
      const optimizer = ck.readFile('optimizer');
      const versions = await Promise.all(actors.learners.map((le) => le.restore(policy, optimizer)));
      version = versions[0];
      if (actors.critics.length) {
        if (!m.files.critic || !m.files.criticOptimizer) throw new Error(`${latest} has no critic files (written by a run without a critic); resume it with its own algorithm or start a new run name`);
        const critic = ck.readFile('critic');
        const criticOptimizer = ck.readFile('criticOptimizer');
        await Promise.all(actors.critics.map((cr) => cr.restore(critic, criticOptimizer)));
      }
      rng = Prng.fromState(m.rng.trainer);
      loader = new DataLoader(ds.train.length, c.run.seed, m.dataLoader);
      startStep = m.curriculumStep;
      await actors.learners[0].publishWeights(version, actors.rollouts);
      this.version = version;
      this.log.info({ checkpoint: latest, step: startStep, version }, 'resumed');
    }
    const promptsFor = (step: number): RolloutPrompt[] =>
      loader.next(c.batch.promptsPerStep).indices.map((idx, k) => {
        const q: QAItem = ds.train[idx];
        return { promptIndex: k, question: q.question, answers: [...q.goldenAnswers], dataSource: q.hops === 1 ? 'single-hop' : 'two-hop' };
      });
    const asyncMode = c.mode.kind === 'async';
    let prefetch: Promise<{ trajectories: Trajectory[]; batches: RolloutBatch[] }> | null = null;
    for (let step = startStep; step < c.run.totalSteps; step++) {
      const stepT0 = performance.now();
      const noiseP = schedule.p(step);
      const tGen0 = performance.now();
      const got = prefetch ?? this.collect(actors, promptsFor(step), step, noiseP);
      const { trajectories, batches } = await got;
      const waitS = (performance.now() - tGen0) / 1000;
      // Async: the next step's rollouts start now, on the current weights, while the learners train.
      prefetch = asyncMode && step + 1 < c.run.totalSteps ? this.collect(actors, promptsFor(step + 1), step + 1, schedule.p(step + 1)) : null;
      const simStats = await Promise.all(actors.simulators.map((s) => s.stats()));
      await Promise.all(actors.simulators.map((s) => s.resetStats()));

      let batch = collate(trajectories, { padId: 0 });
      const rows = rowTokens(batch);
      const shards = actors.learners.map((_, r) => shardRows(batch.batchSize, r, W));
      const t1 = performance.now();
      const oldParts = await Promise.all(actors.learners.map((le, r) => le.score(shards[r].map((i) => rows[i]))));
      const oldRows: Float32Array[] = new Array(batch.batchSize);
      shards.forEach((s, r) => s.forEach((i, k) => (oldRows[i] = oldParts[r][k])));
      const oldLogprobs = rowsToResponse(batch, oldRows);
      const oldS = (performance.now() - t1) / 1000;
      const st = applyStaleness(batch, { currentVersion: version, mode: c.mode, proximalLogprobs: oldLogprobs });
      batch = { ...st.batch, oldLogprobs: c.mode.kind === 'async' && c.mode.correction === 'importance' ? st.batch.oldLogprobs : pickKept(batch, st.batch, oldLogprobs) };
      const t2 = performance.now();
      let refLogprobs: Float32Array | undefined;
      if (actors.references.length) {
        const keptRows = rowTokens(batch);
        const refShards = actors.references.map((_, r) => shardRows(batch.batchSize, r, actors.references.length));
        const parts = await Promise.all(actors.references.map((re, r) => re.score(refShards[r].map((i) => keptRows[i]))));
        const refRowsArr: Float32Array[] = new Array(batch.batchSize);
        refShards.forEach((s, r) => s.forEach((i, k) => (refRowsArr[i] = parts[r][k])));
        refLogprobs = rowsToResponse(batch, refRowsArr);
        batch.refLogprobs = refLogprobs;
      }
      const refS = (performance.now() - t2) / 1000;
      // PPO: the critics' per-token values (sharded like the references) go into GAE.
      let criticS = 0;
      if (actors.critics.length) {
        const tc = performance.now();
        batch.values = await this.criticValues(actors.critics, batch);
        criticS += (performance.now() - tc) / 1000;
      }
      const adv = def.computeAdvantages(toAdvantageBatch(batch), { params: c.algorithm.params, options: c.algorithm.options });
      batch.advantages = adv.advantages;
      if (actors.critics.length) {
        if (!adv.returns) throw new Error(`algorithm "${def.name}" needs a critic but returned no returns (value targets) from computeAdvantages`);
        batch.returns = adv.returns;
      }
      void klInReward;

      // PPO-style updates: epochs × mini-batches, each sharded over the learners and all-reduced.
      let updateS = 0;
      let reduceS = 0;
      let lossSum = { total: 0, pg: 0, kl: 0, entropy: 0, clipFraction: 0 };
      let nUpdates = 0;
      let gradNorm = 0;
      let lr = 0;
      let criticLoss = 0;
      let criticLast: CriticStepResult | undefined;
      const updateRows = c.algorithm.params.filterGroups ? informativeRows(batch) : Array.from({ length: batch.batchSize }, (_, i) => i);
      for (let epoch = 0; epoch < c.algorithm.params.epochs; epoch++) {
        const order = rng.shuffle([...updateRows]);
        for (let m = 0; m < order.length; m += c.batch.miniBatch) {
          const mini = selectRows(batch, order.slice(m, m + c.batch.miniBatch));
          const iw = st.importanceWeights ? pickWeights(batch, st.importanceWeights, order.slice(m, m + c.batch.miniBatch)) : undefined;
          const tu = performance.now();
          // The critics update on the same mini-batch alongside the learners (clip anchor: this step's values).
          const criticRun = actors.critics.length ? this.criticUpdate(actors.critics, mini) : null;
          // Every learner computes its shard's gradient, all-reduces it with the others (ring) and applies it.
          const results = await Promise.all(
            actors.learners.map((le, r) => {
              const rowsR = shardRows(mini.batchSize, r, W);
              if (rowsR.length === 0) return le.trainStep(null);
              const shard = selectRows(mini, rowsR);
              return le.trainStep(toPolicyBatch(shard, { advantages: shard.advantages!, oldLogprobs: shard.oldLogprobs, refLogprobs: shard.refLogprobs, importanceWeights: iw ? pickWeights(mini, iw, rowsR) : undefined }));
            }),
          );
          // The collective's own time: the last learner to arrive waits for no one, so the minimum
          // is the communication; what the others waited beyond it is compute imbalance (update).
          const reduce = Math.min(...results.map((x) => x.allreduceS));
          reduceS += reduce;
          updateS += (performance.now() - tu) / 1000 - reduce;
          if (criticRun) {
            const cr = await criticRun;
            criticS += cr.seconds;
            criticLoss += cr.result.valueLoss;
            criticLast = cr.result;
          }
          const res = results[0];
          version = res.version;
          gradNorm = res.gradNorm;
          lr = res.lr;
          lossSum = {
            total: lossSum.total + res.loss,
            pg: lossSum.pg + res.pgLoss,
            kl: lossSum.kl + res.klLoss,
            entropy: lossSum.entropy + res.entropyLoss,
            clipFraction: lossSum.clipFraction + res.clipFrac,
          };
          nUpdates++;
        }
      }
      // Weight sync: learner 0 publishes the version to the rollouts itself (shared memory on its
      // machine, the bulk path to others); the driver only says which version and to whom.
      const tw = performance.now();
      await actors.learners[0].publishWeights(version, actors.rollouts);
      this.version = version;
      const syncS = (performance.now() - tw) / 1000;
      const te = performance.now();
      const evalDue = c.eval.every > 0 && (step + 1) % c.eval.every === 0;
      const periodic = await this.periodicEval(step, evalDue ? await actors.learners[0].weights() : new Map());
      const evalS = (performance.now() - te) / 1000;

      const summary = summarizeTrajectories(trajectories);
      const generateS = Math.max(0, ...batches.map((b) => b.timings.generate));
      const searchS = Math.max(0, ...batches.map((b) => b.timings.search));
      const totalS = (performance.now() - stepT0) / 1000;
      const simBatches = simStats.reduce((s, x) => s + x.batches, 0);
      const line: StepMetrics = {
        step,
        time: new Date().toISOString(),
        policyVersion: version,
        ...summary,
        noiseP,
        timings: { generate: generateS, search: searchS, oldLogprob: oldS, ref: refS, update: updateS, allreduce: reduceS, weightSync: syncS, ...(periodic ? { eval: evalS } : {}), ...(actors.critics.length ? { critic: criticS } : {}), total: totalS },
        simulatorBatch: {
          mean: simBatches ? simStats.reduce((s, x) => s + x.meanBatch * x.batches, 0) / simBatches : 0,
          max: Math.max(0, ...simStats.map((x) => x.maxBatch)),
          batches: simBatches,
        },
        idleRatio: Math.min(1, Math.max(0, waitS / Math.max(totalS, 1e-9))),
        loss: nUpdates ? { total: lossSum.total / nUpdates, pg: lossSum.pg / nUpdates, kl: lossSum.kl / nUpdates, entropy: lossSum.entropy / nUpdates, clipFraction: Math.min(1, Math.max(0, lossSum.clipFraction / nUpdates)) } : undefined,
        lr,
        gradNorm: Number.isFinite(gradNorm) ? gradNorm : undefined,
        ...(criticLast && batch.values && batch.returns ? { critic: { ...valueStats(batch.values, batch.returns, batch.lossMask), valueLoss: criticLoss / nUpdates, lr: criticLast.lr, gradNorm: Number.isFinite(criticLast.gradNorm) ? criticLast.gradNorm : undefined } } : {}),
        updateRows: updateRows.length,
        staleness: { maxLag: st.maxLag, meanLag: st.meanLag, dropped: st.dropped.length },
        ...periodic,
      };
      metrics.write(line);
      this.emitStep(line);
      this.progress({ stage: 'rl', done: step + 1, total: c.run.totalSteps, detail: `reward ${summary.reward.toFixed(3)}` });
      this.log.info({ step, reward: summary.reward, version, totalS: +totalS.toFixed(2) }, 'rl step');

      if ((c.checkpoint.every > 0 && (step + 1) % c.checkpoint.every === 0) || step + 1 === c.run.totalSteps) {
        const files = await actors.learners[0].checkpointFiles();
        const criticFiles = actors.critics.length ? await actors.critics[0].checkpointFiles() : null;
        writeCheckpoint(
          path.resolve(this.runDir, c.checkpoint.dir),
          {
            step: step + 1,
            policyVersion: files.version,
            curriculumStep: step + 1,
            configSha256: this.opts.configSha256,
            algorithm: c.algorithm.name,
            rng: { trainer: rng.state() },
            dataLoader: loader.state(),
            files: { policy: files.policy, optimizer: files.optimizer, ...(criticFiles ? { critic: criticFiles.critic, criticOptimizer: criticFiles.criticOptimizer } : {}) },
          },
          { keep: c.checkpoint.keep },
        );
      }
    }
    if (prefetch) await prefetch.catch(() => undefined);
    writeFileSync(path.join(this.runDir, 'work', 'final-version.txt'), String(version));
    const final = await actors.learners[0].weights();
    await actors.learners[0].closePublisher();
    return final;
  }
}

/** Old log-probs of the rows `kept` retained from `full` (drop mode keeps a subset, in order). */
function pickKept(full: CollatedBatch, kept: CollatedBatch, values: Float32Array): Float32Array {
  if (kept.batchSize === full.batchSize) return values;
  const index = new Map(full.trajectoryIds.map((id, i) => [id, i]));
  const R = full.responseLength;
  const out = new Float32Array(kept.batchSize * R);
  kept.trajectoryIds.forEach((id, b) => out.set(values.subarray(index.get(id)! * R, (index.get(id)! + 1) * R), b * R));
  return out;
}

/** Rows of a response-aligned weight array. */
function pickWeights(batch: CollatedBatch, w: Float32Array, rows: readonly number[]): Float32Array {
  const R = batch.responseLength;
  const out = new Float32Array(rows.length * R);
  rows.forEach((r, i) => out.set(w.subarray(r * R, (r + 1) * R), i * R));
  return out;
}

/** Mean value and return on policy tokens and the explained variance 1 − Var(R − V)/Var(R) (0 when the returns are constant). */
function valueStats(values: Float32Array, returns: Float32Array, mask: Float32Array): { valueMean: number; returnMean: number; explainedVariance: number } {
  let n = 0;
  let sv = 0;
  let sr = 0;
  let sd = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    n++;
    sv += values[i];
    sr += returns[i];
    sd += returns[i] - values[i];
  }
  if (n === 0) return { valueMean: 0, returnMean: 0, explainedVariance: 0 };
  let varR = 0;
  let varD = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    varR += (returns[i] - sr / n) ** 2;
    varD += (returns[i] - values[i] - sd / n) ** 2;
  }
  return { valueMean: sv / n, returnMean: sr / n, explainedVariance: varR > 0 ? 1 - varD / varR : 0 };
}
