/**
 * The group id of the `n` samples of one prompt: `${step}:${promptIndex}`,
 * where `promptIndex` is the prompt's position in the step's batch. It is
 * unique per prompt per run; it is never derived from a data-source index
 * (two prompts with the same source index would share a group and corrupt
 * GRPO/RLOO baselines — a bug of the reference).
 */
export function makeGroupId(step: number, promptIndex: number): string {
  if (!Number.isInteger(step) || step < 0) throw new Error(`group id: step must be an integer >= 0, found ${step}`);
  if (!Number.isInteger(promptIndex) || promptIndex < 0) throw new Error(`group id: promptIndex must be an integer >= 0, found ${promptIndex}`);
  return `${step}:${promptIndex}`;
}

/** Splits a group id back into its step and prompt index. */
export function parseGroupId(groupId: string): { step: number; promptIndex: number } {
  const m = /^(\d+):(\d+)$/.exec(groupId);
  if (!m) throw new Error(`malformed group id "${groupId}"; expected "<step>:<promptIndex>" as made by makeGroupId`);
  return { step: Number(m[1]), promptIndex: Number(m[2]) };
}

/** The unique trajectory id of sample `sampleIndex` of a group. */
export function makeTrajectoryId(groupId: string, sampleIndex: number): string {
  return `${groupId}#${sampleIndex}`;
}
