import { z } from 'zod';

/**
 * One finished multi-turn rollout, as a RolloutActor streams it to the
 * learners. Token arrays are typed arrays; per-token arrays cover the
 * response only (everything after the prompt, including environment-inserted
 * `<information>` blocks and corrective messages).
 *
 * Reward placement: the scalar reward sits on the **last response token**, as
 * in the reference. Cohort's rollout always ends a response on a token the
 * policy generated (the final `</answer>` or the last token of the final
 * generation), so that token also has loss mask 1; validation enforces it.
 */
export interface Trajectory {
  /** Unique id, `${groupId}#${sampleIndex}`. */
  id: string;
  /** Unique per prompt per run: `${step}:${promptIndex}` (see makeGroupId). */
  groupId: string;
  /** RL step whose prompt batch this came from. */
  step: number;
  /** Index of the prompt in the step's batch. */
  promptIndex: number;
  /** Which of the `n` samples of the prompt this is. */
  sampleIndex: number;
  /** The question and gold answers stay attached to the trajectory (the simulator gets the right pair). */
  question: string;
  answers: string[];
  /** Data source (e.g. `nq`, `hotpotqa`, `single-hop`), for per-source metrics only. */
  dataSource: string;
  promptIds: Int32Array;
  responseIds: Int32Array;
  /** 1 on policy-generated tokens, 0 on environment-inserted ones. */
  lossMask: Uint8Array;
  /** Log-probability of each response token under the behaviour policy (0 on environment tokens). */
  behaviourLogprobs: Float32Array;
  /** Policy version that generated each response token (−1 on environment tokens). */
  policyVersions: Int32Array;
  /** Generation turns taken. */
  turns: number;
  /** Search calls made. */
  searches: number;
  /** Of those, how many got the noisy simulator prompt. */
  noisySearches: number;
  /** Whether the trajectory produced an `<answer>`. */
  answered: boolean;
  /** The extracted answer (reward input); null when none. */
  prediction: string | null;
  /** The scalar outcome reward (F1 vs the gold answers); null until scored. */
  reward: number | null;
}

/** Schema of the scalar fields (typed arrays are checked by validateTrajectory). */
export const trajectoryScalarsSchema = z.strictObject({
  id: z.string().min(1),
  groupId: z.string().regex(/^\d+:\d+$/, 'a group id "<step>:<promptIndex>"'),
  step: z.number().int().nonnegative(),
  promptIndex: z.number().int().nonnegative(),
  sampleIndex: z.number().int().nonnegative(),
  question: z.string(),
  answers: z.array(z.string()),
  dataSource: z.string(),
  turns: z.number().int().nonnegative(),
  searches: z.number().int().nonnegative(),
  noisySearches: z.number().int().nonnegative(),
  answered: z.boolean(),
  prediction: z.string().nullable(),
  reward: z.number().min(0).max(1).nullable(),
});
export type TrajectoryScalars = z.output<typeof trajectoryScalarsSchema>;

/** Thrown for a malformed trajectory; the message names the field and the fix. */
export class TrajectoryError extends Error {
  override readonly name = 'TrajectoryError';
}

/** The scalar (non-array) fields of a trajectory. */
export function trajectoryScalars(t: Trajectory): TrajectoryScalars {
  const { promptIds: _p, responseIds: _r, lossMask: _l, behaviourLogprobs: _b, policyVersions: _v, ...rest } = t;
  return rest;
}

/**
 * Checks a trajectory at a boundary: scalar fields, array types and lengths,
 * mask values, versions on policy tokens, the group id matching step and
 * prompt index, and a response ending on a policy token.
 */
export function validateTrajectory(t: Trajectory): Trajectory {
  const r = trajectoryScalarsSchema.safeParse(trajectoryScalars(t));
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TrajectoryError(`trajectory ${t.id ?? '?'}: ${i.path.join('.')}: ${i.message}`);
  }
  const id = t.id;
  const expectType = (name: string, v: unknown, ctor: { name: string; prototype: object }) => {
    if (!(v instanceof (ctor as unknown as new () => object))) {
      throw new TrajectoryError(`trajectory ${id}: ${name} must be a ${ctor.name}, found ${v === null ? 'null' : (v as object)?.constructor?.name ?? typeof v}`);
    }
  };
  expectType('promptIds', t.promptIds, Int32Array);
  expectType('responseIds', t.responseIds, Int32Array);
  expectType('lossMask', t.lossMask, Uint8Array);
  expectType('behaviourLogprobs', t.behaviourLogprobs, Float32Array);
  expectType('policyVersions', t.policyVersions, Int32Array);
  const n = t.responseIds.length;
  if (t.promptIds.length === 0) throw new TrajectoryError(`trajectory ${id}: promptIds is empty`);
  if (n === 0) throw new TrajectoryError(`trajectory ${id}: responseIds is empty; a rollout always generates at least one token`);
  for (const [name, arr] of [['lossMask', t.lossMask], ['behaviourLogprobs', t.behaviourLogprobs], ['policyVersions', t.policyVersions]] as const) {
    if (arr.length !== n) throw new TrajectoryError(`trajectory ${id}: ${name} has ${arr.length} entries but responseIds has ${n}; give one per response token`);
  }
  for (let i = 0; i < n; i++) {
    const m = t.lossMask[i];
    if (m !== 0 && m !== 1) throw new TrajectoryError(`trajectory ${id}: lossMask[${i}] is ${m}; expected 0 (environment token) or 1 (policy token)`);
    if (m === 1 && t.policyVersions[i] < 0) throw new TrajectoryError(`trajectory ${id}: policyVersions[${i}] is ${t.policyVersions[i]} on a policy token; record the weight version that generated it`);
    if (m === 1 && !(t.behaviourLogprobs[i] <= 0)) throw new TrajectoryError(`trajectory ${id}: behaviourLogprobs[${i}] is ${t.behaviourLogprobs[i]}; a log-probability must be <= 0`);
  }
  if (t.lossMask[n - 1] !== 1) {
    throw new TrajectoryError(`trajectory ${id}: the last response token has loss mask 0; the reward must sit on a policy token — trim trailing environment tokens (trimTrailingEnvironmentTokens)`);
  }
  const expectedGroup = `${t.step}:${t.promptIndex}`;
  if (t.groupId !== expectedGroup) throw new TrajectoryError(`trajectory ${id}: groupId "${t.groupId}" does not match step ${t.step} and promptIndex ${t.promptIndex}; use makeGroupId(step, promptIndex)`);
  if (t.noisySearches > t.searches) throw new TrajectoryError(`trajectory ${id}: noisySearches ${t.noisySearches} exceeds searches ${t.searches}`);
  return t;
}

/** Drops environment tokens at the end of a response so it ends on a policy token (the reward token). */
export function trimTrailingEnvironmentTokens(t: Trajectory): Trajectory {
  let end = t.responseIds.length;
  while (end > 0 && t.lossMask[end - 1] === 0) end--;
  if (end === t.responseIds.length) return t;
  return {
    ...t,
    responseIds: t.responseIds.slice(0, end),
    lossMask: t.lossMask.slice(0, end),
    behaviourLogprobs: t.behaviourLogprobs.slice(0, end),
    policyVersions: t.policyVersions.slice(0, end),
  };
}

/**
 * Checks that group ids are unique per prompt: every trajectory of a group
 * carries the same question and prompt tokens, and no sample index repeats.
 * Returns the groups (id → trajectory indices).
 */
export function checkGroups(trajectories: readonly Trajectory[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  trajectories.forEach((t, i) => {
    const list = groups.get(t.groupId);
    if (!list) {
      groups.set(t.groupId, [i]);
      return;
    }
    const first = trajectories[list[0]];
    if (first.question !== t.question || !sameIds(first.promptIds, t.promptIds)) {
      throw new TrajectoryError(`group ${t.groupId} merges different prompts ("${first.question}" and "${t.question}"); group ids must be unique per prompt (makeGroupId)`);
    }
    if (list.some((j) => trajectories[j].sampleIndex === t.sampleIndex)) {
      throw new TrajectoryError(`group ${t.groupId} has sample ${t.sampleIndex} twice (${t.id}); a trajectory was counted twice`);
    }
    list.push(i);
  });
  return groups;
}

function sameIds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
