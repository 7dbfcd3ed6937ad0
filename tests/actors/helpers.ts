import { makeGroupId, makeTrajectoryId, type Trajectory } from '../../actors/src/core.js';

/** A response segment: tokens the policy generated, or tokens the environment inserted. */
export interface Segment {
  by: 'policy' | 'env';
  ids: number[];
}

export interface TrajectorySpec {
  step?: number;
  promptIndex: number;
  sampleIndex?: number;
  question?: string;
  prompt?: number[];
  segments: Segment[];
  reward?: number | null;
  version?: number;
  dataSource?: string;
}

/** Builds a trajectory the way a rollout would: env tokens get mask 0, version −1 and log-prob 0. */
export function makeTrajectory(spec: TrajectorySpec): Trajectory {
  const step = spec.step ?? 0;
  const groupId = makeGroupId(step, spec.promptIndex);
  const sampleIndex = spec.sampleIndex ?? 0;
  const ids: number[] = [];
  const mask: number[] = [];
  const lp: number[] = [];
  const ver: number[] = [];
  let k = 0;
  for (const seg of spec.segments) {
    for (const id of seg.ids) {
      ids.push(id);
      mask.push(seg.by === 'policy' ? 1 : 0);
      lp.push(seg.by === 'policy' ? -0.1 - 0.01 * (k++ % 7) : 0);
      ver.push(seg.by === 'policy' ? (spec.version ?? 0) : -1);
    }
  }
  const searches = spec.segments.filter((s) => s.by === 'env').length;
  return {
    id: makeTrajectoryId(groupId, sampleIndex),
    groupId,
    step,
    promptIndex: spec.promptIndex,
    sampleIndex,
    question: spec.question ?? `question ${spec.promptIndex}`,
    answers: ['paris'],
    dataSource: spec.dataSource ?? 'single-hop',
    promptIds: Int32Array.from(spec.prompt ?? [1, 2, 3 + spec.promptIndex]),
    responseIds: Int32Array.from(ids),
    lossMask: Uint8Array.from(mask),
    behaviourLogprobs: Float32Array.from(lp),
    policyVersions: Int32Array.from(ver),
    turns: spec.segments.filter((s) => s.by === 'policy').length,
    searches,
    noisySearches: 0,
    answered: true,
    prediction: 'paris',
    reward: spec.reward === undefined ? 1 : spec.reward,
  };
}

/** Deterministic pseudo-random floats for tests (no Math.random). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}
