import type { CallRef } from './call-ref.js';
import type { ActorInfo } from './control-plane.js';
import type { ObjectRef } from './object-ref.js';

/** A top-level argument may be given as an ObjectRef of its type: it is resolved before the call. */
export type RemoteArgs<A extends unknown[]> = { [I in keyof A]: A[I] | ObjectRef<A[I]> };

/** How one actor method looks at the caller. */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? (...args: RemoteArgs<A>) => R extends AsyncIterable<infer Y> ? CallRef<void, Y> : CallRef<Awaited<R>>
  : never;

/** Names of the methods of T. */
export type MethodNames<T> = { [K in keyof T]: T[K] extends (...a: never[]) => unknown ? (K extends `$${string}` ? never : K) : never }[keyof T] & string;

/** Controls every handle has (prefixed `$` so they never clash with actor methods). */
export interface HandleControls<T> {
  /** Actor id. */
  readonly $id: string;
  /** Actor name, for named actors. */
  readonly $name: string | undefined;
  /** Resolves when the actor is alive; rejects with ActorDiedError when it died (e.g. its constructor threw). */
  $ready(): Promise<void>;
  /** Kills the actor (no restart unless `noRestart: false`). */
  $kill(opts?: { noRestart?: boolean }): Promise<void>;
  /** Fire-and-forget call: no result, errors are logged by the actor. */
  $tell<K extends MethodNames<T>>(method: K, ...args: T[K] extends (...a: infer A) => unknown ? RemoteArgs<A> : never): void;
  /** Current directory entry of the actor. */
  $info(): Promise<ActorInfo | undefined>;
}

/** A typed, serializable reference to an actor: pass it to other actors as an argument. */
export type ActorHandle<T> = { [K in MethodNames<T>]: RemoteMethod<T[K]> } & HandleControls<T>;
