import type { CausalLM } from '../model/causal-lm.js';
import { SftTrainer, type StepMetrics, type TrainerOptions } from './trainer.js';

/** One tokenized supervised example: token ids and a per-token loss mask (1 = learned). */
export interface SftRow {
  readonly ids: readonly number[];
  readonly mask: readonly number[];
}

/** Options of `sftLoop`. */
export interface SftLoopOptions {
  readonly steps: number;
  /** Seconds after which no further step starts (the loop ends early; the losses say how many ran). */
  readonly budgetS?: number;
  /** The rows of step `step` (1-based): the caller's sampling (shuffled epochs, draws with replacement, …). */
  readonly batch: (step: number) => readonly SftRow[];
  /** The SftTrainer's optimizer, schedule, clip and micro-batch. */
  readonly trainer: TrainerOptions;
  readonly onStep?: (step: number, metrics: StepMetrics) => void;
}

/**
 * The supervised fine-tuning loop (the policy's warm start and the simulator's
 * tuning): one SftTrainer step, masked token-mean loss, per batch the caller
 * draws. Returns the loss of each step.
 */
export async function sftLoop(model: CausalLM, o: SftLoopOptions): Promise<number[]> {
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new Error(`sftLoop: steps must be a non-negative integer, got ${o.steps}`);
  const trainer = new SftTrainer(model, o.trainer);
  const losses: number[] = [];
  const t0 = performance.now();
  for (let step = 1; step <= o.steps && !(o.budgetS !== undefined && (performance.now() - t0) / 1000 >= o.budgetS); step++) {
    const rows = o.batch(step);
    if (rows.length === 0) throw new Error(`sftLoop: the batch of step ${step} is empty`);
    const m = await trainer.step({ inputIds: rows.map((r) => r.ids), lossMask: rows.map((r) => r.mask) });
    losses.push(m.loss);
    o.onStep?.(step, m);
  }
  return losses;
}
