import { sftLoop, type CausalLM, type Tokenizer } from '@cohort/engine';
import { Rng } from '@cohort/engine/rng';

/** One supervised example: a prompt (not trained on) and response segments with their loss masks. */
export interface SftExample {
  prompt: string;
  segments: readonly { text: string; lossMask: 0 | 1 }[];
}

export interface SupervisedOptions {
  steps: number;
  lr: number;
  batchSize: number;
  seed: number;
  /** Rows longer than this are cut from the right. */
  maxLength: number;
  warmupSteps?: number;
  /** Stop after the first step that ends this many seconds after the start (`steps` is then a cap). */
  budgetS?: number;
  /** PRNG stream of the batch draws (default "supervised"): a continuation draws other batches than the stage it continues. */
  stream?: string;
  /** Called after each step (progress bars, logs). */
  onStep?: (step: number, loss: number) => void;
}

/** Tokenizes an example: bos + prompt (mask 0) + segments (their masks). */
export function tokenizeExample(tokenizer: Tokenizer, ex: SftExample, maxLength: number): { ids: number[]; mask: number[] } {
  const ids: number[] = [];
  const mask: number[] = [];
  const bos = tokenizer.bosTokenId;
  if (bos !== undefined) {
    ids.push(bos);
    mask.push(0);
  }
  for (const id of tokenizer.encode(ex.prompt)) {
    ids.push(id);
    mask.push(0);
  }
  for (const s of ex.segments) {
    for (const id of tokenizer.encode(s.text)) {
      ids.push(id);
      mask.push(s.lossMask);
    }
  }
  const eos = tokenizer.eosTokenId;
  if (eos !== undefined && ex.segments.length && ex.segments[ex.segments.length - 1].lossMask === 1) {
    ids.push(eos);
    mask.push(1);
  }
  return { ids: ids.slice(0, maxLength), mask: mask.slice(0, maxLength) };
}

/**
 * Supervised fine-tuning on examples with masked prompts and environment
 * segments (warm start: template demonstrations and corpus LM; simulator
 * tuning: query → documents). Batches are drawn with a seeded PRNG.
 */
export async function supervisedTrain(model: CausalLM, tokenizer: Tokenizer, examples: readonly SftExample[], o: SupervisedOptions): Promise<number[]> {
  if (examples.length === 0) throw new Error('supervisedTrain: no examples');
  const rows = examples.map((e) => tokenizeExample(tokenizer, e, o.maxLength)).filter((r) => r.mask.some((m) => m === 1) && r.ids.length > 1);
  if (rows.length === 0) throw new Error('supervisedTrain: every example is empty after tokenization');
  // Draws with replacement.
  const rng = Rng.fromSeed(o.seed, o.stream ?? 'supervised');
  return sftLoop(model, {
    steps: o.steps,
    ...(o.budgetS !== undefined ? { budgetS: o.budgetS } : {}),
    trainer: {
      optimizer: { lr: o.lr, weightDecay: 0.01 },
      schedule: { lr: o.lr, warmupSteps: o.warmupSteps ?? Math.min(20, Math.floor(o.steps / 10)) },
      maxGradNorm: 1,
      microBatchSize: o.batchSize,
    },
    batch: () => Array.from({ length: o.batchSize }, () => rows[rng.int(rows.length)]),
    onStep: (step, m) => o.onStep?.(step - 1, m.loss),
  });
}
