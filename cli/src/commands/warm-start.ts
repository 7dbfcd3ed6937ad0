import path from 'node:path';
import { Trainer, fromScratchOverrides, loadTrainConfig, writeBasePolicy } from '@cohort/actors';
import { pino } from 'pino';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { ProgressBar } from '../progress.js';
import { commands } from '../registry.js';

/** An argument as a POSIX shell would need it written. */
function shellWord(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

commands.push({
  path: ['warm-start'],
  summary: 'make the base policy: warm-start SFT from random init, dev EM, and a MANIFEST.json (what `npm start` loads)',
  usage: `Usage: cohort warm-start CONFIG.yaml --out DIR [--set KEY=VALUE]... [--json] [--log-level LEVEL]

Makes the warm-started base policy the main job starts RL from, the way
\`cohort train --from-scratch\` would: the config's world, a policy tokenizer
trained on the train split only, policy.fromScratch's architecture (or
policy.model.config) from random init with run.seed, warm-started with the
config's warmStart settings (switched on), then greedy EM on the DEV questions
(never test). Writes DIR/config.json, model.safetensors, tokenizer.json and
MANIFEST.json (this exact command, the config hash, the sha256 of each file,
the dev EM). configs/zerosearch/local.yaml loads models/zerosearch-local/policy,
made by:
  cohort warm-start configs/zerosearch/local.yaml --out models/zerosearch-local/policy
--set KEY=VALUE overrides a config key as in \`cohort train\` (e.g. a short
version: --set warmStart.sftSteps=5). --json prints the manifest.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'log-level': { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('give exactly one config file, e.g. cohort warm-start configs/zerosearch/local.yaml --out models/zerosearch-local/policy');
    if (!values.out) throw new UsageError('give --out DIR, the directory to write the base policy into (replaced whole), e.g. --out models/zerosearch-local/policy');
    const sets = values.set ?? [];
    const first = await loadTrainConfig(positionals[0], { overrides: sets });
    const overrides = [...sets, ...fromScratchOverrides(first.config)];
    const loaded = await loadTrainConfig(positionals[0], { overrides });
    const c = loaded.config;
    const logger = pino({ level: values['log-level'] ?? 'warn' }, pino.destination(2));
    let bar: ProgressBar | undefined;
    let stage = '';
    // the warm start's working files (world tokenizer) go under runs/<name>-warm-start
    const trainer = new Trainer({
      config: { ...c, run: { ...c.run, name: `${c.run.name}-warm-start` } },
      configSha256: loaded.sha256,
      logger,
      onProgress: (p) => {
        if (p.stage !== stage) {
          bar?.done();
          stage = p.stage;
          bar = new ProgressBar({ label: p.stage, total: p.total });
        }
        bar!.update(p.done, p.detail);
      },
    });
    const made = await trainer.warmStartOnly();
    bar?.done();
    const command = ['cohort', 'warm-start', ...argv].map(shellWord).join(' ');
    const manifest = writeBasePolicy(values.out, made, {
      command,
      config: path.relative(process.cwd(), path.resolve(positionals[0])),
      configSha256: loaded.sha256,
      overrides,
      seed: c.run.seed,
      warmStart: { sftSteps: c.warmStart.sftSteps, lr: c.warmStart.lr, batchSize: c.warmStart.batchSize, demoShare: c.warmStart.demoShare },
    });
    if (values.json) process.stdout.write(JSON.stringify(manifest) + '\n'); // lint-allow-console
    else {
      const dev = manifest.dev.map((d) => `${d.split} ${d.em.toFixed(1)} (${d.questions} q)`).join(', ');
      process.stdout.write(`base policy: ${values.out}\ndev EM ${manifest.dev_em.toFixed(1)} (${dev}); warm start ${manifest.warmStart.sftSteps} steps in ${(manifest.stages['warm-start'] ?? 0).toFixed(0)} s\n`); // lint-allow-console
    }
    return 0;
  },
});
