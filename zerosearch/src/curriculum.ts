import { z } from 'zod';
import type { Rng } from '@cohort/engine/rng';
import type { SearchMode } from './search-engine.js';

/**
 * The noise curriculum: how often a search gets the simulator's noisy prompt. This one schema is
 * the train config's `curriculum:` block (`{ mode: curriculum, ps, pe, base }`), taken as is by
 * the trainer and the simulator engine: no renaming between config and use. ORT-free entry:
 * `@cohort/zerosearch/curriculum` (the same names are exported from `@cohort/zerosearch`).
 */

const probability = () => z.number().min(0).max(1);

/**
 * Eq. 1 of ZeroSearch: the probability that a search at step `i` of `m` gets
 * the noisy prompt, `p_s + (b^(i/m) - 1) / (b - 1) * (p_e - p_s)`.
 */
export function curriculumNoiseP(step: number, totalSteps: number, ps: number, pe: number, base = 4): number {
  if (!Number.isFinite(step) || step < 0) throw new Error(`curriculum step must be >= 0, got ${step}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`curriculum total steps must be a positive integer, got ${totalSteps}`);
  if (!(ps >= 0 && ps <= 1) || !(pe >= 0 && pe <= 1)) throw new Error(`curriculum ps/pe must be probabilities in [0, 1], got ${ps} and ${pe}`);
  if (!(base > 0) || base === 1) throw new Error(`curriculum base must be > 0 and not 1, got ${base}`);
  return ps + ((Math.pow(base, step / totalSteps) - 1) / (base - 1)) * (pe - ps);
}

/** The curriculum: Eq. 1 over the run's steps, the random ablation, or a fixed prompt. */
export const CurriculumSchema = z.discriminatedUnion('mode', [
  /** Eq. 1: p_i = p_s + (b^(i/m) − 1)/(b − 1)·(p_e − p_s), m = the run's total steps. */
  z
    .strictObject({
      mode: z.literal('curriculum'),
      ps: probability().default(0),
      pe: probability().default(0.5),
      base: z.number().positive().default(4),
    })
    .refine((c) => c.base !== 1, { message: 'curriculum.base must not be 1 (the formula divides by b − 1)', path: ['base'] }),
  /** The non-curriculum ablation: a fixed noisy-document probability at every step. */
  z.strictObject({ mode: z.literal('random'), p: probability().default(0.5) }),
  /** Always the same simulator prompt (evaluation, debugging). */
  z.strictObject({ mode: z.literal('fixed'), prompt: z.enum(['useful', 'noisy']) }),
]);
export type CurriculumInput = z.input<typeof CurriculumSchema>;
export type CurriculumConfig = z.output<typeof CurriculumSchema>;

/** A validated curriculum over a run of `totalSteps`: `p(step)` and one `draw` per search call. */
export class Curriculum {
  readonly config: CurriculumConfig;

  /** `totalSteps` (`m` of Eq. 1) is needed by mode `curriculum` only. */
  constructor(config: CurriculumInput, readonly totalSteps?: number) {
    const r = CurriculumSchema.safeParse(config);
    if (!r.success) throw new Error(`bad curriculum: ${r.error.issues.map((i) => `${i.path.join('.') || 'mode'}: ${i.message}`).join('; ')}`);
    this.config = r.data;
    if (this.config.mode === 'curriculum' && !(Number.isInteger(totalSteps) && totalSteps! >= 1)) {
      throw new Error(`bad curriculum: mode "curriculum" needs the run's total steps (a positive integer), got ${totalSteps}`);
    }
  }

  /** The noisy-prompt probability at `step` (steps past the end keep the end value). */
  p(step: number): number {
    const c = this.config;
    if (c.mode === 'random') return c.p;
    if (c.mode === 'fixed') return c.prompt === 'noisy' ? 1 : 0;
    const m = this.totalSteps!;
    return curriculumNoiseP(Math.min(step, m), m, c.ps, c.pe, c.base);
  }

  /** One draw for one search call. */
  draw(step: number, rng: Rng): SearchMode {
    return rng.next() < this.p(step) ? 'noisy' : 'useful';
  }
}
