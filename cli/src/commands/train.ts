import { ConfigError, Trainer, formatResultsTable, loadTrainConfig, type TrainerProgress } from '@cohort/actors';
import { pino } from 'pino';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

/** Renders one progress bar line per stage on stderr (redrawn in place on a TTY). */
function progressRenderer(): (p: TrainerProgress) => void {
  const tty = process.stderr.isTTY;
  let lastStage = '';
  let lastPrint = 0;
  return (p) => {
    const width = 24;
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const line = `${p.stage.padEnd(12)} [${bar}] ${p.done}/${p.total}${p.detail ? `  ${p.detail}` : ''}`;
    const finished = p.done >= p.total;
    if (tty) {
      if (lastStage && lastStage !== p.stage) process.stderr.write('\n');
      process.stderr.write(`\r${line}\x1b[K${finished ? '\n' : ''}`);
      lastStage = finished ? '' : p.stage;
    } else {
      const now = Date.now();
      if (finished || p.stage !== lastStage || now - lastPrint > 5000) {
        process.stderr.write(line + '\n');
        lastPrint = now;
        lastStage = p.stage;
      }
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
report.json, checkpoints). Prints the results table (or report.json with --json).
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
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n'); // lint-allow-console
    else process.stdout.write((report ? formatResultsTable(report) : 'no evaluation configured (eval.before and eval.after are false)\n') + `outputs: ${runDir}\n`); // lint-allow-console
    return 0;
  },
});
