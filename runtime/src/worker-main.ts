/**
 * Entry point of a worker process (`node --import tsx worker-main.ts`), started
 * by a node agent. It registers with the control plane, imports the actor's
 * module, runs the constructor and serves calls. It exits when its parent goes
 * away (stdin closes or the parent pid changes).
 */
import { ActorHost } from './actor-host.js';
import { setActorContext } from './actor-context.js';
import { controlPlaneClient, type ControlPlane } from './control-plane.js';
import { errorToWire, ModuleLoadError } from './errors.js';
import { createLogger } from './logging.js';
import { Runtime } from './runtime.js';
import { workerConfigFromEnv } from './worker-config.js';
import type { Endpoint, EndpointExtras } from './transport/endpoint.js';

const env = process.env;
const actorId = env.COHORT_ACTOR_ID ?? '';
const incarnation = Number(env.COHORT_INCARNATION ?? 0);
const controlAddress = env.COHORT_CONTROL_ADDRESS ?? '';
const parentPid = Number(env.COHORT_PARENT_PID ?? process.ppid);

// Never outlive the parent: stdin is a pipe from it, and the ppid is polled.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 500).unref();

let logger = createLogger({ base: { actor: actorId, pid: process.pid } });
process.on('uncaughtException', (err) => {
  logger.fatal({ err }, 'uncaught exception; the worker exits');
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  logger.error({ err }, 'unhandled promise rejection in the actor');
});

/** Finds the control plane's current address after its connection broke (e.g. a restarted head on a new port). */
type ControlResolver = (current: string, endpoint: Endpoint) => Promise<string | undefined>;

const CONNECTION_LOST = /connection to .* (failed|closed)|channel to .* is closed|UNAVAILABLE/;

/**
 * The control-plane client at `first`; when a call fails because that
 * connection is gone, `resolve` is asked for the current address and the call
 * is retried there once (later calls go there too).
 */
function reResolvingControlPlane(ep: Endpoint, first: string, resolve: ControlResolver): ControlPlane {
  let address = first;
  let inner = controlPlaneClient(ep, address) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const out: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
  for (const m of Object.keys(inner)) {
    out[m] = async (...args: unknown[]) => {
      try {
        return await inner[m](...args);
      } catch (err) {
        if (!CONNECTION_LOST.test((err as Error)?.message ?? '') || ep.closed) throw err;
        const next = await resolve(address, ep).catch(() => undefined);
        if (!next || next === address) throw err;
        logger.info({ from: address, to: next }, 'the control plane moved; retrying there');
        address = next;
        inner = controlPlaneClient(ep, address) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return inner[m](...args);
      }
    };
  }
  return out as unknown as ControlPlane;
}

async function main(): Promise<void> {
  if (!actorId || !controlAddress) {
    logger.fatal('COHORT_ACTOR_ID and COHORT_CONTROL_ADDRESS must be set; workers are started by a node agent');
    process.exit(2);
  }
  // COHORT_ENDPOINT_SETUP: a module URL exporting `endpointOptions()` that returns
  // data-plane extras (e.g. the cluster's token interceptors), and optionally
  // `resolveControlAddress(current, endpoint)` to re-find a control plane that moved;
  // COHORT_ADVERTISE_HOST: the host put in this worker's advertised address.
  let extras: EndpointExtras = {};
  let resolver: ControlResolver | undefined;
  if (env.COHORT_ENDPOINT_SETUP) {
    const m = (await import(env.COHORT_ENDPOINT_SETUP)) as { endpointOptions?: () => EndpointExtras | Promise<EndpointExtras>; resolveControlAddress?: ControlResolver };
    if (typeof m.endpointOptions !== 'function') throw new Error(`COHORT_ENDPOINT_SETUP module ${env.COHORT_ENDPOINT_SETUP} must export endpointOptions()`);
    extras = await m.endpointOptions();
    if (typeof m.resolveControlAddress === 'function') resolver = m.resolveControlAddress;
  }
  if (env.COHORT_ADVERTISE_HOST) extras = { ...extras, advertiseHost: env.COHORT_ADVERTISE_HOST };
  const rt = await Runtime.start({
    config: workerConfigFromEnv(env),
    logger,
    ownerId: actorId,
    endpoint: extras,
    controlPlane: (ep) => (resolver ? reResolvingControlPlane(ep, controlAddress, resolver) : controlPlaneClient(ep, controlAddress)),
  });
  const boot = await rt.cp.workerStarted(actorId, incarnation, rt.address, process.pid);
  logger = logger.child({ actor: boot.name ?? actorId });
  try {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(boot.module)) as Record<string, unknown>;
    } catch (err) {
      throw new ModuleLoadError(`cannot import actor module ${boot.module}: ${(err as Error).message}`);
    }
    const cls = mod[boot.className];
    if (typeof cls !== 'function') {
      const classes = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      throw new ModuleLoadError(`module ${boot.module} has no exported class "${boot.className}" (exported classes/functions: ${classes.join(', ') || 'none'})`);
    }
    setActorContext({ actorId, name: boot.name, incarnation, nodeId: boot.nodeId, gpuIds: boot.gpuIds, logger, runtime: rt });
    const instance = new (cls as new (...a: unknown[]) => object)(...boot.args);
    rt.endpoint.callHandler = new ActorHost(rt, instance, actorId, boot.className, boot.maxConcurrency, logger);
  } catch (err) {
    logger.error({ err }, 'actor failed to start');
    await rt.cp.workerFailed(actorId, incarnation, errorToWire(err)).catch(() => {});
    process.exit(1);
  }
  await rt.cp.workerReady(actorId, incarnation);
}

main().catch((err) => {
  logger.fatal({ err }, 'worker start-up failed');
  process.exit(1);
});
