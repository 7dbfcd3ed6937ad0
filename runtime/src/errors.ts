import { InfeasibleError, SchedulerInputError } from './scheduler/index.js';

/** Base class of every error the runtime raises on purpose. */
export class CohortError extends Error {
  override name = 'CohortError';
}

/** Options or configuration failed validation; the message names the field and the fix. */
export class InvalidOptionsError extends CohortError {
  override name = 'InvalidOptionsError';
}

/** A call reached an actor that died (crash, kill, owner exit, placement group removal). */
export class ActorDiedError extends CohortError {
  override name = 'ActorDiedError';
  constructor(
    readonly actorId: string,
    readonly actorName: string | undefined,
    readonly causeText: string,
  ) {
    super(`actor ${actorName ? `"${actorName}" (${actorId})` : actorId} died: ${causeText}`);
  }
}

/** No actor with that name exists. */
export class ActorNotFoundError extends CohortError {
  override name = 'ActorNotFoundError';
}

/** The actor class has no such method. */
export class UnknownMethodError extends CohortError {
  override name = 'UnknownMethodError';
}

/** The actor's module could not be imported or lacks the class. */
export class ModuleLoadError extends CohortError {
  override name = 'ModuleLoadError';
}

/** A value cannot be sent to another process. */
export class SerializationError extends CohortError {
  override name = 'SerializationError';
}

/** A message is bigger than the configured limit. */
export class MessageTooLargeError extends CohortError {
  override name = 'MessageTooLargeError';
}

/** An exception thrown by user code inside an actor, carried back to the caller. */
export class RemoteError extends CohortError {
  override name = 'RemoteError';
  constructor(
    message: string,
    /** The class name of the original error (e.g. `TypeError`). */
    readonly remoteName: string,
    /** The stack trace inside the actor. */
    readonly remoteStack: string | undefined,
  ) {
    super(message);
  }
}

/** A get/wait timed out. */
export class GetTimeoutError extends CohortError {
  override name = 'GetTimeoutError';
}

/** The runtime was shut down. */
export class RuntimeClosedError extends CohortError {
  override name = 'RuntimeClosedError';
}

const known: Record<string, new (message: string) => Error> = {
  CohortError,
  InvalidOptionsError,
  ActorNotFoundError,
  UnknownMethodError,
  ModuleLoadError,
  SerializationError,
  MessageTooLargeError,
  GetTimeoutError,
  RuntimeClosedError,
  InfeasibleError,
  SchedulerInputError,
};

/** Plain-data form of an error for the wire. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  actorId?: string;
  actorName?: string;
  causeText?: string;
  remoteName?: string;
}

/** Converts any thrown value to its wire form. */
export function errorToWire(err: unknown): WireError {
  if (err instanceof ActorDiedError) {
    return { name: err.name, message: err.message, actorId: err.actorId, actorName: err.actorName, causeText: err.causeText };
  }
  if (err instanceof RemoteError) return { name: err.name, message: err.message, stack: err.remoteStack, remoteName: err.remoteName };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

/**
 * Rebuilds an error from its wire form. Runtime errors keep their class;
 * anything else (user exceptions) becomes a RemoteError naming the actor.
 */
export function errorFromWire(w: WireError, where?: string): Error {
  if (w.name === 'ActorDiedError') return new ActorDiedError(w.actorId ?? '?', w.actorName, w.causeText ?? w.message);
  if (w.name === 'RemoteError') return new RemoteError(w.message, w.remoteName ?? 'Error', w.stack);
  const K = known[w.name];
  if (K) return new K(w.message);
  const prefix = where ? `${where}: ` : '';
  return new RemoteError(`${prefix}${w.name}: ${w.message}`, w.name, w.stack);
}
