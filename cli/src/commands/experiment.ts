import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXPERIMENT_PLOTS, experimentMarkdown, experimentResults, loadExperiment, runExperiment, type ExperimentResults } from '@cohort/actors';
import { connect, resolveClusterTarget, targetNote, type ClusterRuntime } from '@cohort/cluster';
import { barChartSvg, lineChartSvg } from '@cohort/dashboard';
import { pino } from 'pino';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag } from './zerosearch-common.js';

/** The experiment's SVG plots: test EM and gain per arm with 95% CI error bars, and the dev-EM curve per arm. */
function writePlots(dir: string, r: ExperimentResults): void {
  const bars = (title: string, pick: (a: ExperimentResults['arms'][number]) => { mean: number; ci95: readonly [number, number] }) =>
    barChartSvg({
      title,
      yLabel: 'EM (%)',
      groups: r.arms.map((a) => ({ label: a.name, values: [{ name: `mean over ${a.seeds.length} seeds, 95% CI`, value: pick(a).mean, err: pick(a).ci95 }] })),
    });
  writeFileSync(path.join(dir, EXPERIMENT_PLOTS.em), bars(`${r.experiment}: test EM after RL`, (a) => a.em_after));
  writeFileSync(path.join(dir, EXPERIMENT_PLOTS.gain), bars(`${r.experiment}: test EM gain (after − before)`, (a) => a.em_gain));
  const q = r.arms.find((a) => a.dev_curve_questions)?.dev_curve_questions;
  writeFileSync(
    path.join(dir, EXPERIMENT_PLOTS.devCurve),
    lineChartSvg({
      title: `${r.experiment}: dev EM during RL${q ? ` (${q} dev questions per point)` : ''}, mean over seeds`,
      xLabel: 'RL step',
      yLabel: 'dev EM (%)',
      series: r.arms.map((a) => ({ name: a.name, points: a.dev_curve.map((p) => [p.step, p.em] as [number, number]), markers: true })),
    }),
  );
}

commands.push({
  path: ['experiment'],
  summary: 'run every arm × seed of an experiment file (resumable) and write results.json, results.md and plots',
  usage: `Usage: cohort experiment EXP.yaml [--check] [--parallel N] [--json] [--log-level LEVEL] [--address NATS_URL [--token-file F] [--cluster NAME]]

EXP.yaml names a base training config, seeds and arms (each a map of config overrides,
as \`cohort train --set\`), e.g. configs/experiments/zerosearch-paper.yaml:
  name: my-exp
  base: ../zerosearch/local.yaml      # relative to EXP.yaml
  seeds: [7, 8, 9]
  set: { run.totalSteps: 20 }         # every arm
  arms:
    - { name: grpo, set: { algorithm.name: grpo } }
    - { name: reinforce, set: { algorithm.name: reinforce } }
Every arm × seed runs as one training job (runs/<name>/<arm>-s<seed>/), one after another;
a run that finished under the same config is read back, not redone, so the command resumes
after being stopped. Then it writes runs/<name>/results.json (every run's report, and per
arm mean, std and 95% CI over seeds of test EM after RL and of the gain, per split),
results.md (the table) and SVG plots (EM per arm with error bars, dev EM per arm over steps).
--check validates every arm's config and exits (a bad file names the arm and the key).
--address runs each job's actors on that cluster; --parallel N runs N jobs at once there.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      check: { type: 'boolean' },
      parallel: { type: 'string' },
      json: { type: 'boolean' },
      'log-level': { type: 'string' },
      address: { type: 'string' },
      'token-file': { type: 'string' },
      cluster: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one experiment file, e.g. cohort experiment configs/experiments/zerosearch-paper.yaml');
    const parallel = intFlag('parallel', values.parallel, 1, 1);
    const exp = await loadExperiment(positionals[0]);
    if (values.check) {
      process.stdout.write(`${exp.file}: ${exp.spec.arms.length} arms × ${exp.spec.seeds.length} seeds = ${exp.trials.length} runs, all valid; outputs in ${exp.dir}\n`);
      return 0;
    }
    if (parallel > 1 && !values.address && !process.env.COHORT_ADDRESS) throw new UsageError('--parallel > 1 needs a cluster (--address): on one machine the jobs would share its cores');
    const logger = pino({ level: values['log-level'] ?? 'warn' }, pino.destination(2));
    let runtime: ClusterRuntime | undefined;
    if (values.address || process.env.COHORT_ADDRESS) {
      const target = resolveClusterTarget({ address: values.address, tokenFile: values['token-file'], cluster: values.cluster });
      const note = targetNote(target);
      if (note) process.stderr.write(`cohort experiment: ${note}\n`);
      runtime = await connect(target.url, { ...target.auth, logger: logger.child({ role: 'driver' }) });
    }
    try {
      const trials = await runExperiment(exp, {
        logger,
        runtime,
        parallel,
        onTrial: (t, event, i, n) => process.stderr.write(`cohort experiment: [${i + 1}/${n}] ${t.name}: ${event === 'reused' ? 'finished before, read back' : event === 'start' ? 'running' : 'done'}\n`),
      });
      const results = experimentResults(exp, trials);
      mkdirSync(exp.dir, { recursive: true });
      writeFileSync(path.join(exp.dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
      writeFileSync(path.join(exp.dir, 'results.md'), experimentMarkdown(results));
      writePlots(exp.dir, results);
      if (values.json) process.stdout.write(JSON.stringify(results) + '\n');
      else process.stdout.write(experimentMarkdown(results).split('\n').filter((l) => l.startsWith('|')).join('\n') + `\noutputs: ${exp.dir}\n`);
    } finally {
      await runtime?.shutdown().catch(() => undefined);
    }
    return 0;
  },
});
