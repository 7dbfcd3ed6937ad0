import { UsageError } from './command.js';
import { commands, findCommand } from './registry.js';
import './commands/index.js';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length), 10);
  const rows = commands
    .slice()
    .sort((a, b) => a.path.join(' ').localeCompare(b.path.join(' ')))
    .map((c) => `  cohort ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return ['Usage: cohort <command> [options]', '', 'Commands:', ...rows, '', 'Run `cohort <command> --help` for the options of one command.'].join('\n');
}

/** Entry point of the `cohort` binary; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`cohort: unknown command "${argv.join(' ')}"\n\n${overview()}\n`);
    return 2;
  }
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    process.stdout.write(found.command.usage.trimEnd() + '\n');
    return 0;
  }
  try {
    return await found.command.run(found.rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`cohort ${found.command.path.join(' ')}: ${err.message}\n\n${found.command.usage.trimEnd()}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`cohort ${found.command.path.join(' ')}: ${e?.message ?? String(err)}\n`);
    if (process.env.COHORT_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    return 1;
  }
}
