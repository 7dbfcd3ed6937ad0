/**
 * Entry point of a worker process (`node --import tsx worker-main.ts`), started
 * by a worker launcher (worker-launcher.ts). It registers with the control plane, imports the actor's
 * module, runs the constructor and serves calls. It exits when its parent goes
 * away (stdin closes or the parent pid changes).
 *
 * Started with `COHORT_ACTOR_ID` set it hosts that actor at once. Started by the
 * launcher's pool (`COHORT_POOLED=1`) it boots, says `ready` on its IPC channel
 * and waits: `launch` makes it one actor's worker (its environment, GPU variables
 * included, is set in `process.env` before the actor's module is imported);
 * `host` makes it a shared process that hosts lightweight actors side by side
 * (`process: 'shared'`), `drop` removes one of them.
 */
import v8 from 'node:v8';
import { FrameFlags, FrameKind, type Frame } from '@cohort/protos';
import { ActorHost } from './actor-host.js';
import { installCollectives } from './collective/membership.js';
import { actorContext, inActor, runInActorContext, setActorContext, type ActorContext } from './actor-context.js';
import { controlPlaneClient, type ControlPlane, type WorkerBoot } from './control-plane.js';
import { ActorDiedError, errorToWire, ModuleLoadError } from './errors.js';
import type { LauncherToWorker, WorkerToLauncher } from './worker-launcher.js';
import { makeFrame, type Channel } from './transport/channel.js';
import { createLogger } from './logging.js';
import { Runtime } from './runtime.js';
import { workerConfigFromEnv } from './worker-config.js';
import type { CallHandler, Endpoint, EndpointExtras } from './transport/endpoint.js';

const env = process.env;
const parentPid = Number(env.COHORT_PARENT_PID ?? process.ppid);

// Never outlive the parent: stdin is a pipe from it, the IPC channel closes with it, and the ppid is polled.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 500).unref();

let logger = createLogger({ base: { actor: env.COHORT_ACTOR_ID ?? 'pool', pid: process.pid } });
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

/** Where this process's control plane is and how its data plane is secured (from the environment). */
async function startRuntime(ownerId: string, controlAddress: string): Promise<Runtime> {
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
    ownerId,
    endpoint: extras,
    controlPlane: (ep) => (resolver ? reResolvingControlPlane(ep, controlAddress, resolver) : controlPlaneClient(ep, controlAddress)),
  });
  installCollectives(rt.endpoint);
  return rt;
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

/** The actor's module, imported once per process (a shared process hosts many actors of one module; each import() asks the loader hooks). */
function importActorModule(url: string): Promise<Record<string, unknown>> {
  let m = modules.get(url);
  if (!m) {
    m = import(url) as Promise<Record<string, unknown>>;
    modules.set(url, m);
    m.catch(() => modules.delete(url));
  }
  return m;
}

/** Registers `actorId`, imports its module and constructs it; returns the host of its calls (exits the actor on failure). */
async function construct(rt: Runtime, actorId: string, incarnation: number, scoped: boolean): Promise<{ host: ActorHost; ctx: ActorContext; boot: WorkerBoot } | undefined> {
  const boot = await rt.cp.workerStarted(actorId, incarnation, rt.address, process.pid);
  const log = logger.child({ actor: boot.name ?? actorId, ...(boot.owner ? { owner: boot.owner } : {}) });
  if (!scoped) {
    logger = log;
    // `ps` (and /proc/PID/cmdline) name the actor a worker hosts, as Ray's `ray::Actor` titles do
    process.title = `cohort-worker ${boot.name ?? actorId}`;
  } else process.title = 'cohort-worker shared';
  try {
    let mod: Record<string, unknown>;
    try {
      mod = await importActorModule(boot.module);
    } catch (err) {
      throw new ModuleLoadError(`cannot import actor module ${boot.module}: ${(err as Error).message}`);
    }
    const cls = mod[boot.className];
    if (typeof cls !== 'function') {
      const classes = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      throw new ModuleLoadError(`module ${boot.module} has no exported class "${boot.className}" (exported classes/functions: ${classes.join(', ') || 'none'})`);
    }
    const ctx: ActorContext = { actorId, name: boot.name, incarnation, nodeId: boot.nodeId, gpuIds: boot.gpuIds, logger: log, runtime: rt };
    const make = () => new (cls as new (...a: unknown[]) => object)(...boot.args);
    if (!scoped) setActorContext(ctx);
    const instance = scoped ? runInActorContext(ctx, make) : make();
    return { host: new ActorHost(rt, instance, actorId, boot.className, boot.maxConcurrency, log), ctx, boot };
  } catch (err) {
    log.error({ err }, 'actor failed to start');
    await rt.cp.workerFailed(actorId, incarnation, errorToWire(err)).catch(() => {});
    return undefined;
  }
}

/** One actor in this process (the default): its env was set at boot or by the pool's launch. */
async function dedicated(): Promise<void> {
  const actorId = env.COHORT_ACTOR_ID ?? '';
  const incarnation = Number(env.COHORT_INCARNATION ?? 0);
  const controlAddress = env.COHORT_CONTROL_ADDRESS ?? '';
  if (!actorId || !controlAddress) {
    logger.fatal('COHORT_ACTOR_ID and COHORT_CONTROL_ADDRESS must be set; workers are started by a worker launcher (init() or a node agent)');
    process.exit(2);
  }
  const rt = await startRuntime(actorId, controlAddress);
  const made = await construct(rt, actorId, incarnation, false);
  if (!made) process.exit(1);
  rt.endpoint.callHandler = made.host;
  await rt.cp.workerReady(actorId, incarnation);
  serving(rt, actorId, incarnation, made.boot);
}

/**
 * Tells the worker launcher that this actor serves (over IPC, when started by one):
 * the agent keeps the list, and re-registers it with a restarted head.
 */
function serving(rt: Runtime, actorId: string, incarnation: number, boot: WorkerBoot): void {
  const m: WorkerToLauncher = { op: 'serving', actor: { actorId, incarnation, address: rt.address, pid: process.pid, name: boot.name, className: boot.className, module: boot.module } };
  process.send?.(m);
}

/**
 * Routes the calls of a shared worker process to the actor they name; each
 * actor's calls run with its own actor context.
 */
class SharedHost implements CallHandler {
  readonly actors = new Map<string, { host: ActorHost; ctx: ActorContext }>();

  onCallFrame(ch: Channel, frame: Frame, bulk: Uint8Array[]): void {
    const a = this.actors.get(frame.target);
    if (a) {
      runInActorContext(a.ctx, () => a.host.onCallFrame(ch, frame, bulk));
      return;
    }
    if (frame.kind !== FrameKind.Call || frame.flags & FrameFlags.Oneway || ch.closed) return;
    const err = new ActorDiedError(frame.target, undefined, `it no longer runs in shared worker ${process.pid} (killed or restarting)`);
    ch.send(makeFrame(FrameKind.Error, frame.id, '', '', v8.serialize(errorToWire(err))));
  }
}

let shared: { rt: Promise<Runtime>; router: SharedHost } | undefined;

/** A shared process hosts one more actor (`process: 'shared'`). */
async function hostShared(launch: Record<string, string>): Promise<void> {
  const actorId = launch.COHORT_ACTOR_ID;
  const incarnation = Number(launch.COHORT_INCARNATION ?? 0);
  if (!shared) {
    const router = new SharedHost();
    const rt = startRuntime(`shared-${process.pid}`, launch.COHORT_CONTROL_ADDRESS);
    shared = { rt, router };
    const r = await rt;
    r.endpoint.callHandler = router;
    // Actors spawned from inside a shared actor are owned by that actor (not by the process).
    const procOwner = r.ownerId;
    Object.defineProperty(r, 'ownerId', { get: () => currentActorId() ?? procOwner });
  }
  const rt = await shared.rt;
  const router = shared.router;
  // One actor's failure (a stale launch, a throwing constructor) ends that actor, not its neighbours.
  try {
    const made = await construct(rt, actorId, incarnation, true); // logs and reports its own failures
    if (made) {
      router.actors.set(actorId, made);
      await rt.cp.workerReady(actorId, incarnation);
      serving(rt, actorId, incarnation, made.boot);
      return;
    }
  } catch (err) {
    logger.warn({ err, actor: actorId }, 'a shared actor ended while starting');
  }
  router.actors.delete(actorId);
  const m: WorkerToLauncher = { op: 'ended', actorId };
  process.send?.(m);
}

function currentActorId(): string | undefined {
  try {
    return inActor() ? actorContext().actorId : undefined;
  } catch {
    return undefined;
  }
}

/** Messages from the worker launcher (see `LauncherToWorker` in worker-launcher.ts). */
function onAgentMessage(m: LauncherToWorker): void {
  if (m.op === 'launch') {
    // A pooled worker becomes this actor's: its environment (GPU ids included) is set before the actor's module loads.
    Object.assign(env, m.env);
    logger = createLogger({ base: { actor: env.COHORT_ACTOR_ID, pid: process.pid } });
    dedicated().catch(fatal);
  } else if (m.op === 'host') {
    if (!shared) {
      Object.assign(env, m.env);
      logger = createLogger({ base: { pid: process.pid } });
    }
    hostShared(m.env).catch(fatal);
  } else if (m.op === 'drop') {
    shared?.router.actors.delete(m.actorId);
  }
}

function fatal(err: unknown): void {
  logger.fatal({ err }, 'worker start-up failed');
  process.exit(1);
}

process.on('message', (m) => onAgentMessage(m as LauncherToWorker));
process.send?.({ op: 'ready' });
// A pooled worker waits for its launch; a worker started for one actor has its env already.
if (env.COHORT_ACTOR_ID) dedicated().catch(fatal);
else if (!process.send) fatal(new Error('COHORT_ACTOR_ID and COHORT_CONTROL_ADDRESS must be set; workers are started by a worker launcher (init() or a node agent)'));
