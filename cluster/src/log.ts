import { pino, type Logger } from 'pino';

let root: Logger | undefined;

/**
 * The cluster package's root pino logger (JSON lines on stderr; level from
 * `COHORT_LOG_LEVEL`, default `info`).
 */
export function clusterLogger(): Logger {
  root ??= pino(
    { name: 'cohort-cluster', level: process.env.COHORT_LOG_LEVEL ?? 'info' },
    pino.destination(2),
  );
  return root;
}

/** A child logger carrying node / role bindings. */
export function childLogger(bindings: Record<string, unknown>, parent?: Logger): Logger {
  return (parent ?? clusterLogger()).child(bindings);
}
