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
    'Exit codes: 0 ok, 1 error, 2 usage or invalid config (bad command, flag, config file or key), 3 cluster unreachable',
    '(not up, no answer, or credentials refused), 4 not found, 130 interrupted.',
    'Colour is off under NO_COLOR and when output is not a terminal.',
  ].join('\n');
}

/** Exit codes of `cohort` (also listed by `cohort --help`). */
export const EXIT = { ok: 0, error: 1, usage: 2, unreachable: 3, notFound: 4, interrupted: 130 } as const;

/** The nearest of `options` to `word` within a third of its length (transpositions count once), if any. */
function nearest(word: string, options: string[]): string | undefined {
  return options
    .map((o) => ({ o, d: editDistance(word, o) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(x.o.length / 3)))
    .sort((a, b) => a.d - b.d)[0]?.o;
}

/**
 * What was typed as the command (only the command words: `trian`, `bench runtim`,
 * never the arguments after them) and a hint towards the commands meant.
 */
function unknownCommand(argv: string[]): { typed: string; hint: string } {
  const words = argv.filter((a) => !a.startsWith('-'));
  const firsts = [...new Set(commands.map((c) => c.path[0]))];
  const group = (first: string) => commands.filter((c) => c.path[0] === first && c.path.length > 1);
  const list = (cs: typeof commands) => cs.map((c) => `cohort ${c.path.join(' ')}`).join(', ');
  if (words.length === 0) return { typed: argv.join(' '), hint: '' };
  if (firsts.includes(words[0])) {
    // a group (`cohort bench ...`) with a missing or mistyped second word
    const members = group(words[0]);
    const typed = words.slice(0, 2).join(' ');
    const near = words[1] === undefined ? undefined : nearest(words[1], members.map((c) => c.path[1]));
    return { typed, hint: near ? `; did you mean \`cohort ${words[0]} ${near}\`?` : `; did you mean one of: ${list(members)}?` };
  }
  const near = nearest(words[0], firsts);
  if (!near) return { typed: words[0], hint: '' };
  const members = group(near);
  return { typed: words[0], hint: members.length ? `; did you mean one of: ${list(members)}?` : `; did you mean \`cohort ${near}\`?` };
}

/** Errors that mean an invalid configuration file or option (exit code 2, no usage text: the message names the key). */
const CONFIG_ERRORS = new Set(['ConfigError', 'ClusterConfigError', 'DashboardConfigError', 'ExperimentError']);

/** The synopsis of a usage text (its first paragraph) and where the rest is. */
function synopsis(c: { path: readonly string[]; usage: string }): string {
  const first = c.usage.trim().split(/\n\s*\n/)[0];
  return `${first}\n(\`cohort ${c.path.join(' ')} --help\` for the details)`;
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
    const { typed, hint } = unknownCommand(argv);
    process.stderr.write(`cohort: unknown command "${typed}"${hint}\n${hint ? 'Run `cohort --help` for every command.' : `\n${overview()}`}\n`);
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
      process.stderr.write(`cohort ${found.command.path.join(' ')}: ${err.message}\n\n${synopsis(found.command)}\n`);
      return EXIT.usage;
    }
    const e = err as Error;
    if (CONFIG_ERRORS.has(e?.name)) {
      process.stderr.write(`cohort ${found.command.path.join(' ')}: ${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`cohort ${found.command.path.join(' ')}: ${e?.message ?? String(err)}\n`);
    if (process.env.COHORT_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    return exitCodeOf(err);
  }
}
