import { CausalLM, type ExecutionProvider } from '@cohort/engine';
import { actorClass } from '@cohort/runtime';

/**
 * The frozen reference policy for the KL term: scores token rows and never
 * changes. Colocated with a learner on its RL bundle's GPU.
 */
export class ReferenceActor {
  private readonly model: CausalLM;

  /** Rows per scoring pass (the config's batch.microBatch: bounds the [rows·seq, vocab] logits memory). */
  private readonly microBatch: number | undefined;

  constructor(spec: { modelDir: string; device?: ExecutionProvider[]; microBatch?: number }) {
    this.microBatch = spec.microBatch;
    this.model = CausalLM.load(spec.modelDir, spec.device ? { executionProviders: spec.device } : {});
  }

  /** Per-token log-probs of each row (entry t scores token t; entry 0 is 0). */
  async score(inputIds: number[][]): Promise<Float32Array[]> {
    return (await this.model.score({ inputIds }, this.microBatch ? { microBatchSize: this.microBatch } : {})).logprobs;
  }
}

/** Spawnable reference to ReferenceActor. */
export const ReferenceActorClass = actorClass<typeof ReferenceActor>(import.meta.url, 'ReferenceActor');
