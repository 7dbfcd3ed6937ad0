import type { Command } from './command.js';

/** Every command the CLI knows. Later packages add theirs here. */
export const commands: Command[] = [];

/** Longest-prefix match of argv against the registered command paths. */
export function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.length > argv.length) continue;
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.path.length) } : undefined;
}
