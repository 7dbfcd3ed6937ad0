import { CollectivePeerError, CollectiveTimeoutError } from './errors.js';

/** One point-to-point message of a collective operation. */
export interface CollectiveMessage {
  /** Group instance id (a new one per `createCollectiveGroup`). */
  g: string;
  /** Operation number within the group (every member counts the same). */
  seq: number;
  /** Step within the operation (ring step, or 0). */
  step: number;
  /** Sender rank. */
  from: number;
  /** Receiver rank. */
  to: number;
  /** Operation name (`allreduce`, `broadcast`, ...). */
  op: string;
  /** Shape signature the receiver checks (names and sizes of an allreduce). */
  sig: string;
  data: unknown;
}

interface Waiter {
  resolve: (m: CollectiveMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  fromAddress: string;
  what: () => string;
}

/** The key of a message: group instance / operation / step / sender / receiver. */
export function messageKey(g: string, seq: number, step: number, from: number, to: number): string {
  return `${g}/${seq}/${step}/${from}/${to}`;
}

/**
 * Messages that arrived for collective operations of this process, keyed by
 * group/op/step/sender/receiver, and the operations waiting for them. A message may
 * arrive before or after its receiver asks for it.
 */
export class Mailbox {
  private readonly arrived = new Map<string, CollectiveMessage>();
  private readonly waiting = new Map<string, Waiter>();

  /** Stores an arrived message (or hands it to its waiter). */
  put(m: CollectiveMessage): void {
    const key = messageKey(m.g, m.seq, m.step, m.from, m.to);
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      clearTimeout(w.timer);
      w.resolve(m);
    } else this.arrived.set(key, m);
  }

  /** Resolves with the message under `key`; rejects after `timeoutMs` or when `fromAddress` breaks. */
  take(key: string, timeoutMs: number, fromAddress: string, what: () => string): Promise<CollectiveMessage> {
    const m = this.arrived.get(key);
    if (m) {
      this.arrived.delete(key);
      return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new CollectiveTimeoutError(`${what()}: nothing arrived within ${timeoutMs} ms (the peer is dead, hung or much slower; raise timeoutMs if it is only slow)`));
      }, timeoutMs);
      this.waiting.set(key, { resolve, reject, timer, fromAddress, what });
    });
  }

  /** Fails the operations waiting on the peer at `address` (its connection broke). */
  failFrom(address: string, cause: Error): void {
    for (const [key, w] of this.waiting) {
      if (w.fromAddress !== address) continue;
      this.waiting.delete(key);
      clearTimeout(w.timer);
      w.reject(new CollectivePeerError(`${w.what()}: its connection broke (${cause.message}); the peer likely died`));
    }
  }

  /**
   * Drops what is stored for a group instance (it was re-created or left) and
   * fails the operations still waiting in it: a driver that re-forms a group
   * after a member died frees the survivors stuck waiting for the dead one.
   */
  dropGroup(g: string): void {
    const prefix = `${g}/`;
    for (const k of this.arrived.keys()) if (k.startsWith(prefix)) this.arrived.delete(k);
    for (const [key, w] of this.waiting) {
      if (!key.startsWith(prefix)) continue;
      this.waiting.delete(key);
      clearTimeout(w.timer);
      w.reject(new CollectivePeerError(`${w.what()}: the group was formed again (a member was replaced) while this operation waited`));
    }
  }

  /** Messages stored and not yet taken. */
  get size(): number {
    return this.arrived.size;
  }
}
