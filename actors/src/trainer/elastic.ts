import type { ActorHandle, Runtime } from '@cohort/runtime';
import type { Logger } from 'pino';
import type { TrainConfig } from '../config/schema.js';
import type { RolloutActor } from '../rollout/rollout-actor.js';
import type { SimulatorActor } from '../simulator/simulator-actor.js';
import type { Job } from './job-actors.js';
import type { JobSpawner } from './spawn.js';

/** The elastic actors one node hosts. */
interface NodeShare {
  rollouts: ActorHandle<RolloutActor>[];
  simulators: ActorHandle<SimulatorActor>[];
}

/** What a reconcile changed. */
export interface PoolChange {
  joined: string[];
  left: string[];
}

/** How long a node's new share may take to start before it is given up for this step. */
const START_TIMEOUT_MS = 120_000;

/**
 * The elastic rollout and simulator pool (`layout.elastic`): at each step
 * boundary the driver looks at the live nodes; a node whose labels match an
 * entry and that hosts no share yet gets its rollouts and simulators (node
 * affinity, no restarts), brought to the current weights, and every rollout
 * learns the new simulator set; a node that left (or whose share died) has
 * its share taken out of the pool. The fixed layout (and the learners) never
 * change. A rollout of the pool lost mid-step has its prompts redone by
 * another rollout (collect), a simulator lost mid-step is skipped by the
 * rollouts' simulator pools.
 */
export class ElasticPool {
  private readonly shares = new Map<string, NodeShare>();
  private readonly fixed: { rollouts: number; simulators: number };
  private seq = { rollout: 0, simulator: 0 };

  constructor(
    private readonly rt: Runtime,
    private readonly spawner: JobSpawner,
    private readonly job: Job,
    private readonly config: TrainConfig,
    private readonly log: Logger,
  ) {
    this.fixed = { rollouts: job.actors.rollouts.length, simulators: job.actors.simulators.length };
    this.seq = { rollout: this.fixed.rollouts, simulator: this.fixed.simulators };
  }

  get enabled(): boolean {
    return this.config.layout.elastic.some((e) => e.rollouts > 0 || e.simulators > 0);
  }

  /** Brings the pool in line with the live nodes; new rollouts get `version` from learner 0. */
  async reconcile(version: number): Promise<PoolChange> {
    const change: PoolChange = { joined: [], left: [] };
    if (!this.enabled) return change;
    const [nodes, infos] = await Promise.all([this.rt.nodes(), this.rt.listActors()]);
    const state = new Map(infos.map((i) => [i.id, i.state]));
    const live = new Set(nodes.map((n) => n.id));
    let simsChanged = false;
    // Shares of nodes that left, or whose actors died: out of the pool.
    for (const [node, share] of this.shares) {
      const lost = !live.has(node) || [...share.rollouts, ...share.simulators].some((h) => state.get(h.$id) !== 'alive');
      if (!lost) continue;
      this.shares.delete(node);
      for (const h of [...share.rollouts, ...share.simulators]) void h.$kill().catch(() => undefined);
      simsChanged ||= share.simulators.length > 0;
      change.left.push(node);
      // A node that is still listed comes back on a later boundary (its actors died, not the node).
      if (live.has(node)) live.delete(node);
    }
    // Nodes that match an entry and host nothing yet: their share.
    for (const n of nodes) {
      if (!live.has(n.id) || this.shares.has(n.id)) continue;
      const entries = this.config.layout.elastic.filter((e) => Object.entries(e.labels).every(([k, v]) => n.labels[k] === v));
      if (entries.length === 0) continue;
      const share = await this.start(n.id, entries);
      if (!share) continue;
      this.shares.set(n.id, share);
      simsChanged ||= share.simulators.length > 0;
      change.joined.push(n.id);
      if (share.rollouts.length) await this.job.learners.one('weights for new rollouts', 0, (le) => le.publishWeights(version, share.rollouts));
    }
    this.apply();
    if (simsChanged) await Promise.all(this.job.actors.rollouts.map((ro) => ro.setSimulators(this.job.actors.simulators).then(undefined, () => undefined)));
    if (change.joined.length || change.left.length) this.log.info({ ...change, rollouts: this.job.actors.rollouts.length, simulators: this.job.actors.simulators.length }, 'elastic pool changed');
    return change;
  }

  /** Starts a node's share; undefined (and nothing left running) when it does not come up. */
  private async start(nodeId: string, entries: TrainConfig['layout']['elastic']): Promise<NodeShare | undefined> {
    const sims = this.job.actors.simulators;
    const spawned: ActorHandle<unknown>[] = [];
    try {
      const simulators: ActorHandle<SimulatorActor>[] = [];
      for (const e of entries) for (let i = 0; i < e.simulators; i++) simulators.push(await this.spawner.spawnElasticSimulator(nodeId, this.seq.simulator++, e.simulator));
      spawned.push(...simulators);
      const rollouts: ActorHandle<RolloutActor>[] = [];
      for (const e of entries) for (let i = 0; i < e.rollouts; i++) rollouts.push(await this.spawner.spawnElasticRollout(nodeId, this.seq.rollout++, e.rollout, [...sims, ...simulators]));
      spawned.push(...rollouts);
      await withTimeout(Promise.all(spawned.map((h) => h.$ready())), START_TIMEOUT_MS);
      return { rollouts, simulators };
    } catch (err) {
      this.log.warn({ node: nodeId, err: (err as Error).message }, 'the elastic share of a node did not start; trying again at a later step');
      for (const h of spawned) void h.$kill().catch(() => undefined);
      return undefined;
    }
  }

  /** The job's rollout and simulator lists: the fixed ones, then each node's share. */
  private apply(): void {
    const a = this.job.actors;
    const shares = [...this.shares.values()];
    a.rollouts.splice(this.fixed.rollouts, Infinity, ...shares.flatMap((s) => s.rollouts));
    a.simulators.splice(this.fixed.simulators, Infinity, ...shares.flatMap((s) => s.simulators));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not alive after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
