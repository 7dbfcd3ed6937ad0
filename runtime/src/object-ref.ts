import { TO_WIRE, type WireDescriptor, type Wireable } from './codec.js';

/**
 * A reference to a value owned by one process (the one that `put` it or made
 * the call). Pass it to actors (a top-level argument is resolved before the
 * call; a nested one can be fetched with `get`).
 */
export class ObjectRef<T = unknown> implements Wireable {
  /** Phantom field carrying the value type. */
  declare readonly __value?: T;

  constructor(
    /** @internal */ protected readonly refId: string,
    /** Data-plane address of the owning process. */
    readonly owner: string,
  ) {}

  /** Unique within its owner. */
  get id(): string {
    return this.refId;
  }

  [TO_WIRE](): WireDescriptor {
    return { t: 'r', id: this.id, owner: this.owner };
  }
}
