import { z } from 'zod';

/**
 * The project's one seeded pseudo-random generator: mulberry32 over a 32-bit state. Worlds,
 * datasets and curriculum draws (zerosearch), token sampling and test data (engine), and the
 * trainer's data order and noise draws (actors) all take an `Rng`, so each is reproducible from
 * its seed, and a trainer's stream is saved in a checkpoint and resumed exactly.
 * ORT-free entry: `@cohort/engine/rng` (the same names are exported from `@cohort/engine`).
 */

/** Serialisable generator state: the one 32-bit word. */
export const rngStateSchema = z.strictObject({
  algorithm: z.literal('mulberry32'),
  s: z.number().int().min(0).max(0xffffffff),
});
export type RngState = z.output<typeof rngStateSchema>;

/** FNV-1a 32-bit hash of a string; derives seeds from labels, stream names and prompts. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private s: number;

  /** A generator seeded from any finite number (its integer part). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
    this.s = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** A generator for the named stream of a seed (an integer >= 0): equal names, equal streams. */
  static fromSeed(seed: number, stream = ''): Rng {
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`Rng seed must be an integer >= 0, found ${seed}`);
    return new Rng(stream === '' ? seed : (seed ^ hashString(stream)) >>> 0);
  }

  /** A generator continuing from a saved state (validated). */
  static fromState(state: unknown): Rng {
    const r = rngStateSchema.safeParse(state);
    if (!r.success) throw new Error(`invalid PRNG state: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}; pass what Rng.state() returned`);
    const g = new Rng(0);
    g.s = r.data.s;
    return g;
  }

  /** The state to save; `Rng.fromState(g.state())` continues the same sequence. */
  state(): RngState {
    return { algorithm: 'mulberry32', s: this.s };
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** A standard normal draw (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty array');
    return items[this.int(items.length)];
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** An independent stream derived from the current state and a label (does not advance this one). */
  fork(label: string): Rng {
    return new Rng((this.s ^ hashString(label)) >>> 0);
  }
}
