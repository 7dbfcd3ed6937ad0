import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';
import { editDistance } from './edit-distance.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing: an unknown or mistyped flag is a UsageError that lists
 * the flags the command does accept.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  // `--steps -3`: a negative number after a string flag is its value (node would call it ambiguous);
  // the command's own check then says what range the value takes
  const args = [...argv];
  for (let i = args.length - 2; i >= 0; i--) {
    const m = /^--([^=]+)$/.exec(args[i]);
    if (m && options[m[1]]?.type === 'string' && /^-(\d|\.\d|Infinity)/.test(args[i + 1])) args.splice(i, 2, `--${m[1]}=${args[i + 1]}`);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
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
