import { actorClass } from '../actor-class.js';
import { collectiveGroup } from '../collective/membership.js';

/** Actor of `runAllreduceBench`: times allreduces of a buffer inside the group. */
export class AllreduceBenchMember {
  private data = new Float32Array(0);

  /** Runs `iters` allreduces of `n` floats; returns each one's wall and CPU milliseconds and the bytes this member sent. */
  async run(group: string, n: number, iters: number): Promise<{ ms: number[]; cpuMs: number[]; sentBytes: number }> {
    if (this.data.length !== n) this.data = Float32Array.from({ length: n }, (_, i) => (i % 97) / 97);
    const g = collectiveGroup(group);
    const ms: number[] = [];
    let sent = 0;
    const cpu: number[] = [];
    for (let i = 0; i < iters; i++) {
      const c0 = process.cpuUsage();
      await g.allreduce(this.data, 'mean', { inPlace: true });
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      ms.push(g.lastOp!.ms);
      sent += g.lastOp!.sentBytes;
    }
    return { ms, cpuMs: cpu, sentBytes: sent };
  }
}

export const AllreduceBenchMemberActor = actorClass<typeof AllreduceBenchMember>(import.meta.url, 'AllreduceBenchMember');
