import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionsError } from './errors.js';

/**
 * Names an actor class for `spawn`: the module that exports it (a file URL,
 * usually `import.meta.url` of that module) and the export name. The type
 * parameter carries the class so handles are typed.
 *
 * ```ts
 * export class Counter { add(n: number) { ... } }
 * export const CounterActor = actorClass<typeof Counter>(import.meta.url, 'Counter');
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ActorClass<C extends abstract new (...args: any[]) => any = any> {
  readonly module: string;
  readonly className: string;
  /** Phantom: the class type. */
  readonly __class?: C;
}

/** Defines an ActorClass; `moduleUrl` is a file URL or an absolute path. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function actorClass<C extends abstract new (...args: any[]) => any>(moduleUrl: string | URL, className: string): ActorClass<C> {
  let module = String(moduleUrl);
  if (isAbsolute(module)) module = pathToFileURL(module).href;
  if (!/^(file|data):/.test(module)) {
    throw new InvalidOptionsError(`actor module "${module}" must be a file URL (pass import.meta.url of the module that exports the class) or an absolute path`);
  }
  if (!className || typeof className !== 'string') throw new InvalidOptionsError('actorClass needs the exported class name as its second argument');
  return { module, className };
}
