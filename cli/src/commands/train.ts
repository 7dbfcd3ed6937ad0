import { ConfigError, Trainer, formatResultsTable, loadTrainConfig, type TrainerProgress } from '@cohort/actors';
import { pino } from 'pino';
import { writeRunPlots } from '@cohort/dashboard';
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

commands.push({
  path: ['train'],
  summary: 'run ZeroSearch RL training from a config (world, warm start, RL on the actors, eval before/after)',
  usage: `Usage: cohort train CONFIG.yaml [--resume] [--json] [--log-level LEVEL]

Runs the whole job described by CONFIG (e.g. configs/zerosearch/local.yaml):
makes the world, warm-starts the policy (cached by content hash), evaluates it
with the corpus search engine, runs RL against the simulator with the
curriculum, evaluates again, and writes runs/<name>/ (metrics.jsonl,
report.json, reward/EM plots as SVG, checkpoints). Prints the results table (or report.json with --json).
--resume continues from the newest checkpoint of the run (same config file).`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: 'boolean' }, resume: { type: 'boolean' }, 'log-level': { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError('give exactly one config file, e.g. cohort train configs/zerosearch/local.yaml');
    let loaded;
    try {
      loaded = await loadTrainConfig(positionals[0]);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    const level = values['log-level'] ?? 'warn';
    const logger = pino({ level }, pino.destination(2));
    const trainer = new Trainer({ config: loaded.config, configSha256: loaded.sha256, logger, onProgress: progressRenderer(), resume: values.resume ?? false });
    const { report, runDir } = await trainer.run();
    writeRunPlots(runDir);
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n'); // lint-allow-console
    else process.stdout.write((report ? formatResultsTable(report) : 'no evaluation configured (eval.before and eval.after are false)\n') + `outputs: ${runDir}\n`); // lint-allow-console
    return 0;
  },
});
