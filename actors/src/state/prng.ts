import { z } from 'zod';

/** Serialisable PRNG state: four 32-bit words. */
export const prngStateSchema = z.strictObject({
  algorithm: z.literal('xoshiro128**'),
  s: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]).refine((s) => s.some((x) => x !== 0), 'the all-zero state is invalid for xoshiro128**'),
});
export type PrngState = z.output<typeof prngStateSchema>;

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** 32-bit FNV-1a of a string (for deriving named streams). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * A seeded xoshiro128** generator whose whole state can be saved in a
 * checkpoint and restored to continue the exact same sequence.
 */
export class Prng {
  private s: Uint32Array;

  private constructor(s: Uint32Array) {
    this.s = s;
  }

  /** A generator seeded from a 32-bit integer (and an optional stream name). */
  static fromSeed(seed: number, stream = ''): Prng {
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`Prng seed must be an integer >= 0, found ${seed}`);
    const next = splitmix32((seed ^ fnv1a32(stream)) >>> 0);
    const s = new Uint32Array([next(), next(), next(), next()]);
    if (s.every((x) => x === 0)) s[0] = 1;
    return new Prng(s);
  }

  /** A generator continuing from a saved state (validated). */
  static fromState(state: unknown): Prng {
    const r = prngStateSchema.safeParse(state);
    if (!r.success) throw new Error(`invalid PRNG state: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}; pass what Prng.state() returned`);
    return new Prng(Uint32Array.from(r.data.s, (x) => x >>> 0));
  }

  /** The state to save; `Prng.fromState(p.state())` continues the same sequence. */
  state(): PrngState {
    return { algorithm: 'xoshiro128**', s: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  /** An independent generator for a named sub-stream, derived from the current state (advances this one). */
  fork(stream: string): Prng {
    return Prng.fromSeed((this.nextUint32() ^ fnv1a32(stream)) >>> 0, stream);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new Error(`nextInt(n): n must be an integer in 1..2^32, found ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.nextFloat() < p;
  }

  /** Standard normal (Box–Muller). */
  nextNormal(): number {
    let u = 0;
    while (u === 0) u = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.nextFloat());
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }
}
