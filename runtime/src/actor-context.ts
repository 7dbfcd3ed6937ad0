import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { CohortError } from './errors.js';
import type { Runtime } from './runtime.js';

/** What code inside an actor knows about itself. */
export interface ActorContext {
  actorId: string;
  name: string | undefined;
  /** 0 for the first start, +1 per restart. */
  incarnation: number;
  nodeId: string;
  /** Physical GPU ids granted (also in CUDA_VISIBLE_DEVICES). */
  gpuIds: number[];
  /** pino logger bound to the actor's name; lines reach the driver. */
  logger: Logger;
  /** The runtime API (spawn, getActor, put, get, wait) from inside the actor. */
  runtime: Runtime;
}

let current: ActorContext | undefined;
/** Per-actor context when one worker process hosts several actors (`process: 'shared'`). */
const scoped = new AsyncLocalStorage<ActorContext>();

/** @internal Set by the worker before the constructor runs. */
export function setActorContext(ctx: ActorContext): void {
  current = ctx;
}

/** @internal Runs `fn` (a constructor or a call of a shared-process actor) with `ctx` as its actor context. */
export function runInActorContext<T>(ctx: ActorContext, fn: () => T): T {
  return scoped.run(ctx, fn);
}

/** The context of the actor this code runs in (callable from the constructor on). */
export function actorContext(): ActorContext {
  const c = scoped.getStore() ?? current;
  if (!c) throw new CohortError('actorContext() is only available inside an actor; in the driver use the Runtime returned by init()');
  return c;
}

/** True inside an actor's worker process. */
export function inActor(): boolean {
  return current !== undefined || scoped.getStore() !== undefined;
}
