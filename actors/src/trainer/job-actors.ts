import type { ActorHandle } from '@cohort/runtime';
import type { CriticActor } from '../learner/critic-actor.js';
import type { LearnerActor } from '../learner/learner-actor.js';
import type { ReferenceActor } from '../learner/reference-actor.js';
import type { RolloutActor } from '../rollout/rollout-actor.js';
import type { SimulatorActor } from '../simulator/simulator-actor.js';

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

/** Rows `0..n-1` split over `parts` handles, each handle's part scored by `run`, reassembled in row order. */
export async function shardedCall<H, T>(handles: readonly H[], rows: readonly T[], shard: (n: number, r: number, w: number) => number[], run: (h: H, part: T[]) => PromiseLike<Float32Array[]>): Promise<Float32Array[]> {
  const shards = handles.map((_, r) => shard(rows.length, r, handles.length));
  const parts = await Promise.all(handles.map((h, r) => (shards[r].length ? run(h, shards[r].map((i) => rows[i])) : Promise.resolve([] as Float32Array[]))));
  const out: Float32Array[] = new Array(rows.length);
  shards.forEach((s, r) => s.forEach((i, k) => (out[i] = parts[r][k])));
  return out;
}
