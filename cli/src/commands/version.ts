import { readFileSync } from 'node:fs';
import { parseFlags } from '../args.js';
import { commands } from '../registry.js';

commands.push({
  path: ['version'],
  summary: 'print the Cohort version',
  usage: 'Usage: cohort version [--json]',
  async run(argv) {
    const { values } = parseFlags(argv, { json: { type: 'boolean' } }, false);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(values.json ? JSON.stringify({ version: pkg.version, node: process.versions.node }) + '\n' : `cohort ${pkg.version}\n`); // lint-allow-console
    return 0;
  },
});
