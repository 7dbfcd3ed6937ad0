import { z } from 'zod';

/** Learning-rate schedule: linear warm-up to `lr`, then constant or cosine decay to `lr·minRatio`. */
export const lrScheduleSchema = z.object({
  lr: z.number().positive('lr must be > 0 (e.g. 1e-4)'),
  warmupSteps: z.number().int().nonnegative().default(0),
  kind: z.enum(['constant', 'cosine']).default('constant'),
  /** Steps of the whole run; required by 'cosine'. */
  totalSteps: z.number().int().positive().optional(),
  /** Floor of the cosine schedule as a fraction of lr. */
  minRatio: z.number().min(0).max(1).default(0),
}).refine((s) => s.kind !== 'cosine' || (s.totalSteps !== undefined && s.totalSteps > s.warmupSteps), {
  message: 'a cosine schedule needs totalSteps greater than warmupSteps',
  path: ['totalSteps'],
});
export type LrScheduleOptions = z.input<typeof lrScheduleSchema>;

/** Returns lr(step) for 1-based optimizer steps. */
export function lrSchedule(opts: LrScheduleOptions): (step: number) => number {
  const r = lrScheduleSchema.safeParse(opts);
  if (!r.success) throw new Error(`invalid lr schedule: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const s = r.data;
  return (step: number): number => {
    if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
    if (s.kind === 'constant') return s.lr;
    const total = s.totalSteps!;
    const p = Math.min(1, (step - s.warmupSteps) / (total - s.warmupSteps));
    const floor = s.lr * s.minRatio;
    return floor + (s.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}
