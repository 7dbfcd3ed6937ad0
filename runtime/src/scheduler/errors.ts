export { InfeasibleError } from './types.js';

/**
 * Thrown for malformed input (a negative amount, a fractional GPU above 1, a
 * duplicate id, an unknown placement-group id in `removePlacementGroup`...).
 * The message names the offending field and how to fix it.
 */
export class SchedulerInputError extends Error {
  override readonly name = 'SchedulerInputError';
}
