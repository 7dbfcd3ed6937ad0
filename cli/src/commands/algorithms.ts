import path from 'node:path';
import { describeAlgorithms, formatAlgorithms, loadAlgorithmPlugins } from '@cohort/actors';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

commands.push({
  path: ['algorithms'],
  summary: 'list the registered RL algorithms with their parameters',
  usage: `Usage: cohort algorithms [--plugin FILE]... [--json]

Lists every registered algorithm (the built-ins, plus those the --plugin files
register; paths relative to the current directory): what it does, where it
comes from, whether it needs a critic, and each parameter algorithm.params may
hold for it, with type, default and meaning. A key not listed is rejected when
a config is loaded. --json prints the same as a JSON array.`,
  async run(argv) {
    const { values } = parseFlags(argv, { json: { type: 'boolean' }, plugin: { type: 'string', multiple: true } }, false);
    try {
      await loadAlgorithmPlugins(values.plugin ?? [], path.resolve('.'));
    } catch (err) {
      throw new UsageError((err as Error).message.replace('algorithm.plugins', '--plugin'));
    }
    const infos = describeAlgorithms();
    process.stdout.write(values.json ? JSON.stringify(infos) + '\n' : formatAlgorithms(infos)); // lint-allow-console
    return 0;
  },
});
