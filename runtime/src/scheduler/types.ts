/**
 * The scheduler contract shared by the local runtime (one node, inside the
 * driver) and the cluster head (many nodes over NATS). The scheduler is pure
 * and synchronous: no I/O, no timers; callers feed it nodes and demands and
 * act on the assignments it returns.
 */

/** Resource name → amount. Well-known names: `CPU`, `GPU` (fractional below 1), `memory` (bytes); anything else is a custom resource. */
export type ResourceMap = Record<string, number>;

export interface NodeSpec {
  /** Unique node id. */
  id: string;
  /** Total resources of the node. `GPU` counts physical devices (ids 0..GPU-1). */
  resources: ResourceMap;
  /** Free-form labels (e.g. `{ role: 'simulator' }`) usable by node affinity. */
  labels?: Record<string, string>;
}

export type PlacementStrategy = 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';

/** Where an actor must or should go. */
export type PlacementRequest =
  | { kind: 'any' }
  | { kind: 'spread' }
  | { kind: 'node'; nodeId: string; soft?: boolean }
  /** Nodes whose labels include every given key=value (hard), or prefer them (soft). */
  | { kind: 'labels'; labels: Record<string, string>; soft?: boolean }
  | { kind: 'group'; groupId: string; bundleIndex?: number };

export interface Demand {
  /** The actor id this demand is for. */
  id: string;
  resources: ResourceMap;
  placement: PlacementRequest;
}

/** What the scheduler granted one actor. */
export interface Assignment {
  demandId: string;
  nodeId: string;
  /** Resources taken on that node (equal to the demand). */
  resources: ResourceMap;
  /**
   * Physical GPU ids on the node that this actor may use. Two 0.5-GPU actors
   * packed on GPU k both get `[k]`. A demand of 2 GPUs gets two whole devices.
   */
  gpuIds: number[];
  /** Set when the actor was placed in a placement group bundle. */
  groupId?: string;
  bundleIndex?: number;
}

export type ScheduleResult =
  | { status: 'scheduled'; assignment: Assignment }
  /** Could fit later (something is using the resources). `reason` reads like `waiting: needs GPU:1, free GPU:0`. */
  | { status: 'pending'; reason: string };

export interface PlacementGroupSpec {
  id: string;
  name?: string;
  bundles: ResourceMap[];
  strategy: PlacementStrategy;
  /** Every bundle goes on a node whose labels include each key=value (e.g. `{ role: 'simulator' }`); default any node. */
  labels?: Record<string, string>;
}

export interface PlacementGroupState {
  id: string;
  name?: string;
  strategy: PlacementStrategy;
  bundles: ResourceMap[];
  /** The node-label selector of the group's bundles (absent: any node). */
  labels?: Record<string, string>;
  /**
   * `created` once every bundle is reserved (atomically); `pending` until then, and again while
   * bundles lost with a node are placed again (the others keep theirs); `removed` after removal.
   */
  state: 'pending' | 'created' | 'removed';
  /** Node of each bundle while created. */
  bundleNodes?: string[];
  /** GPU ids reserved for each bundle once created. */
  bundleGpuIds?: number[][];
  reason?: string;
}

export interface PendingEntry {
  kind: 'actor' | 'placement-group';
  id: string;
  reason: string;
}

export interface NodeUsage {
  id: string;
  labels: Record<string, string>;
  total: ResourceMap;
  used: ResourceMap;
  /** Per physical GPU, the fraction in use (0..1). */
  gpuUsed: number[];
}

/** Thrown when a demand or placement group can never fit the cluster as it is configured. */
export class InfeasibleError extends Error {
  override readonly name = 'InfeasibleError';
}
