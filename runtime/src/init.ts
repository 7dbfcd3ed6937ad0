import { serveControlPlane } from './control-plane.js';
import { LocalControlPlane } from './local-control-plane.js';
import { createLogger } from './logging.js';
import { LocalWorkerLauncher } from './worker-launcher.js';
import { resolveRuntimeConfig, type RuntimeConfig } from './options.js';
import { Runtime } from './runtime.js';
import { workerEnvFor } from './worker-config.js';
import type { Logger } from 'pino';
import type { EndpointExtras } from './transport/endpoint.js';

/**
 * Starts Cohort on this machine: the driver's data plane, the local control
 * plane (scheduler + actor directory) and a worker launcher for worker processes.
 * Call `shutdown()` when done; no worker outlives it (or the driver).
 */
export async function init(config: RuntimeConfig & { logger?: Logger; endpoint?: EndpointExtras } = {}): Promise<Runtime> {
  const { logger: given, endpoint: extras, ...rest } = config;
  const cfg = resolveRuntimeConfig(rest);
  const logger = given ?? createLogger({ level: cfg.logLevel, base: { node: 'local', role: 'driver' } });
  let cp: LocalControlPlane | undefined;
  const launcher = new LocalWorkerLauncher('local', logger, { workerPool: cfg.workerPool });
  const rt = await Runtime.start({
    config: cfg,
    logger,
    ownerId: 'driver',
    endpoint: extras,
    controlPlane: (endpoint) => {
      cp = new LocalControlPlane({
        logger,
        launcher,
        controlAddress: endpoint.address,
        logLevel: cfg.logLevel ?? logger.level,
        restartBackoffMs: cfg.restartBackoffMs,
        nodeResources: cfg.resources,
        nodeLabels: cfg.labels,
        workerEnv: workerEnvFor(cfg),
      });
      serveControlPlane(endpoint, cp);
      // Owners inside actors observe their actors' failures too (the driver listens in-process).
      cp.forwardEventsToActorOwners(endpoint, (owner) => owner === 'driver');
      return cp;
    },
    onShutdown: () => cp!.shutdown(),
    subscribe: (fn) => cp!.subscribe(fn),
  });
  return rt;
}
