import { actorClass } from '../actor-class.js';
import { actorContext } from '../actor-context.js';
import type { ActorHandle } from '../actor-handle.js';

/** Target of benchmark calls. */
export class BenchTarget {
  private held: Float32Array | undefined;
  noop(): number {
    return 1;
  }
  async asyncNoop(): Promise<number> {
    return 1;
  }
  withArg(a: Uint8Array): number {
    return a.byteLength;
  }
  /** Allocates a Float32Array of `n` elements and keeps it. */
  make(n: number): number {
    this.held = new Float32Array(n).fill(1);
    return this.held.byteLength;
  }
  /** Sends the held array to another actor; resolves with the element count the receiver saw. */
  async sendTo(other: ActorHandle<BenchTarget>, release = false): Promise<number> {
    return await (release ? other.receiveAndRelease(this.held!) : other.receive(this.held!));
  }
  receive(a: Float32Array): number {
    return a.length;
  }
  /** Like `receive`, then gives the array's memory back for the next transfer (what a weight-loading consumer does). */
  receiveAndRelease(a: Float32Array): number {
    const n = a.length;
    actorContext().runtime.release(a);
    return n;
  }
}
export const BenchTargetActor = actorClass<typeof BenchTarget>(import.meta.url, 'BenchTarget');

/** Drives calls from inside an actor (n:n benchmarks). */
export class BenchClient {
  /** Issues `rounds` rounds of `perTarget` calls to each target; resolves with the number of calls. */
  async run(targets: ActorHandle<BenchTarget>[], perTarget: number, rounds: number, argBytes: number): Promise<number> {
    const arg = argBytes ? new Uint8Array(argBytes) : undefined;
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      const refs = [];
      for (const t of targets) for (let i = 0; i < perTarget; i++) refs.push(arg ? t.withArg(arg) : t.noop());
      await actorContext().runtime.get(refs);
      n += refs.length;
    }
    return n;
  }
}
export const BenchClientActor = actorClass<typeof BenchClient>(import.meta.url, 'BenchClient');
