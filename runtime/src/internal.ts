// @cohort/runtime/internal: the runtime's control-plane machinery, for a sibling package that
// implements its own control plane (the cluster's head builds on ActorLifecycle). Applications
// use `@cohort/runtime`.
export { ActorLifecycle, type ActorRecord } from './lifecycle/actor-lifecycle.js';
