/** One problem found in a configuration. */
export interface ConfigProblem {
  /** Dotted key path, e.g. `algorithm.params.clipRatio` (empty for the root). */
  path: string;
  /** What is wrong and how to fix it: names the expected and the found value. */
  message: string;
  /** 1-based line in the YAML file when known. */
  line?: number;
  /** The command-line override the value came from (`--set key=value`), when it did. */
  override?: string;
}

/** Thrown when a configuration file cannot be read, parsed or validated. Lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `invalid config ${file}:\n` +
        problems
          .map((p) => `  - ${p.override ? `${p.override}: ` : p.line !== undefined ? `line ${p.line}: ` : ''}${p.path || '(root)'}: ${p.message}`)
          .join('\n'),
    );
  }
}
