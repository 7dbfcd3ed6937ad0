/**
 * @cohort/runtime: Ray-style actors on one machine.
 *
 * Layers: driver API (`Runtime`: spawn/get/put/wait/handles), control plane
 * (`ControlPlane`: scheduler + actor directory + lifecycle), worker launcher
 * (`WorkerLauncher`: worker processes) and data plane (`Endpoint`: one gRPC
 * bidirectional stream per pair of processes + a bulk socket).
 */
export { init } from './init.js';
export { Runtime, PlacementGroup, type RuntimeParts } from './runtime.js';
export { actorClass, type ActorClass } from './actor-class.js';
export type { ActorHandle, HandleControls, RemoteMethod, RemoteArgs, MethodNames } from './actor-handle.js';
export { actorContext, inActor, type ActorContext } from './actor-context.js';
export { ObjectRef } from './object-ref.js';
export { CallRef, STREAM_WINDOW } from './call-ref.js';
export {
  CohortError,
  ActorDiedError,
  ActorNotFoundError,
  InvalidOptionsError,
  UnknownMethodError,
  ModuleLoadError,
  SerializationError,
  MessageTooLargeError,
  RemoteError,
  GetTimeoutError,
  RuntimeClosedError,
} from './errors.js';
export { type ActorOptions, type RuntimeConfig, type Resources, type WorkerPoolOptions, WorkerPoolSchema, resolveActorOptions, resolveRuntimeConfig, resolveWorkerPool } from './options.js';
export type { ActorInfo, ActorState, ActorEvent, ActorSpec, ControlPlane, WorkerBoot, PlacementGroupRequest } from './control-plane.js';
export { serveControlPlane, controlPlaneClient } from './control-plane.js';
export { LocalControlPlane, type LocalControlPlaneOptions } from './local-control-plane.js';
export { LocalWorkerLauncher, type LocalWorkerLauncherOptions, type RunningActor, gpuEnv, hugePageTunables, type WorkerLauncher, type WorkerLaunch, type WorkerProcess, type WorkerExit } from './worker-launcher.js';
export { Endpoint, DEFAULT_MAX_BATCH_BYTES, type ValueCodec, type CallHandler, type EndpointOptions, type EndpointExtras } from './transport/endpoint.js';
export { Channel, makeFrame } from './transport/channel.js';
export { BulkServer, DEFAULT_BULK_LIMITS, MAX_BULK_HELLO_BYTES, tokensEqual, type BulkLimits, type BulkRefusal } from './transport/bulk.js';
export { encodeValue, decodeValue, type Encoded } from './codec.js';
export { createLogger } from './logging.js';
export { workerEnvFor, workerConfigFromEnv } from './worker-config.js';
export * from './scheduler/index.js';
export { createCollectiveGroup, type CollectiveGroupSpec, type CollectiveGroupInfo } from './collective/create-group.js';
export { collectiveGroup, inCollectiveGroup } from './collective/membership.js';
export { CollectiveGroup, type CollectivePeer, type CollectiveOpOptions, type AllreduceOptions, type CollectiveOpStats } from './collective/group.js';
export { chunkBounds, ownedRange, type ReduceOp } from './collective/ring-allreduce.js';
export type { ReduceInput } from './collective/flatten.js';
export { CollectiveError, CollectiveTimeoutError, CollectivePeerError, CollectiveMismatchError } from './collective/errors.js';
export { pidAlive } from './pid.js';
