import type { NodeUsage, PendingEntry, PlacementGroupState, PlacementStrategy, ResourceMap } from './scheduler/index.js';
import type { ResolvedActorOptions } from './options.js';
import type { WireError } from './errors.js';
import type { Endpoint } from './transport/endpoint.js';

/**
 * The control plane: scheduler, actor directory and lifecycle. In local mode it
 * lives in the driver process (LocalControlPlane) and workers reach it over
 * their channel to the driver (ControlPlaneClient); the cluster puts the same
 * interface behind NATS. The data plane never depends on which one it is.
 */

export type ActorState = 'pending' | 'starting' | 'alive' | 'restarting' | 'dead';

/** What the directory knows about one actor. */
export interface ActorInfo {
  id: string;
  name?: string;
  className: string;
  module: string;
  state: ActorState;
  /** Data-plane address of its worker while alive. */
  address?: string;
  /** Bumped on each restart. */
  incarnation: number;
  restarts: number;
  maxRestarts: number;
  maxTaskRetries: number;
  maxConcurrency: number;
  /** `driver` or the id of the owning actor. */
  owner: string;
  detached: boolean;
  nodeId?: string;
  gpuIds: number[];
  pid?: number;
  /** How its last worker process ended. */
  lastExit?: string;
  /** Why it is dead. */
  deathCause?: string;
  /** Why it is pending (`waiting: needs GPU:1, free GPU:0`). */
  pendingReason?: string;
}

/** What `spawn` sends to the control plane. */
export interface ActorSpec {
  module: string;
  className: string;
  args: unknown[];
  options: ResolvedActorOptions;
  owner: string;
}

/** What a worker gets when it registers: everything needed to construct the actor. */
export interface WorkerBoot {
  module: string;
  className: string;
  args: unknown[];
  name?: string;
  maxConcurrency: number;
  gpuIds: number[];
  nodeId: string;
  /** Who owns the actor (a driver's or another actor's id): bound into the actor's log lines as `owner`. */
  owner?: string;
}

/** Lifecycle events, for owners and tools. */
export interface ActorEvent {
  type: 'alive' | 'restarting' | 'died';
  actorId: string;
  name?: string;
  owner: string;
  incarnation: number;
  cause?: string;
}

export interface PlacementGroupRequest {
  bundles: ResourceMap[];
  strategy: PlacementStrategy;
  name?: string;
  /** Node labels every bundle must run on. */
  labels?: Record<string, string>;
}

export interface ControlPlane {
  /** Registers and schedules an actor; throws InvalidOptionsError / InfeasibleError at once. */
  createActor(spec: ActorSpec): Promise<ActorInfo>;
  /** Resolves when the actor is alive with incarnation ≥ `minIncarnation`; rejects with ActorDiedError when it is dead. */
  waitAlive(id: string, minIncarnation: number): Promise<ActorInfo>;
  /** Looks an actor up by id or name (undefined when unknown). */
  getActor(key: { id?: string; name?: string }): Promise<ActorInfo | undefined>;
  /** Kills an actor; with `noRestart: false` it is restarted if it has restarts left. */
  killActor(id: string, noRestart: boolean): Promise<void>;
  listActors(): Promise<ActorInfo[]>;
  createPlacementGroup(req: PlacementGroupRequest): Promise<PlacementGroupState>;
  /** Resolves once every bundle is reserved; rejects if the group is removed first. */
  waitPlacementGroup(id: string): Promise<PlacementGroupState>;
  /** Frees the group's bundles and kills the actors placed in it. */
  removePlacementGroup(id: string): Promise<void>;
  /** Actors and placement groups waiting for resources, with the reason. */
  pending(): Promise<PendingEntry[]>;
  /** The live nodes the scheduler places on: labels, totals and usage (a cluster's change as agents join and leave). */
  listNodes(): Promise<NodeUsage[]>;
  /** A worker process is up and asks what to construct. */
  workerStarted(actorId: string, incarnation: number, address: string, pid: number): Promise<WorkerBoot>;
  /** The actor's constructor finished. */
  workerReady(actorId: string, incarnation: number): Promise<void>;
  /** The module, class or constructor failed: the actor is dead, not restarted. */
  workerFailed(actorId: string, incarnation: number, error: WireError): Promise<void>;
}

const METHODS = [
  'createActor',
  'waitAlive',
  'getActor',
  'killActor',
  'listActors',
  'createPlacementGroup',
  'waitPlacementGroup',
  'removePlacementGroup',
  'pending',
  'listNodes',
  'workerStarted',
  'workerReady',
  'workerFailed',
] as const;

/** Serves a control plane to the workers that dial this endpoint (requests `cp.<method>` with an argument array). */
export function serveControlPlane(endpoint: Endpoint, cp: ControlPlane): void {
  for (const m of METHODS) {
    endpoint.handle(`cp.${m}`, (body) => (cp[m] as (...a: unknown[]) => Promise<unknown>).apply(cp, body as unknown[]));
  }
}

/** A control plane reached over the data-plane channel to the process that serves it. */
export function controlPlaneClient(endpoint: Endpoint, address: string): ControlPlane {
  const client = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const m of METHODS) client[m] = (...args: unknown[]) => endpoint.request(address, `cp.${m}`, args);
  return client as unknown as ControlPlane;
}
