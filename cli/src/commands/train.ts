import path from 'node:path';
import {
  Trainer,
  buildSeedsReport,
  checkPhysicalGpus,
  detectGpus,
  formatMemoryPlan,
  formatResultsTable,
  formatSeedsTable,
  formatTrainPlan,
  fromScratchOverrides,
  loadTrainConfig,
  memoryCheck,
  trainPlan,
  writeSeedsReport,
  type RunReport,
  type SeedRuns,
  type StepMetrics,
  type TrainerProgress,
} from '@cohort/actors';
import { connect, resolveClusterTarget, targetNote, type ClusterRuntime, type ClusterTarget } from '@cohort/cluster';
import { pino, type Logger } from 'pino';
import { openTrainingPublisher, writeRunPlots, type TrainingPublisher } from '@cohort/dashboard';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { ProgressBar } from '../progress.js';
import { commands } from '../registry.js';

/** One shared progress bar per trainer stage (redrawn on a TTY, plain lines otherwise). */
function progressRenderer(): (p: TrainerProgress) => void {
  let bar: ProgressBar | undefined;
  let stage = '';
  return (p) => {
    if (p.stage !== stage) {
      bar?.done();
      stage = p.stage;
      bar = new ProgressBar({ label: p.stage, total: p.total });
    }
    bar!.update(p.done, p.detail);
    if (p.done >= p.total) {
      bar!.done();
      bar = undefined;
      stage = '';
    }
  };
}

/** The cluster named by --address or COHORT_ADDRESS (token from --token-file or COHORT_TOKEN); undefined for a purely local run. */
function clusterTarget(v: { address?: string; 'token-file'?: string; cluster?: string }): ClusterTarget | undefined {
  if (!v.address && !process.env.COHORT_ADDRESS) return undefined;
  const target = resolveClusterTarget({ address: v.address, tokenFile: v['token-file'], cluster: v.cluster });
  const note = targetNote(target);
  if (note) process.stderr.write(`cohort train: ${note}\n`);
  return target;
}

/** The line to the cluster's dashboard, opened before training starts (so an unreachable cluster fails fast, exit code 3). */
function clusterPublisher(target: ClusterTarget): Promise<TrainingPublisher> {
  return openTrainingPublisher(target.url, { token: target.auth.token, credsFile: target.auth.credsFile, cluster: target.cluster });
}

/** The Trainer's onStep hook: each step to the dashboard, a failed publish logged once per run (never fatal). */
function publishSteps(p: TrainingPublisher, run: string, log: Logger): (m: StepMetrics) => void {
  let warned = false;
  return (m) => {
    try {
      p.publish(run, m);
    } catch (err) {
      if (!warned) log.warn({ err: (err as Error).message, cluster: p.cluster }, 'could not publish a step to the dashboard; metrics.jsonl still has it');
      warned = true;
    }
  };
}

/** `--seeds 7,8,9` → [7, 8, 9] (distinct non-negative integers). */
export function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((x) => x.trim());
  const bad = seeds.filter((x) => !/^\d+$/.test(x));
  if (seeds.length === 0 || bad.length) throw new UsageError(`--seeds ${text}: give comma-separated non-negative integers, e.g. --seeds 7,8,9${bad.length ? ` (not a seed: ${bad.map((b) => `"${b}"`).join(', ')})` : ''}`);
  const nums = seeds.map(Number);
  if (new Set(nums).size !== nums.length) throw new UsageError(`--seeds ${text}: a seed is given twice; each seed runs once`);
  return nums;
}

commands.push({
  path: ['train'],
  summary: 'run ZeroSearch RL training from a config (world, warm start, RL on the actors, eval before/after)',
  usage: `Usage: cohort train CONFIG.yaml [--set KEY=VALUE]... [--seeds 7,8,9 [--no-control]] [--from-scratch] [--dry-run] [--resume] [--json] [--log-level LEVEL] [--address NATS_URL [--token-file F] [--cluster NAME]]

Runs the whole job described by CONFIG (e.g. configs/zerosearch/local.yaml):
makes the world, warm-starts the policy (cached by content hash), evaluates it
with the corpus search engine, runs RL against the simulator with the
curriculum, evaluates again, and writes runs/<name>/ (metrics.jsonl,
report.json, reward/EM plots as SVG, checkpoints). Prints the results table (or report.json with --json).
--dry-run validates the config and prints the plan (bundles, actors with their CPU/GPU
shares, simulator backends with filled-in commands, input files present or missing) and the
memory plan per GPU (weights, gradients, AdamW state, activations, KV cache against the GPU's
memory from layout.gpus.memoryGiB or nvidia-smi) without starting anything; it exits 1 naming
the knob when a GPU does not fit (--json: {"params", "gpus": [...], "plan": {...}}).
--set KEY=VALUE overrides one config key before validation (repeatable; dotted keys,
YAML values), e.g. --set algorithm.name=gspo --set run.totalSteps=2; a bad key or
value is reported like one in the file, naming the --set it came from. The overrides
are part of the config's hash (a resume needs the same ones).
--resume continues from the newest checkpoint of the run (same config file).
--seeds 7,8,9 runs the job once per seed, one after another (run.seed set, run
name <name>-s<seed>), each followed by its CONTROL arm (<name>-s<seed>-control;
--no-control skips it): the same starting policy given more warm-start SFT
(warmStart's data mix, lr and batch size) for as long as that seed's RL phase
took (its report's stages.rl wall seconds), then the same evaluation, so a gain
can be credited to RL rather than to more training. It writes
runs/<name>/seeds.json: per eval split and for the average, the mean, sample
standard deviation and Student-t 95% CI over the seeds of test EM before, after
and of the gain, for both arms (em_gain_mean, em_gain_ci95,
control_em_gain_mean, ...), and the dev EM; and prints a table (--json: seeds.json).
--from-scratch remakes the base policy instead of loading policy.model.path: a
random init of policy.fromScratch's architecture, warm-started with the config's
warmStart settings (see \`cohort warm-start\`).
--address NATS_URL (or COHORT_ADDRESS) runs every actor of the job on that cluster
(simulators, rollouts, learners, references, critics), placed through the placement
groups the plan shows (layout strategy and node labels); this process keeps only
the orchestration (world, warm start, evaluation, the step loop, checkpoints). It
also publishes every step's metrics to the cluster's dashboard on NATS
(cohort.<cluster>.train.steps). The token comes from --token-file or COHORT_TOKEN. \`--address auto\` is the
current cluster (the one \`cohort up\` / \`cohort start --head\` last started here).
The run's files (warm-start policy, tokenizer, simulator model) are passed to the
actors by path: every node must see this directory at the same path (one machine,
or a shared filesystem). Without --address everything runs on this machine.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      resume: { type: 'boolean' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      address: { type: 'string' },
      'token-file': { type: 'string' },
      cluster: { type: 'string' },
      seeds: { type: 'string' },
      'no-control': { type: 'boolean' },
      'from-scratch': { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one config file, e.g. cohort train configs/zerosearch/local.yaml');
    if (values['no-control'] && !values.seeds) throw new UsageError('--no-control goes with --seeds (the control arm runs only in a multi-seed run)');
    const seeds = values.seeds !== undefined ? parseSeeds(values.seeds) : undefined;
    if (seeds && (values.resume || values['dry-run'])) throw new UsageError(`--seeds cannot go with --${values.resume ? 'resume' : 'dry-run'}; run or plan one seed with --set run.seed=N`);
    if (seeds && values.address) throw new UsageError('--seeds runs here, one seed after another; for seeds on a cluster use `cohort experiment EXP.yaml --address ...`');
    const scratch = values['from-scratch'] ? fromScratchOverrides((await loadTrainConfig(positionals[0], { overrides: values.set ?? [] })).config) : [];
    if (seeds) return runSeeds(positionals[0], [...(values.set ?? []), ...scratch], seeds, { control: !values['no-control'], json: values.json ?? false, level: values['log-level'] ?? 'warn' });
    // an invalid config is a ConfigError: the CLI prints its problems (no usage text) and exits 2
    const loaded = await loadTrainConfig(positionals[0], { overrides: [...(values.set ?? []), ...scratch] });
    if (values['dry-run']) {
      const plan = trainPlan(loaded.config);
      const c = loaded.config;
      const inventory = c.layout.gpus.kind === 'physical' ? detectGpus(c) : undefined;
      const mem = memoryCheck(c, inventory);
      let gpuLine = '';
      try {
        if (inventory) checkPhysicalGpus(c, inventory);
      } catch (err) {
        gpuLine = `dry run: a real run here would be refused: ${(err as Error).message}`;
      }
      if (values.json) {
        process.stdout.write(JSON.stringify({ params: mem.plan?.params ?? null, gpus: mem.plan?.gpus ?? [], plan }) + '\n'); // lint-allow-console
      } else {
        const memText = mem.plan ? formatMemoryPlan(mem.plan, mem.advice) : `memory plan: no policy config.json at ${mem.configFile ?? '(none)'}; set policy.model.configFile to a copy of it\n`;
        process.stdout.write(formatTrainPlan(plan) + memText + (gpuLine ? gpuLine + '\n' : '')); // lint-allow-console
      }
      if (mem.advice.length) {
        process.stderr.write(`cohort train: the layout does not fit in GPU memory: ${mem.advice.join('; ')}\n`); // lint-allow-console
        return 1;
      }
      return 0;
    }
    const level = values['log-level'] ?? 'warn';
    const logger = pino({ level }, pino.destination(2));
    const target = clusterTarget(values);
    const publisher = target ? await clusterPublisher(target) : undefined;
    let runtime: ClusterRuntime | undefined;
    try {
      if (target) runtime = await connect(target.url, { ...target.auth, logger: logger.child({ role: 'driver' }) });
      const onStep = publisher ? publishSteps(publisher, loaded.config.run.name, logger) : undefined;
      const trainer = new Trainer({ config: loaded.config, configSha256: loaded.sha256, logger, onProgress: progressRenderer(), resume: values.resume ?? false, onStep, runtime });
      const { report, runDir } = await trainer.run();
      writeRunPlots(runDir);
      if (values.json) process.stdout.write(JSON.stringify(report) + '\n'); // lint-allow-console
      else process.stdout.write((report ? formatResultsTable(report) : 'no evaluation configured (eval.before and eval.after are false)\n') + `outputs: ${runDir}\n`); // lint-allow-console
    } finally {
      await runtime?.shutdown().catch(() => undefined);
      await publisher?.close();
    }
    return 0;
  },
});

/** One run of the job (or its control arm) on this machine; returns its report. */
async function runOnce(file: string, overrides: readonly string[], logger: Logger, control?: { budgetS: number; before: { test: RunReport['splits']['before']; dev: RunReport['splits']['before'] } }): Promise<{ report: RunReport; runDir: string }> {
  const loaded = await loadTrainConfig(file, { overrides });
  const trainer = new Trainer({ config: loaded.config, configSha256: loaded.sha256, logger, onProgress: progressRenderer(), control });
  const { report, runDir } = await trainer.run();
  if (!report) throw new Error(`${file}: --seeds compares evaluations; set eval.before and eval.after to true`);
  writeRunPlots(runDir);
  process.stderr.write(formatResultsTable(report) + `outputs: ${runDir}\n`);
  return { report, runDir };
}

/** `--seeds`: the job per seed (then its control arm), and runs/<name>/seeds.json. */
async function runSeeds(file: string, overrides: string[], seeds: number[], o: { control: boolean; json: boolean; level: string }): Promise<number> {
  const base = await loadTrainConfig(file, { overrides });
  const name = base.config.run.name;
  const logger = pino({ level: o.level }, pino.destination(2));
  const runs: SeedRuns[] = [];
  for (const seed of seeds) {
    const seedSet = [...overrides, `run.seed=${seed}`];
    const rl = await runOnce(file, [...seedSet, `run.name=${name}-s${seed}`], logger);
    const entry: SeedRuns = { seed, rl: rl.report };
    if (o.control) {
      const budgetS = rl.report.stages.rl;
      if (budgetS === undefined) throw new Error(`run ${rl.report.run} recorded no RL stage time (stages.rl); the control arm's budget is that time`);
      entry.control = (await runOnce(file, [...seedSet, `run.name=${name}-s${seed}-control`], logger, { budgetS, before: { test: rl.report.splits.before, dev: rl.report.dev_splits?.before ?? [] } })).report;
    }
    runs.push(entry);
  }
  const report = buildSeedsReport(name, runs, base.sha256);
  const out = writeSeedsReport(path.resolve(base.config.run.outDir, name), report);
  if (o.json) process.stdout.write(JSON.stringify(report) + '\n'); // lint-allow-console
  else process.stdout.write(formatSeedsTable(report) + `outputs: ${out}\n`); // lint-allow-console
  return 0;
}
