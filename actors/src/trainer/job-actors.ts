import type { ActorHandle } from '@cohort/runtime';
import type { CriticActor } from '../learner/critic-actor.js';
import type { LearnerActor } from '../learner/learner-actor.js';
import type { ReferenceActor } from '../learner/reference-actor.js';
import type { RolloutActor } from '../rollout/rollout-actor.js';
import type { SimulatorActor } from '../simulator/simulator-actor.js';
import { shardRows } from '../trajectory/collate.js';
import type { ReplicaGroup } from './replicas.js';

/**
 * The live actors of a training job by role, rank order. The driver may swap
 * a handle when it replaces an actor (a lost learner); the arrays keep their length.
 */
export interface JobActors {
  simulators: ActorHandle<SimulatorActor>[];
  rollouts: ActorHandle<RolloutActor>[];
  learners: ActorHandle<LearnerActor>[];
  references: ActorHandle<ReferenceActor>[];
  /** PPO's value models, one per RL bundle (empty for critic-free algorithms). */
  critics: ActorHandle<CriticActor>[];
}

/**
 * The job as the RL loop drives it: the actors, and the two data-parallel
 * groups (learners, PPO's critics) whose members the driver replaces from a
 * surviving peer when they are lost.
 */
export interface Job {
  actors: JobActors;
  learners: ReplicaGroup<ActorHandle<LearnerActor>>;
  /** Null without a critic. */
  critics: ReplicaGroup<ActorHandle<CriticActor>> | null;
  /** Rollouts of the fixed layout (the first ones of `actors.rollouts`; the elastic pool's follow). */
  fixedRollouts: number;
}

/** `rows` split over `world` ranks (`shardRows`), each rank's part turned into per-row arrays by `run`, reassembled in row order. */
export async function sharded<T>(rows: readonly T[], world: number, run: (parts: T[][]) => Promise<Float32Array[][]>): Promise<Float32Array[]> {
  const shards = Array.from({ length: world }, (_, r) => shardRows(rows.length, r, world));
  const parts = await run(shards.map((s) => s.map((i) => rows[i])));
  const out: Float32Array[] = new Array(rows.length);
  shards.forEach((s, r) => s.forEach((i, k) => (out[i] = parts[r][k])));
  return out;
}

/** An actor's name within its run: what follows `<run>/` (run names have no "/"). */
export function localName(name: string | undefined, fallback = '?'): string {
  if (!name) return fallback;
  const i = name.indexOf('/');
  return i < 0 ? name : name.slice(i + 1);
}
