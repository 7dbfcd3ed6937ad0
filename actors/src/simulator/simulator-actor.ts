import { CausalLM, Tokenizer } from '@cohort/engine';
import { actorClass, actorContext, inActor } from '@cohort/runtime';
import {
  CorpusSearchEngine,
  LocalModelGenerator,
  OpenAIClient,
  SimulatorSearchEngine,
  WORLD_SIZES,
  WorldSimulator,
  makeCorpus,
  makeWorld,
  type SearchEngine,
  type SearchRequest,
  type SearchResult,
  type TextGenerator,
} from '@cohort/zerosearch';
import type { Logger } from 'pino';
import { z } from 'zod';
import { DynamicBatcher, batchSizeSummary } from './dynamic-batcher.js';
import { ManagedGenerator } from './managed-generator.js';
import { ManagedServer, fillPlaceholders, pickPort } from './managed-server.js';

/** The synthetic world of a template or corpus backend: same fields as the training config's `world` (size, seed, world counts, docsPerEntity). */
const syntheticWorldSpec = z.strictObject({
  size: z.enum(['tiny', 'small', 'default', 'large']).default('default'),
  seed: z.number().int().nonnegative(),
  world: z.record(z.string(), z.number()).optional(),
  docsPerEntity: z.number().int().min(1).max(10).default(3),
});

/** Where a SimulatorActor's documents come from. */
export const simulatorBackendSchema = z.discriminatedUnion('kind', [
  /** The world-backed template simulator (no model): a test backend. */
  z.strictObject({ kind: z.literal('template'), world: syntheticWorldSpec }),
  /** The real engine instead of a simulator: BM25 top-k over the synthetic world's corpus (the paper's real-search baseline). */
  z.strictObject({ kind: z.literal('corpus'), world: syntheticWorldSpec, topk: z.number().int().positive().default(5) }),
  /** External OpenAI-compatible servers. */
  z.strictObject({ kind: z.literal('openai'), addresses: z.array(z.url()).min(1), model: z.string().min(1) }),
  /** A local (tuned) model directory: `config.json` + `model.safetensors`, and a `tokenizer.json`. */
  z.strictObject({ kind: z.literal('local'), modelDir: z.string().min(1), tokenizer: z.string().min(1), device: z.array(z.enum(['cpu', 'webgpu', 'cuda'])).min(1).optional() }),
  /**
   * An OpenAI-compatible server the actor launches itself (sglang, vLLM, `cohort sim serve`) on
   * its own GPUs, health-checks, restarts when it dies and kills on shutdown.
   */
  z.strictObject({
    kind: z.literal('managed'),
    /** argv with placeholders {model} {tp} {dp} {port} {gpus}. */
    command: z.array(z.string().min(1)).min(1),
    /** Model name: fills {model} and is sent with each request. */
    model: z.string().min(1),
    tp: z.number().int().positive().default(1),
    dp: z.number().int().positive().default(1),
    /** Port to listen on when free on this machine (else a free one is picked); 0 picks a free one. */
    port: z.number().int().min(0).max(65535),
    healthPath: z.string().startsWith('/').default('/health'),
    startupTimeoutS: z.number().positive().default(600),
    /** Restarts after the server dies before requests fail for good. */
    maxRestarts: z.number().int().nonnegative().default(2),
    /** Working directory of the server (relative paths in the command). */
    cwd: z.string().min(1).optional(),
  }),
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
  /** A managed server's port, process group and restarts (absent for other backends). */
  server?: { url: string; port: number; pgid: number | undefined; restarts: number };
}

type ParsedSpec = z.output<typeof simulatorActorSpecSchema>;

/** GPU ids this process was granted (the actor's), for {gpus}. */
function ownGpuIds(): string {
  if (inActor()) return actorContext().gpuIds.join(',');
  return process.env.COHORT_GPU_IDS ?? process.env.CUDA_VISIBLE_DEVICES ?? '';
}

async function makeManaged(spec: ParsedSpec, b: Extract<ParsedSpec['backend'], { kind: 'managed' }>, logger: Logger | undefined): Promise<{ server: ManagedServer; generator: TextGenerator }> {
  const port = await pickPort(b.port);
  if (b.port && port !== b.port) logger?.warn({ wanted: b.port, port }, 'simulator server port in use; using a free one');
  const argv = fillPlaceholders(b.command, { model: b.model, tp: b.tp, dp: b.dp, port, gpus: ownGpuIds() });
  // The server inherits this process's environment, CUDA_VISIBLE_DEVICES (the actor's GPUs) included.
  const server = new ManagedServer({ argv, port, healthPath: b.healthPath, startupTimeoutS: b.startupTimeoutS, maxRestarts: b.maxRestarts, cwd: b.cwd, logger });
  await server.start();
  return { server, generator: new ManagedGenerator(server, b.model, logger) };
}

function makeGenerator(spec: ParsedSpec): TextGenerator {
  const b = spec.backend;
  switch (b.kind) {
    case 'template': {
      const { world, corpus } = syntheticWorld(b.world);
      return new WorldSimulator(world, { seed: spec.seed + spec.index }, corpus);
    }
    case 'openai':
      return new OpenAIClient({ addresses: b.addresses, model: b.model });
    case 'local':
      // Batched, KV-cached generation (engine `generate`); the DynamicBatcher below gathers concurrent searches into one call.
      return new LocalModelGenerator(CausalLM.load(b.modelDir, b.device ? { executionProviders: b.device } : {}), Tokenizer.fromFile(b.tokenizer), { name: `simulator-${spec.index}`, seed: spec.seed + spec.index });
    case 'managed':
    case 'corpus':
      throw new Error(`a ${b.kind} backend is not a text generator`);
  }
}

/** The synthetic world a template or corpus backend reads, with its corpus. */
function syntheticWorld(w: z.output<typeof syntheticWorldSpec>) {
  const world = makeWorld({ ...(WORLD_SIZES[w.size] ?? {}), ...(w.world ?? {}), seed: w.seed });
  return { world, corpus: makeCorpus(world, { docsPerEntity: w.docsPerEntity, seed: w.seed }) };
}

/**
 * One simulation search engine on its own GPU (bundle). Search requests from
 * every rollout are batched dynamically (max batch, max wait) into backend
 * calls. Each request carries its trajectory's question and answers, and the
 * useful/noisy mode the rollout drew from the curriculum's p.
 */
export class SimulatorActor {
  private readonly spec: ParsedSpec;
  private engine: (SearchEngine & { readonly metrics?: SimulatorSearchEngine['metrics'] }) | undefined;
  private readonly batcher: DynamicBatcher<SearchRequest, SearchResult>;
  private readonly started: Promise<void>;
  private server: ManagedServer | undefined;
  private busyMs = 0;
  private readonly logger: Logger | undefined;

  constructor(spec: SimulatorActorSpec) {
    const r = simulatorActorSpecSchema.safeParse(spec);
    if (!r.success) {
      throw new Error(`SimulatorActor spec: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    this.spec = r.data;
    this.logger = inActor() ? actorContext().logger : undefined;
    const b = this.spec.backend;
    const engineFor = (generator: TextGenerator) =>
      new SimulatorSearchEngine({
        generator,
        style: this.spec.style,
        seed: this.spec.seed + this.spec.index,
        maxTokens: this.spec.maxTokens,
        temperature: this.spec.temperature,
        logger: this.logger,
      });
    if (b.kind === 'managed') {
      this.started = makeManaged(this.spec, b, this.logger).then(({ server, generator }) => {
        this.server = server;
        this.engine = engineFor(generator);
      });
      // Surfaced by ready() and search(); never an unhandled rejection.
      this.started.catch(() => undefined);
    } else if (b.kind === 'corpus') {
      // Every search answered by the real engine: the useful/noisy mode is not used.
      this.engine = new CorpusSearchEngine(syntheticWorld(b.world).corpus, { topk: b.topk });
      this.started = Promise.resolve();
    } else {
      this.engine = engineFor(makeGenerator(this.spec));
      this.started = Promise.resolve();
    }
    this.batcher = new DynamicBatcher(async (batch) => {
      const t0 = performance.now();
      try {
        await this.started;
        // A server that is down for good fails the searches (the engine would answer "No information" for each).
        if (this.server?.failed) throw this.server.failed;
        const out = await this.engine!.search(batch);
        if (this.server?.failed) throw this.server.failed;
        return out;
      } finally {
        this.busyMs += performance.now() - t0;
      }
    }, this.spec.batching);
  }

  /** Resolves once the backend can serve (a managed server is up and healthy); rejects with why it cannot. */
  async ready(): Promise<{ url?: string }> {
    await this.started;
    return this.server ? { url: this.server.url } : {};
  }

  /** Answers search requests (batched with concurrent ones from other callers), in order. */
  async search(requests: SearchRequest[]): Promise<SearchResult[]> {
    for (const [i, q] of requests.entries()) {
      if (q.mode === undefined) throw new Error(`search request ${i}: mode is missing; the rollout draws "useful" or "noisy" from the curriculum's p and sends it`);
    }
    await this.started;
    return this.batcher.submitAll(requests);
  }

  /** Batching and mode counters since start (or the last reset). */
  stats(): SimulatorStats {
    const s = batchSizeSummary(this.batcher.stats.sizes);
    const m = this.engine?.metrics ?? { useful: 0, noisy: 0, fallbacks: 0 };
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
      ...(this.server ? { server: { url: this.server.url, port: this.server.port, pgid: this.server.pgid, restarts: this.server.restarts } } : {}),
    };
  }

  /** Clears the batch-size history (per-step metrics). */
  resetStats(): void {
    this.batcher.stats.sizes.length = 0;
    this.busyMs = 0;
  }

  /**
   * Stops taking requests and releases the backend: a managed server's whole
   * process group is stopped (it is also killed when this process dies).
   */
  async close(): Promise<void> {
    this.batcher.close();
    await this.started.catch(() => undefined);
    await this.engine?.close?.();
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
