import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Log level from config, else `COHORT_LOG_LEVEL`, else `info`. */
export function resolveLogLevel(level?: string): LevelWithSilent {
  const l = (level ?? process.env.COHORT_LOG_LEVEL ?? 'info') as LevelWithSilent;
  const ok = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!ok.includes(l)) throw new Error(`invalid log level "${l}": use one of ${ok.join(', ')} (COHORT_LOG_LEVEL or the logLevel option)`);
  return l;
}

/**
 * The root logger of a driver or worker process: JSON lines on stderr, so that
 * stdout carries only a command's results (`--json` stays one document). The
 * worker launcher forwards a worker's stderr (and stdout) lines into its own log.
 */
export function createLogger(opts: { level?: string; base?: Record<string, unknown> } = {}): Logger {
  return pino({ level: resolveLogLevel(opts.level), base: opts.base ?? { pid: process.pid } }, pino.destination(2));
}

export type { Logger };
