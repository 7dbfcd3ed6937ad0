import type { Logger } from 'pino';
import { Runtime, controlPlaneClient, resolveRuntimeConfig, serveControlPlane, type ActorSpec, type Channel, type RunningActor } from '@cohort/runtime';
import { AGENT_OPS, ClusterControlPlane } from './cluster-control-plane.js';
import { dataPlaneExtras } from './data-plane.js';
import type { TlsPaths } from './security.js';
import { ClusterHead, type HeadOptions } from './head.js';
import { childLogger } from './log.js';
import { actorEventSubject } from './log-fanout.js';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Data-plane request a driver sends the head to register as an actor owner. */
export const DRIVER_HELLO = 'cluster.driverHello';

/** Options for {@link startClusterHead}. */
export interface ClusterHeadServiceOptions extends HeadOptions {
  /** Interface the head's data plane (control API for drivers and workers) binds to. Default 127.0.0.1. */
  host?: string;
  /** Host put in the head's published gRPC address (default `host`, or the hostname when `host` is a wildcard). */
  advertiseHost?: string;
  /** Fixed gRPC port of the head's data plane (config `head.grpcPort`); default 0 (any free port). */
  grpcPort?: number;
  /** Token every data-plane peer must present; default `auth.token`. Without one (NATS creds only), use `tls`. */
  dataPlaneToken?: string;
  /** Mutual TLS on the data plane (config `security.tls`). */
  tls?: TlsPaths;
  /** Log level handed to workers. */
  logLevel?: string;
  restartBackoffMs?: number;
}

/** A running head: membership + KV state ({@link ClusterHead}) and the control plane served on gRPC. */
export interface ClusterHeadService {
  readonly head: ClusterHead;
  readonly controlPlane: ClusterControlPlane;
  /** gRPC data-plane address of the control plane (what drivers and workers dial). */
  readonly grpcAddress: string;
  readonly natsUrl: string;
  stop(opts?: { killActors?: boolean }): Promise<void>;
}

/**
 * Starts `cohort start --head`: the control plane across nodes. Nodes that
 * join (heartbeats carrying their agent's data-plane address) become
 * schedulable; dead ones are removed and their actors restarted elsewhere or
 * failed. Drivers reach it with `connect(natsUrl)`.
 */
export async function startClusterHead(o: ClusterHeadServiceOptions): Promise<ClusterHeadService> {
  const logger: Logger = childLogger({ role: 'head', cluster: o.cluster }, o.logger);
  let cp: ClusterControlPlane | undefined;
  let head: ClusterHead | undefined;
  const rt = await Runtime.start({
    config: resolveRuntimeConfig({ host: o.host ?? '127.0.0.1', port: o.grpcPort ?? 0 }),
    endpoint: dataPlaneExtras({ token: o.dataPlaneToken ?? o.auth?.token, tls: o.tls, bind: o.host, advertiseHost: o.advertiseHost }),
    logger,
    ownerId: 'head',
    // the head's own runtime never calls a control plane; workers and drivers call the one served below
    controlPlane: (ep) => controlPlaneClient(ep, ep.address),
  });
  try {
    head = await ClusterHead.start({ ...o, logger, grpcAddress: rt.address });
    const h0 = head;
    cp = new ClusterControlPlane({ logger, endpoint: rt.endpoint, store: head.store, epoch: head.epoch, logLevel: o.logLevel ?? process.env.COHORT_LOG_LEVEL ?? 'info', restartBackoffMs: o.restartBackoffMs });
    const control = cp;
    serveControlPlane(rt.endpoint, control);
    rt.endpoint.handle('cp.createActor', (body, ch: Channel) => {
      const [spec] = body as [ActorSpec];
      if (spec && typeof spec.owner === 'string') control.trackOwner(ch, spec.owner);
      return control.createActor(spec);
    });
    // A driver introduces itself (on connect, and again after the head moved) so that
    // its owned actors end when its channel closes, including actors recovered from KV.
    rt.endpoint.handle(DRIVER_HELLO, (body, ch: Channel) => {
      const owner = (body as { owner?: unknown })?.owner;
      if (typeof owner !== 'string' || !owner.startsWith('driver-')) throw new Error(`${DRIVER_HELLO}: expected {owner: "driver-..."}`);
      control.trackOwner(ch, owner);
      return { cluster: o.cluster, epoch: h0.epoch };
    });
    rt.endpoint.onChannelClose((ch) => {
      for (const [owner, c] of control.owners) {
        if (c === ch) {
          control.owners.delete(owner);
          control.ownerGone(owner, `its owner ${owner} disconnected`);
        }
      }
    });
    const events = actorEventSubject(o.cluster);
    const hnc = head.nc;
    control.subscribe((e) => {
      if (!hnc.isClosed()) hnc.publish(events, JSON.stringify(e));
    });
    // Owners inside actors observe their actors' failures too (drivers hear them on NATS above).
    control.forwardEventsToActorOwners(rt.endpoint, (owner) => control.owners.has(owner));
    for (const n of head.monitor.alive()) control.addNode(n);
    if (head.epoch > 1) {
      const actors = [...(await head.store.actors.list()).values()].map((v) => v.value);
      const groups = [...(await head.store.placementGroups.list()).values()].map(({ value: g }) => ({ ...g }));
      // Re-registration: each live node's agent reports the actors its workers serve now.
      const running = new Map<string, RunningActor[]>();
      await Promise.all(
        head.monitor.alive().map(async (n) => {
          if (!n.address) return;
          try {
            const r = (await withTimeout(rt.endpoint.request(n.address, AGENT_OPS.running, null), 5000)) as { actors?: RunningActor[] } | null;
            if (Array.isArray(r?.actors)) running.set(n.nodeId, r.actors);
          } catch (err) {
            logger.warn({ err, node: n.nodeId }, 'a node did not report its running actors; trusting the stored directory for it');
          }
        }),
      );
      const r = control.recover(actors, groups, running);
      logger.info(r, 'actor directory recovered from KV');
    }
    head.monitor.onJoin((n) => control.addNode(n));
    head.monitor.onLeave((id, reason) => control.removeNode(id, `left: ${reason}`));
    head.onNodeDead((id, reason) => control.removeNode(id, reason));
  } catch (err) {
    await head?.stop();
    await rt.shutdown();
    throw err;
  }
  const h = head;
  const c = cp;
  return {
    head: h,
    controlPlane: c,
    grpcAddress: rt.address,
    natsUrl: h.natsUrl,
    async stop(opts = {}) {
      await c.shutdown(opts.killActors ?? false);
      await h.stop();
      await rt.shutdown();
    },
  };
}
