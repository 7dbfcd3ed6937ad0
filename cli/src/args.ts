import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';
import { editDistance } from './edit-distance.js';

type Options = NonNullable<ParseArgsConfig['options']>;

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
    const near = bad ? names.map((n) => ({ n, d: editDistance(bad, n) })).filter((x) => x.d <= Math.max(1, Math.floor(x.n.length / 3))).sort((a, b) => a.d - b.d)[0] : undefined;
    throw new UsageError(`${msg}${near ? `; did you mean --${near.n}?` : ''} (expected one of: ${known || 'no flags'})`);
  }
}
