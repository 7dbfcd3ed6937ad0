import { z } from 'zod';
import type { Rng } from '@cohort/engine/rng';
import type { SearchMode } from './search-engine.js';

/**
 * Eq. 1 of ZeroSearch: the probability that a search at step `i` of `m` gets
 * the noisy prompt, `p_s + (b^(i/m) - 1) / (b - 1) * (p_e - p_s)`.
 */
export function curriculumNoiseP(step: number, totalSteps: number, start: number, end: number, base = 4): number {
  if (!Number.isFinite(step) || step < 0) throw new Error(`curriculum step must be >= 0, got ${step}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`curriculum total steps must be a positive integer, got ${totalSteps}`);
  if (!(start >= 0 && start <= 1) || !(end >= 0 && end <= 1)) throw new Error(`curriculum start/end must be probabilities in [0, 1], got ${start} and ${end}`);
  if (!(base > 0) || base === 1) throw new Error(`curriculum base must be > 0 and not 1, got ${base}`);
  return start + ((Math.pow(base, step / totalSteps) - 1) / (base - 1)) * (end - start);
}

/** How searches pick the noisy prompt. */
export const NoiseScheduleSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('curriculum'),
      start: z.number().min(0).max(1).default(0),
      end: z.number().min(0).max(1).default(0.5),
      totalSteps: z.number().int().positive(),
      base: z
        .number()
        .positive()
        .refine((b) => b !== 1, { message: 'base must not be 1' })
        .default(4),
    })
    .strict(),
  /** The non-curriculum ablation: a fixed noise probability at every step. */
  z.object({ kind: z.literal('random'), p: z.number().min(0).max(1) }).strict(),
  /** Always the same prompt (evaluation, debugging). */
  z.object({ kind: z.literal('fixed'), mode: z.enum(['useful', 'noisy']) }).strict(),
]);
export type NoiseScheduleConfig = z.input<typeof NoiseScheduleSchema>;

/** A validated noise schedule: `p(step)` and one `draw` per search call. */
export class NoiseSchedule {
  readonly config: z.output<typeof NoiseScheduleSchema>;

  constructor(config: NoiseScheduleConfig) {
    const r = NoiseScheduleSchema.safeParse(config);
    if (!r.success) throw new Error(`bad noise schedule: ${r.error.issues.map((i) => `${i.path.join('.') || 'kind'}: ${i.message}`).join('; ')}`);
    this.config = r.data;
  }

  /** The noisy-prompt probability at `step` (steps past the end keep the end value). */
  p(step: number): number {
    const c = this.config;
    if (c.kind === 'random') return c.p;
    if (c.kind === 'fixed') return c.mode === 'noisy' ? 1 : 0;
    return curriculumNoiseP(Math.min(step, c.totalSteps), c.totalSteps, c.start, c.end, c.base);
  }

  /** One draw for one search call. */
  draw(step: number, rng: Rng): SearchMode {
    return rng.next() < this.p(step) ? 'noisy' : 'useful';
  }
}
