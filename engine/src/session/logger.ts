import { pino, type Logger } from 'pino';

let defaultLogger: Logger | undefined;

/** The engine's default logger (stderr, level from COHORT_LOG_LEVEL, default warn), for callers that pass none. */
export function engineLogger(): Logger {
  defaultLogger ??= pino({ name: 'cohort-engine', level: process.env.COHORT_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  return defaultLogger;
}
