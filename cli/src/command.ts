/** One `cohort` sub-command. Each lives in its own file under `commands/`. */
export interface Command {
  /** Words that select it, e.g. `['bench', 'runtime']`. */
  readonly path: readonly string[];
  /** One line for `cohort --help`. */
  readonly summary: string;
  /** Full usage text for `cohort <path> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** An error whose message is shown to the user as is, with exit code 2 (usage). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
