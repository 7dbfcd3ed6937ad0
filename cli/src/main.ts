import { UsageError } from './command.js';
import { commands, findCommand } from './registry.js';
import { editDistance } from './edit-distance.js';
import './commands/index.js';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length), 10);
  const rows = commands
    .slice()
    .sort((a, b) => a.path.join(' ').localeCompare(b.path.join(' ')))
    .map((c) => `  cohort ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'Usage: cohort <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    'Run `cohort <command> --help` for the options of one command.',
    'Exit codes: 0 ok, 1 error, 2 usage (bad command, flag or config key), 3 cluster unreachable, 4 not found.',
    'Colour is off under NO_COLOR and when output is not a terminal.',
  ].join('\n');
}

/** Exit codes of `cohort` (also listed by `cohort --help`). */
export const EXIT = { ok: 0, error: 1, usage: 2, unreachable: 3, notFound: 4, interrupted: 130 } as const;

function suggest(argv: string[]): string {
  const words = argv.filter((a) => !a.startsWith('-'));
  const typed = words.join(' ');
  // commands that start with what was typed (`cohort bench` → bench engine, bench runtime, ...)
  const prefixed = commands.filter((c) => words.length > 0 && words.length < c.path.length && words.every((w, i) => c.path[i] === w));
  if (prefixed.length) return `; did you mean one of: ${prefixed.map((c) => `cohort ${c.path.join(' ')}`).join(', ')}?`;
  const scored = commands
    .map((c) => ({ c, d: editDistance(typed.split(' ').slice(0, c.path.length).join(' '), c.path.join(' ')) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(x.c.path.join(' ').length / 3)))
    .sort((a, b) => a.d - b.d);
  return scored.length ? `; did you mean \`cohort ${scored[0].c.path.join(' ')}\`?` : '';
}

/** The exit code an error maps to: its own numeric `exitCode`, 3 for an unreachable cluster, else 1. */
function exitCodeOf(err: unknown): number {
  const e = err as { exitCode?: unknown; name?: unknown };
  if (typeof e?.exitCode === 'number' && Number.isInteger(e.exitCode) && e.exitCode > 0) return e.exitCode;
  if (e?.name === 'ClusterUnreachableError' || e?.name === 'ClusterAuthError') return EXIT.unreachable;
  return EXIT.error;
}

/** Entry point of the `cohort` binary; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found && (argv.includes('--help') || argv.includes('-h'))) {
    const words = argv.filter((a) => !a.startsWith('-'));
    const group = commands.filter((c) => words.length > 0 && words.every((w, i) => c.path[i] === w));
    if (group.length) {
      process.stdout.write(`Commands under \`cohort ${words.join(' ')}\`:\n${group.map((c) => `  cohort ${c.path.join(' ').padEnd(Math.max(...group.map((g) => g.path.join(' ').length)))}  ${c.summary}`).join('\n')}\n`);
      return EXIT.ok;
    }
  }
  if (!found) {
    process.stderr.write(`cohort: unknown command "${argv.filter((a) => !a.startsWith('-')).join(' ') || argv.join(' ')}"${suggest(argv)}\n\n${overview()}\n`);
    return EXIT.usage;
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
    return exitCodeOf(err);
  }
}
