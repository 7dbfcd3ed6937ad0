import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Edit distance between two flag names. */
function closeness(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/**
 * Strict flag parsing: an unknown or mistyped flag is a UsageError that lists
 * the flags the command does accept.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    const names = Object.keys(options);
    const known = names.map((k) => `--${k}`).join(', ');
    // node's hint about positionals that start with "-" is noise next to the list of flags
    const msg = (err as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, '');
    // "Unknown option '--folow'" → did you mean --follow?
    const bad = /Unknown option '-{1,2}([^']+)'/.exec(msg)?.[1];
    const near = bad ? names.map((n) => ({ n, d: closeness(bad, n) })).filter((x) => x.d <= Math.max(1, Math.floor(x.n.length / 3))).sort((a, b) => a.d - b.d)[0] : undefined;
    throw new UsageError(`${msg}${near ? `; did you mean --${near.n}?` : ''} (expected one of: ${known || 'no flags'})`);
  }
}
