import { CausalLM, Tokenizer } from '@cohort/engine';
import { actorClass, actorContext, inActor } from '@cohort/runtime';
import {
  OpenAIClient,
  SimulatorSearchEngine,
  WORLD_SIZES,
  WorldSimulator,
  makeCorpus,
  makeWorld,
  type SearchRequest,
  type SearchResult,
  type TextGenerator,
} from '@cohort/zerosearch';
import { z } from 'zod';
import { DynamicBatcher, batchSizeSummary } from './dynamic-batcher.js';
import { EngineTextGenerator } from './engine-text-generator.js';

/** Where a SimulatorActor's documents come from. */
export const simulatorBackendSchema = z.discriminatedUnion('kind', [
  /** The world-backed template simulator (no model). */
  z.strictObject({
    kind: z.literal('template'),
    /** The synthetic world: same fields as the training config's `world` (size, seed, world counts, docsPerEntity). */
    world: z.strictObject({
      size: z.enum(['tiny', 'small', 'default', 'large']).default('default'),
      seed: z.number().int().nonnegative(),
      world: z.record(z.string(), z.number()).optional(),
      docsPerEntity: z.number().int().min(1).max(10).default(3),
    }),
  }),
  /** External OpenAI-compatible servers. */
  z.strictObject({ kind: z.literal('openai'), addresses: z.array(z.url()).min(1), model: z.string().min(1) }),
  /** A local (tuned) model directory: `config.json` + `model.safetensors`, and a `tokenizer.json`. */
  z.strictObject({ kind: z.literal('local'), modelDir: z.string().min(1), tokenizer: z.string().min(1) }),
]);

/** Constructor argument of a SimulatorActor. */
export const simulatorActorSpecSchema = z.strictObject({
  /** Index of this actor among the simulator actors (seeds and logs). */
  index: z.number().int().nonnegative(),
  backend: simulatorBackendSchema,
  style: z.enum(['sft', 'prompt']).default('sft'),
  maxTokens: z.number().int().positive().default(600),
  temperature: z.number().nonnegative().default(0.8),
  seed: z.number().int().nonnegative().default(0),
  batching: z.strictObject({ maxBatch: z.number().int().positive(), maxWaitMs: z.number().nonnegative() }),
});
export type SimulatorActorSpec = z.input<typeof simulatorActorSpecSchema>;

/** What a SimulatorActor reports about its batching. */
export interface SimulatorStats {
  index: number;
  requests: number;
  batches: number;
  meanBatch: number;
  maxBatch: number;
  useful: number;
  noisy: number;
  fallbacks: number;
  /** Seconds spent inside backend calls. */
  busyS: number;
}

function makeGenerator(spec: z.output<typeof simulatorActorSpecSchema>): TextGenerator {
  const b = spec.backend;
  switch (b.kind) {
    case 'template': {
      const world = makeWorld({ ...(WORLD_SIZES[b.world.size] ?? {}), ...(b.world.world ?? {}), seed: b.world.seed });
      return new WorldSimulator(world, { seed: spec.seed + spec.index }, makeCorpus(world, { docsPerEntity: b.world.docsPerEntity, seed: b.world.seed }));
    }
    case 'openai':
      return new OpenAIClient({ addresses: b.addresses, model: b.model });
    case 'local':
      return new EngineTextGenerator(CausalLM.load(b.modelDir), Tokenizer.fromFile(b.tokenizer), { name: `simulator-${spec.index}`, seed: spec.seed + spec.index });
  }
}

/**
 * One simulation search engine on its own GPU (bundle). Search requests from
 * every rollout are batched dynamically (max batch, max wait) into backend
 * calls. Each request carries its trajectory's question and answers, and the
 * useful/noisy mode the rollout drew from the curriculum's p.
 */
export class SimulatorActor {
  private readonly spec: z.output<typeof simulatorActorSpecSchema>;
  private readonly engine: SimulatorSearchEngine;
  private readonly batcher: DynamicBatcher<SearchRequest, SearchResult>;
  private busyMs = 0;

  constructor(spec: SimulatorActorSpec) {
    const r = simulatorActorSpecSchema.safeParse(spec);
    if (!r.success) {
      throw new Error(`SimulatorActor spec: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    this.spec = r.data;
    this.engine = new SimulatorSearchEngine({
      generator: makeGenerator(this.spec),
      style: this.spec.style,
      seed: this.spec.seed + this.spec.index,
      maxTokens: this.spec.maxTokens,
      temperature: this.spec.temperature,
      logger: inActor() ? actorContext().logger : undefined,
    });
    this.batcher = new DynamicBatcher(async (batch) => {
      const t0 = performance.now();
      try {
        return await this.engine.search(batch);
      } finally {
        this.busyMs += performance.now() - t0;
      }
    }, this.spec.batching);
  }

  /** Answers search requests (batched with concurrent ones from other callers), in order. */
  async search(requests: SearchRequest[]): Promise<SearchResult[]> {
    for (const [i, q] of requests.entries()) {
      if (q.mode === undefined) throw new Error(`search request ${i}: mode is missing; the rollout draws "useful" or "noisy" from the curriculum's p and sends it`);
    }
    return this.batcher.submitAll(requests);
  }

  /** Batching and mode counters since start (or the last reset). */
  stats(): SimulatorStats {
    const s = batchSizeSummary(this.batcher.stats.sizes);
    const m = this.engine.metrics;
    return {
      index: this.spec.index,
      requests: this.batcher.stats.requests,
      batches: s.batches,
      meanBatch: s.mean,
      maxBatch: s.max,
      useful: m.useful,
      noisy: m.noisy,
      fallbacks: m.fallbacks,
      busyS: this.busyMs / 1000,
    };
  }

  /** Clears the batch-size history (per-step metrics). */
  resetStats(): void {
    this.batcher.stats.sizes.length = 0;
    this.busyMs = 0;
  }
}

/**
 * Spawn SimulatorActors with at least this `maxConcurrency`: `search` is async
 * and many callers' requests must be in the actor at once for dynamic
 * batching to merge them (with the default of 1 they would run one by one).
 */
export const SIMULATOR_MAX_CONCURRENCY = 1024;

/** Spawnable reference to SimulatorActor. */
export const SimulatorActorClass = actorClass<typeof SimulatorActor>(import.meta.url, 'SimulatorActor');
