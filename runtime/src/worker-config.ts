import { resolveRuntimeConfig, type ResolvedRuntimeConfig } from './options.js';

/** Environment variables that carry the runtime limits from the driver to its workers. */
export function workerEnvFor(cfg: ResolvedRuntimeConfig): Record<string, string> {
  return {
    COHORT_MAX_MESSAGE_BYTES: String(cfg.maxMessageBytes),
    COHORT_BULK_THRESHOLD: String(cfg.bulkThresholdBytes),
    COHORT_MAX_BULK_BYTES: String(cfg.maxBulkBytes),
    COHORT_HOST: cfg.host,
  };
}

/** The runtime config of a worker process, from its environment. */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv): ResolvedRuntimeConfig {
  return resolveRuntimeConfig({
    resources: {},
    maxMessageBytes: env.COHORT_MAX_MESSAGE_BYTES ? Number(env.COHORT_MAX_MESSAGE_BYTES) : undefined,
    bulkThresholdBytes: env.COHORT_BULK_THRESHOLD ? Number(env.COHORT_BULK_THRESHOLD) : undefined,
    host: env.COHORT_HOST || undefined,
  });
}
