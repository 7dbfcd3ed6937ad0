/** Resources by name (`CPU`, `GPU`, `memory` in bytes, custom ones). */
export type Resources = Record<string, number>;

/** One GPU of a node and the actors (or placement-group bundles) holding it. */
export interface GpuView {
  /** Physical GPU id on its node. */
  index: number;
  /** Names of the live actors granted this GPU; `pg:<name>#<bundle>` for a reserved, unused bundle. */
  holders: string[];
}

/** One node as the dashboard shows it. */
export interface NodeView {
  id: string;
  alive: boolean;
  state: 'alive' | 'dead' | 'left';
  nodeType?: string;
  hostname?: string;
  labels: Record<string, string>;
  resources: { total: Resources; used: Resources; free: Resources };
  gpus: GpuView[];
  reason?: string;
}

/** One actor as the dashboard shows it. */
export interface ActorView {
  id: string;
  name: string;
  className: string;
  state: 'PENDING' | 'ALIVE' | 'RESTARTING' | 'DEAD';
  node: string | null;
  restarts: number;
  gpuIds: number[];
  pid?: number;
  placementGroup?: string;
  reason?: string;
  /** The newest log line, when the source keeps logs. */
  lastLog?: string;
}

/** One placement group. */
export interface PlacementGroupView {
  id: string;
  name?: string;
  strategy: string;
  state: 'pending' | 'created' | 'removed';
  bundles: Resources[];
  bundleNodes?: string[];
  reason?: string;
}

/** A demand the scheduler cannot place yet. */
export interface PendingView {
  kind: 'actor' | 'placement-group';
  id: string;
  name?: string;
  reason: string;
}

/** Everything the cluster and actors views render, read at one moment. */
export interface ClusterSnapshot {
  cluster: string;
  head: { natsUrl: string; hostname: string; pid: number; epoch: number; startedAt: number } | null;
  nodes: NodeView[];
  actors: ActorView[];
  placementGroups: PlacementGroupView[];
  pending: PendingView[];
  /** Epoch ms when it was read. */
  time: number;
}

/** One log line of an actor. */
export interface LogLine {
  /** Epoch ms. */
  time: number;
  level: string;
  /** Actor name (or id when unnamed). */
  actor: string;
  node?: string;
  msg: string;
}

/**
 * What a dashboard reads: the cluster's state and the actors' logs. The
 * cluster adapter ({@link clusterDataSource}) implements it over the head's
 * KV tables; tests and other hosts may implement it over anything.
 */
export interface DashboardDataSource {
  /** The current state of nodes, GPUs, actors and placement groups. */
  snapshot(): Promise<ClusterSnapshot>;
  /** The last `lines` log lines of an actor (by name or id); empty when none are known. */
  actorLogs(actor: string, lines: number): Promise<LogLine[]>;
}
