import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing: an unknown or mistyped flag is a UsageError that lists
 * the flags the command does accept.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    const known = Object.keys(options).map((k) => `--${k}`).join(', ');
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (expected one of: ${known || 'no flags'})`);
  }
}
