export * from './types.js';
export { SchedulerInputError } from './errors.js';
export { Scheduler, type SchedulerOptions, type NodeRemoval } from './scheduler.js';
