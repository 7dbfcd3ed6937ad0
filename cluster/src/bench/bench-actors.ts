import { actorClass, type ActorHandle } from '@cohort/runtime';

/** Target of the cluster benchmark's calls and transfers. */
export class ClusterBenchTarget {
  private held: Float32Array | undefined;
  noop(): number {
    return 1;
  }
  async asyncNoop(): Promise<number> {
    return 1;
  }
  /** Allocates and keeps a Float32Array of `n` elements. */
  make(n: number): number {
    this.held = new Float32Array(n).fill(1);
    return this.held.byteLength;
  }
  /** Sends the held array to another actor (another node); resolves with the element count it saw. */
  async sendTo(other: ActorHandle<ClusterBenchTarget>): Promise<number> {
    return await other.receive(this.held!);
  }
  receive(a: Float32Array): number {
    return a.length;
  }
}

export const ClusterBenchTargetActor = actorClass<typeof ClusterBenchTarget>(import.meta.url, 'ClusterBenchTarget');
