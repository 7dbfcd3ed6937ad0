import { z } from 'zod';
import { CurriculumSchema } from '@cohort/zerosearch/curriculum';
import type { AlgorithmParams } from '../algorithms/params.js';

/**
 * The ZeroSearch training configuration (`configs/zerosearch/*.yaml`).
 *
 * Every object is strict: an unknown key is an error (with a "did you mean"
 * hint from the loader). Defaults follow the ZeroSearch reference scripts
 * (see `shared/reference/zerosearch.md`); `local.yaml` overrides them with
 * tiny values for a 2-core machine.
 *
 * Naming: Cohort keys are camelCase. The policy model's architecture fields
 * keep their Hugging Face `config.json` names (snake_case) so a model config
 * can be pasted as is.
 */

const positiveInt = () => z.number().int().positive();
const nonNegativeInt = () => z.number().int().nonnegative();
const probability = () => z.number().min(0).max(1);

/** A run's identity: its name picks `runs/<name>/`. */
export const runSchema = z.strictObject({
  /** Directory-safe run name; outputs go to `<outDir>/<name>/`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a run name of letters, digits, ".", "_" or "-"'),
  /** Root seed: every other seed (data order, sampling, curriculum draws) derives from it. */
  seed: nonNegativeInt().default(0),
  /** Parent of the run directory. */
  outDir: z.string().min(1).default('runs'),
  /** Total RL steps (`m` in the curriculum formula). */
  totalSteps: positiveInt().default(203),
});

/**
 * A synthetic world made by `@cohort/zerosearch` (`makeDataset`): entities,
 * facts, a corpus, QA splits, simulator tuning pairs and warm-start
 * demonstrations. Field names follow zerosearch's DatasetConfig.
 */
export const syntheticWorldSchema = z.strictObject({
  kind: z.literal('synthetic'),
  /** Size preset (question counts and world size). */
  size: z.enum(['tiny', 'small', 'default', 'large']).default('default'),
  /** World seed; defaults to the run seed when absent. */
  seed: nonNegativeInt().optional(),
  /** Overrides of the world's entity counts (countries, cities, persons, companies, heldoutFraction). */
  world: z
    .strictObject({
      countries: positiveInt().optional(),
      cities: positiveInt().optional(),
      persons: positiveInt().optional(),
      companies: positiveInt().optional(),
      heldoutFraction: z.number().min(0.05).max(0.9).optional(),
    })
    .optional(),
  /**
   * Questions per protocol split (override the preset; each capped at the
   * questions its split's entities have): train (warm start, simulator
   * tuning, RL), dev (choosing settings, the EM curve during RL), test
   * (reported once, at the end).
   */
  trainSize: positiveInt().optional(),
  devSize: positiveInt().optional(),
  testSize: positiveInt().optional(),
  /** Simulator tuning pairs (override the preset). */
  simPairs: nonNegativeInt().optional(),
  /** Extra simulator tuning pairs about demo-only worlds with fresh names (see makeDataset). */
  simExtraPairs: nonNegativeInt().optional(),
  docsPerEntity: z.number().int().min(1).max(10).default(3),
});

/** Search-R1 / ZeroSearch parquet files. */
export const parquetWorldSchema = z.strictObject({
  kind: z.literal('parquet'),
  /** Training parquet files (NQ + HotpotQA in the reference). */
  train: z.array(z.string().min(1)).min(1),
  /** Evaluation split name → parquet file (the test questions, reported at the end). */
  eval: z.record(z.string().min(1), z.string().min(1)),
  /** Dev parquet files: the EM curve during RL and every choice of settings (no curve without them). */
  dev: z.array(z.string().min(1)).default([]),
  /** Corpus used by the real search engine at evaluation time (one document per line or a parquet file). */
  corpus: z.string().min(1),
});

export const worldSchema = z.discriminatedUnion('kind', [syntheticWorldSchema, parquetWorldSchema]);

/** Qwen2-style architecture fields, as in a Hugging Face `config.json`. */
export const modelArchitectureSchema = z.strictObject({
  architecture: z.literal('qwen2').default('qwen2'),
  vocab_size: positiveInt().optional(),
  hidden_size: positiveInt(),
  intermediate_size: positiveInt(),
  num_hidden_layers: positiveInt(),
  num_attention_heads: positiveInt(),
  num_key_value_heads: positiveInt(),
  max_position_embeddings: positiveInt().default(4096),
  rope_theta: z.number().positive().default(1_000_000),
  rms_norm_eps: z.number().positive().default(1e-6),
  tie_word_embeddings: z.boolean().default(true),
});

/** Either a model directory (config.json + safetensors) or an architecture to initialise. */
export const modelSourceSchema = z.union([
  z.strictObject({
    /** Directory holding `config.json` and `*.safetensors` (a Hugging Face checkpoint). */
    path: z.string().min(1),
    /**
     * A copy of the model's `config.json` (relative to the working directory), read by
     * `--dry-run`'s memory plan when `path` is not downloaded yet; a run checks it says the
     * same as `<path>/config.json`.
     */
    configFile: z.string().min(1).optional(),
  }),
  z.strictObject({ config: modelArchitectureSchema }),
]);

export const tokenizerSchema = z.discriminatedUnion('kind', [
  /** A word-level tokenizer built from the synthetic world's corpus. */
  z.strictObject({ kind: z.literal('world') }),
  /** A Hugging Face `tokenizer.json`. */
  z.strictObject({ kind: z.literal('huggingface'), path: z.string().min(1) }),
]);

export const policySchema = z.strictObject({
  model: modelSourceSchema,
  tokenizer: tokenizerSchema.prefault({ kind: 'world' }),
  /**
   * How `--from-scratch` (and `cohort warm-start`) remake a shipped base policy
   * given as `model.path`: this architecture from random init (run.seed) with
   * this tokenizer, warm-started with the config's warmStart settings.
   */
  fromScratch: z.strictObject({ config: modelArchitectureSchema, tokenizer: tokenizerSchema.prefault({ kind: 'world' }) }).optional(),
});

/** Dynamic batching of search requests inside one SimulatorActor. */
export const batchingSchema = z.strictObject({
  /** Largest batch sent to the backend at once. */
  maxBatch: positiveInt().default(32),
  /** Longest a request waits for others before a partial batch is sent. */
  maxWaitMs: z.number().nonnegative().default(20),
});

const placeholderPattern = /\{([^}]*)\}/g;
const knownPlaceholders = new Set(['model', 'tp', 'dp', 'port', 'gpus']);

/** A server the SimulatorActor launches and health-checks itself. */
export const managedServerSchema = z.strictObject({
  /** argv of the server, with placeholders {model} {tp} {dp} {port} {gpus}. */
  command: z
    .array(z.string().min(1))
    .min(1)
    .superRefine((argv, ctx) => {
      for (const arg of argv) {
        for (const m of arg.matchAll(placeholderPattern)) {
          if (!knownPlaceholders.has(m[1])) {
            ctx.addIssue({
              code: 'custom',
              message: `unknown placeholder {${m[1]}} in "${arg}"; use one of {model} {tp} {dp} {port} {gpus}`,
              input: arg,
            });
          }
        }
      }
    }),
  tp: positiveInt().default(1),
  dp: positiveInt().default(1),
  /** First port; simulator bundle k uses basePort + k. */
  basePort: z.number().int().min(1024).max(65535).default(6001),
  /** Path polled until it answers 200. */
  healthPath: z.string().startsWith('/').default('/health'),
  startupTimeoutS: z.number().positive().default(600),
});

const simulatorCommon = {
  /** Sampling for simulated documents (reference: 600 tokens at temperature 0.8). */
  maxTokens: positiveInt().default(600),
  temperature: z.number().nonnegative().default(0.8),
  /** Prompt shape: `sft` for fine-tuned simulators, `prompt` for few-shot prompting of a base model. */
  prompt: z.enum(['sft', 'prompt']).default('sft'),
  batching: batchingSchema.prefault({}),
};

export const simulatorSchema = z.discriminatedUnion('backend', [
  /** An ONNX Runtime model inside the SimulatorActor, tuned on the world first. */
  z.strictObject({
    backend: z.literal('local'),
    ...simulatorCommon,
    model: modelSourceSchema,
    /** Light SFT of the simulator on query→documents pairs (reference: lr 1e-6, batch 2, 1000 steps). */
    tune: z
      .strictObject({
        steps: nonNegativeInt().default(1000),
        lr: z.number().positive().default(1e-6),
        batchSize: positiveInt().default(2),
        /** Swapped copies of each tuning pair per epoch (answer and entity; `cohort sim tune --augment`); 0: none. */
        augment: nonNegativeInt().max(20).default(0),
        /** With augment: copies renamed with fresh names (`cohort sim tune --fresh-names`). */
        freshNames: z.boolean().default(false),
      })
      .prefault({}),
  }),
  /** An OpenAI-compatible chat-completions server: external addresses or a managed one. */
  z
    .strictObject({
      backend: z.literal('openai'),
      ...simulatorCommon,
      /** Model name sent with each request (vLLM needs it). */
      model: z.string().min(1),
      /** External servers, e.g. `http://10.0.0.5:6001/v1`; one is picked per call. */
      addresses: z.array(z.url()).min(1).optional(),
      managed: managedServerSchema.optional(),
    })
    .superRefine((s, ctx) => {
      if (!s.addresses === !s.managed) {
        ctx.addIssue({
          code: 'custom',
          message: 'give exactly one of simulator.addresses (external servers) or simulator.managed (a server the actor launches)',
          input: s,
        });
      }
    }),
  /** Documents written from templates over the world's facts; no model (for tests). */
  /** The world-backed template simulator (rule-based, answer-bearing by construction): a test backend. */
  z.strictObject({ backend: z.literal('template'), ...simulatorCommon }),
  /**
   * No simulator: RL against the real engine, BM25 top-`rollout.topk` over the synthetic
   * world's corpus (the paper's real-search baseline; the curriculum's noise does not apply).
   */
  z.strictObject({ backend: z.literal('corpus'), ...simulatorCommon }),
]);

const resourceMap = z.record(z.string().min(1), z.number().nonnegative());

export const bundleGroupSchema = z.strictObject({
  /** Number of bundles (one actor group per bundle). */
  bundles: positiveInt(),
  gpusPerBundle: z.number().positive().default(1),
  cpusPerBundle: z.number().positive().default(1),
  /** Extra custom resources per bundle (a node type's `custom` resources, e.g. {simulator: 1}). */
  resources: resourceMap.default({}),
  /** Node labels every bundle of the group must run on (e.g. {role: simulator}, a node type's `labels`); default any node. */
  labels: z.record(z.string().min(1), z.string()).optional(),
  /** Placement strategy of this group's bundles; default `layout.strategy`. */
  strategy: z.enum(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD']).optional(),
});

/** Fractions of an RL bundle's GPU taken by each colocated actor. */
export const rlSharesSchema = z.strictObject({
  learner: z.number().positive().max(1).default(0.5),
  rollout: z.number().positive().max(1).default(0.3),
  reference: z.number().nonnegative().max(1).default(0.2),
  /** Needed by algorithms with a critic (PPO). */
  critic: z.number().nonnegative().max(1).default(0),
});

/** What one elastic actor takes of its node. */
const elasticDemandSchema = z.strictObject({ cpus: z.number().nonnegative().default(0.5), gpus: z.number().nonnegative().default(0) });

/**
 * An elastic rollout and simulator pool (per node type): every node whose
 * labels include `labels` hosts `rollouts` rollout and `simulators` simulator
 * actors beside the fixed layout. A node that joins mid-run gets its share at
 * the next step boundary; one that leaves takes it away without failing the
 * run. Learners stay a fixed group.
 */
export const elasticPoolSchema = z.strictObject({
  labels: z.record(z.string().min(1), z.string()).refine((l) => Object.keys(l).length > 0, 'name at least one label (e.g. {role: rollout}) of the nodes that host the pool'),
  rollouts: z.number().int().nonnegative().default(0),
  simulators: z.number().int().nonnegative().default(0),
  rollout: elasticDemandSchema.prefault({}),
  simulator: elasticDemandSchema.prefault({ gpus: 1 }),
});

export const layoutSchema = z
  .strictObject({
    /** `physical` GPUs are real devices; `logical` GPUs are scheduling tokens on a CPU machine. */
    gpus: z.strictObject({
      kind: z.enum(['physical', 'logical']),
      count: positiveInt(),
      /**
       * Physical GPU ids of this machine, for when nvidia-smi cannot list them (a physical
       * layout is checked against this list instead). Default: the GPUs nvidia-smi lists.
       */
      devices: z
        .array(nonNegativeInt())
        .min(1)
        .refine((l) => new Set(l).size === l.length, { message: 'a GPU id is listed twice' })
        .optional(),
      /** Memory of each GPU in GiB for the memory plan (default: nvidia-smi's figure on a physical layout; unknown otherwise). */
      memoryGiB: z.number().positive().optional(),
    }),
    strategy: z.enum(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD']).default('PACK'),
    simulator: bundleGroupSchema,
    rl: bundleGroupSchema.extend({ shares: rlSharesSchema.prefault({}) }),
    /** Elastic rollout/simulator pools per node type (see elasticPoolSchema); default none. */
    elastic: z.array(elasticPoolSchema).default([]),
  })
  .superRefine((l, ctx) => {
    const s = l.rl.shares;
    const used = s.learner + s.rollout + s.reference + s.critic;
    if (used > l.rl.gpusPerBundle + 1e-9) {
      ctx.addIssue({
        code: 'custom',
        path: ['rl', 'shares'],
        message: `learner + rollout + reference + critic shares sum to ${+used.toFixed(6)}, more than the ${l.rl.gpusPerBundle} GPU(s) of an RL bundle; lower the shares`,
        input: s,
      });
    }
    const needed = l.simulator.bundles * l.simulator.gpusPerBundle + l.rl.bundles * l.rl.gpusPerBundle;
    if (needed > l.gpus.count + 1e-9) {
      ctx.addIssue({
        code: 'custom',
        path: ['gpus', 'count'],
        message: `the bundles need ${needed} GPU(s) but layout.gpus.count is ${l.gpus.count}; raise the count or use fewer/smaller bundles`,
        input: l.gpus.count,
      });
    }
  });

export const algorithmSchema = z.strictObject({
  /** A registered algorithm: reinforce, reinforce++, grpo, ppo, or one added by a plug-in. */
  name: z.string().min(1).default('reinforce'),
  /** Module paths (relative to the config file) imported before the name is looked up; each registers algorithms. */
  plugins: z.array(z.string().min(1)).default([]),
  /**
   * The algorithm's parameters, validated by the algorithm's own schema once it is known
   * (after its plug-in loads): each algorithm declares the keys it uses, any other key is an
   * error. `cohort algorithms` lists them.
   */
  params: z.record(z.string(), z.unknown()).default({}),
  /** Free-form options for plug-in algorithms (validated by the plug-in's own schema). */
  options: z.record(z.string(), z.unknown()).default({}),
});

export const optimizerSchema = z.strictObject({
  kind: z.literal('adamw').default('adamw'),
  lr: z.number().positive().default(1e-6),
  weightDecay: z.number().nonnegative().default(0.01),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  eps: z.number().positive().default(1e-8),
  /** Linear warm-up over this share of total steps (0 disables it). */
  warmupRatio: z.number().min(0).max(1).default(0.285),
  /** Global gradient-norm clip. */
  gradClip: z.number().positive().default(1),
  /**
   * ZeRO stage of the learner group: 0 keeps the full AdamW state on every learner; 1 shards it
   * (each of the layout.rl.bundles learners keeps 1/N: gradients reduce-scattered, each learner
   * updates its shard, parameters all-gathered). Checkpoints hold the full state either way.
   */
  zeroStage: z.union([z.literal(0), z.literal(1)]).default(0),
});

export const batchSchema = z
  .strictObject({
    /** Prompts per RL step (reference: 64). */
    promptsPerStep: positiveInt().default(64),
    /** Samples per prompt, `n` (reference: 5). */
    samplesPerPrompt: positiveInt().default(5),
    /** Trajectories per optimizer update (reference: 256). */
    miniBatch: positiveInt().default(256),
    /** Trajectories per forward/backward pass (gradient accumulation inside a mini-batch). */
    microBatch: positiveInt().default(8),
  })
  .superRefine((b, ctx) => {
    const total = b.promptsPerStep * b.samplesPerPrompt;
    if (b.miniBatch > total) {
      ctx.addIssue({
        code: 'custom',
        path: ['miniBatch'],
        message: `miniBatch ${b.miniBatch} is larger than promptsPerStep × samplesPerPrompt = ${total}; lower it to at most ${total}`,
        input: b.miniBatch,
      });
    }
    if (b.microBatch > b.miniBatch) {
      ctx.addIssue({
        code: 'custom',
        path: ['microBatch'],
        message: `microBatch ${b.microBatch} is larger than miniBatch ${b.miniBatch}; lower it`,
        input: b.microBatch,
      });
    }
  });

export const rolloutSchema = z
  .strictObject({
    /** Turns with observations before the final generation (reference: 5). */
    maxTurns: positiveInt().default(5),
    /** Documents per search (reference: 5). */
    topk: positiveInt().default(5),
    maxNewTokensPerTurn: positiveInt().default(500),
    /** Observations are cut to this many tokens. */
    observationTokenCap: positiveInt().default(2048),
    /** Rolling context window in tokens. */
    contextWindow: positiveInt().default(4096),
    temperature: z.number().nonnegative().default(1),
    topP: z.number().gt(0).max(1).default(0.95),
    /**
     * Keep the inserted documents (<information> tokens) out of the policy loss, as the
     * paper does (true); false is its ablation: the loss covers every response token.
     */
    maskObservations: z.boolean().default(true),
  })
  .superRefine((r, ctx) => {
    if (r.observationTokenCap >= r.contextWindow) {
      ctx.addIssue({
        code: 'custom',
        path: ['observationTokenCap'],
        message: `observationTokenCap ${r.observationTokenCap} must be smaller than contextWindow ${r.contextWindow}`,
        input: r.observationTokenCap,
      });
    }
    if (r.maxNewTokensPerTurn >= r.contextWindow) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxNewTokensPerTurn'],
        message: `maxNewTokensPerTurn ${r.maxNewTokensPerTurn} must be smaller than contextWindow ${r.contextWindow}`,
        input: r.maxNewTokensPerTurn,
      });
    }
  });

export const modeSchema = z.discriminatedUnion('kind', [
  /** On-policy and step-locked. */
  z.strictObject({ kind: z.literal('sync') }),
  /** Rollouts continue while learners train, with bounded staleness. */
  z.strictObject({
    kind: z.literal('async'),
    /** Largest policy-version lag allowed on any learnable token. */
    maxStaleness: positiveInt().default(1),
    /**
     * `importance`: truncated importance sampling (TIS) in the loss graph, whatever the
     * algorithm: each policy-gradient term is weighted by min(exp(old − rollout), cap), the
     * learner's old log-probs over the rollout's recorded ones; `drop`: discard stale trajectories.
     */
    correction: z.enum(['importance', 'drop']).default('importance'),
    /** The TIS cap: upper clip of the importance weight. */
    importanceCap: z.number().gt(1).default(2),
  }),
]);

/**
 * The staleness guard: each step compares the log-probs the rollouts recorded for their
 * sampled tokens with the learners' log-probs of the same tokens before the update (tokens
 * generated with the learners' current version only), and reports their mean absolute gap
 * and a k3 KL in the step metrics. A gap above `maxLogprobGap` means the rollouts generate
 * with weights other than the ones they claim (a weight sync that did not happen): each such
 * step logs a warning, and `haltAfter` of them in a row stop the run.
 */
export const stalenessGuardSchema = z.strictObject({
  /** Mean |rollout − learner| log-prob gap above which a step is flagged; null only reports it. */
  maxLogprobGap: z.number().positive().nullable().default(0.05),
  /** Consecutive flagged steps that halt the run. */
  haltAfter: positiveInt().default(3),
});

export const warmStartSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Supervised steps (world-corpus LM + template demonstrations). */
  sftSteps: nonNegativeInt().default(200),
  lr: z.number().positive().default(1e-4),
  batchSize: positiveInt().default(8),
  /** Share of template demonstrations in each SFT batch (the rest is corpus LM). */
  demoShare: probability().default(0.5),
  /**
   * Share of the demonstrations (demo-only entities) whose documents come from
   * the world simulator (useful mode) instead of the corpus engine, so the
   * policy reads the simulator's phrasing it meets during RL (synthetic worlds).
   */
  demoSimulatorShare: probability().default(0),
  /** Cache directory; results are keyed by a content hash of the inputs. */
  cacheDir: z.string().min(1).default('runs/.cache/warm-start'),
});

/** Execution providers a role's ONNX Runtime sessions may use (engine names). */
export const EXECUTION_PROVIDER_NAMES = ['cpu', 'webgpu', 'cuda'] as const;
const providerName = z.enum(EXECUTION_PROVIDER_NAMES, { message: "an execution provider: 'cpu', 'webgpu' or 'cuda'" });

/** One provider or an ordered fallback list (ONNX Runtime runs each node on the first that has a kernel for it). */
const providerList = z
  .union([providerName.transform((p) => [p]), z.array(providerName).min(1, 'list at least one execution provider')])
  .refine((l) => new Set(l).size === l.length, { message: 'an execution provider is listed twice' });

/** Roles whose ONNX Runtime sessions take their providers from `devices`. */
export const DEVICE_ROLES = ['learner', 'rollout', 'reference', 'critic', 'simulator', 'evaluation'] as const;
export type DeviceRole = (typeof DEVICE_ROLES)[number];

/**
 * Execution providers per role (`default` for roles not named). Every session a role creates
 * uses them, on the GPU the scheduler granted its actor (CUDA: the only visible device; see
 * engine's deviceIdFor). A provider the installed onnxruntime-node lacks stops the run before
 * anything starts.
 */
export const devicesSchema = z.strictObject({
  default: providerList.default(['cpu']),
  learner: providerList.optional(),
  rollout: providerList.optional(),
  reference: providerList.optional(),
  critic: providerList.optional(),
  /** The local ONNX simulator (backend local); managed / external servers choose their own device. */
  simulator: providerList.optional(),
  /** Evaluation before / after / during RL in the driver process. */
  evaluation: providerList.optional(),
});

export const checkpointSchema = z.strictObject({
  /** Save every N steps (0: only at the end). */
  every: nonNegativeInt().default(50),
  /** Checkpoint directory; relative paths are under the run directory. */
  dir: z.string().min(1).default('checkpoints'),
  /** Keep the newest K checkpoints (0: keep all). */
  keep: nonNegativeInt().default(0),
});

export const evalSplitSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['single-hop', 'multi-hop']),
  /** Cap on questions evaluated from this split (all when absent). */
  maxQuestions: positiveInt().optional(),
});

/** A Search-R1 retrieval server (`POST /retrieve`: e5 + FAISS over wiki-18, or `cohort search serve`); documents per search come from rollout.topk. */
export const retrieverSchema = z.strictObject({
  url: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), { message: 'the retriever url must be http:// or https://, e.g. http://127.0.0.1:8000/retrieve' }),
  timeoutMs: positiveInt().default(30_000),
  /** Retries of a failed request (network error, timeout, 429, 5xx) before the evaluation fails. */
  maxRetries: z.number().int().min(0).max(20).default(3),
  /** Queries per request. */
  batchSize: positiveInt().max(1024).default(64),
  /** Prefix each document with its title (`Title: text`). */
  titles: z.boolean().default(true),
});

export const evalSchema = z.strictObject({
  splits: z.array(evalSplitSchema).min(1),
  /** Greedy decoding in evaluation (reference: yes). */
  greedy: z.boolean().default(true),
  before: z.boolean().default(true),
  after: z.boolean().default(true),
  /** Greedy evaluation of DEV questions during RL every N steps (0: off), its EM written into that step's metrics. */
  every: nonNegativeInt().default(0),
  /** Dev questions per split in each periodic evaluation (the first N of the split, the same every time). */
  sampleSize: positiveInt().default(8),
  /** Evaluation's real search engine: `corpus` (BM25 over the world's corpus) or `retriever` (a Search-R1 retrieval server, `eval.retriever`). */
  engine: z.enum(['corpus', 'retriever']).default('corpus'),
  retriever: retrieverSchema.optional(),
}).superRefine((e, ctx) => {
  if (e.engine === 'retriever' && !e.retriever) ctx.addIssue({ code: 'custom', path: ['retriever'], message: 'eval.engine retriever needs eval.retriever.url, the server\'s endpoint, e.g. { url: http://127.0.0.1:8000/retrieve }', input: e.retriever });
  if (e.engine !== 'retriever' && e.retriever) ctx.addIssue({ code: 'custom', path: ['retriever'], message: 'eval.retriever is set but eval.engine is corpus; set eval.engine: retriever, or remove eval.retriever', input: e.retriever });
});

export const trainConfigSchema = z
  .strictObject({
    run: runSchema,
    world: worldSchema,
    policy: policySchema,
    simulator: simulatorSchema,
    layout: layoutSchema,
    algorithm: algorithmSchema.prefault({}),
    optimizer: optimizerSchema.prefault({}),
    batch: batchSchema.prefault({}),
    rollout: rolloutSchema.prefault({}),
    curriculum: CurriculumSchema.prefault({ mode: 'curriculum' }),
    mode: modeSchema.prefault({ kind: 'sync' }),
    stalenessGuard: stalenessGuardSchema.prefault({}),
    warmStart: warmStartSchema.prefault({}),
    checkpoint: checkpointSchema.prefault({}),
    eval: evalSchema,
    devices: devicesSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.checkpoint.every > c.run.totalSteps) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpoint', 'every'],
        message: `checkpoint.every ${c.checkpoint.every} is larger than run.totalSteps ${c.run.totalSteps}; no periodic checkpoint would be written (use 0 for end-only)`,
        input: c.checkpoint.every,
      });
    }
    const sim = c.simulator;
    if (sim.backend === 'openai' && sim.managed && sim.managed.tp * sim.managed.dp !== c.layout.simulator.gpusPerBundle) {
      ctx.addIssue({
        code: 'custom',
        path: ['simulator', 'managed'],
        message: `managed server tp × dp = ${sim.managed.tp * sim.managed.dp} but each simulator bundle has ${c.layout.simulator.gpusPerBundle} GPU(s); make them equal`,
        input: sim.managed,
      });
    }
    if (!c.rollout.maskObservations && c.mode.kind === 'async' && c.mode.correction === 'importance') {
      ctx.addIssue({
        code: 'custom',
        path: ['rollout', 'maskObservations'],
        message: 'rollout.maskObservations false trains on document tokens, which the rollouts never sampled, so the importance weights of async mode have no rollout log-prob for them; use mode.kind sync (or correction drop)',
        input: false,
      });
    }
    if (c.eval.every > c.run.totalSteps) {
      ctx.addIssue({
        code: 'custom',
        path: ['eval', 'every'],
        message: `eval.every ${c.eval.every} is larger than run.totalSteps ${c.run.totalSteps}; no evaluation would run during training (use 0 for none, or at most ${c.run.totalSteps})`,
        input: c.eval.every,
      });
    }
    const names = new Set<string>();
    c.eval.splits.forEach((s, i) => {
      if (names.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['eval', 'splits', i, 'name'], message: `eval split "${s.name}" is listed twice`, input: s.name });
      }
      names.add(s.name);
    });
  });

type ParsedConfig = z.output<typeof trainConfigSchema>;
/**
 * A validated training configuration (all defaults filled in), with `algorithm.params`
 * validated by the chosen algorithm's schema.
 */
export type TrainConfig = Omit<ParsedConfig, 'algorithm'> & { algorithm: Omit<ParsedConfig['algorithm'], 'params'> & { params: AlgorithmParams } };
/** What a YAML file may contain (defaults optional). */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
export type { AlgorithmParams };
export type ModeConfig = z.output<typeof modeSchema>;
export type SimulatorConfig = z.output<typeof simulatorSchema>;
export type LayoutConfig = z.output<typeof layoutSchema>;
export type DevicesConfig = z.output<typeof devicesSchema>;

/** The execution providers of a role: its own list, else `devices.default`. */
export function roleProviders(config: { devices: DevicesConfig }, role: DeviceRole): ('cpu' | 'webgpu' | 'cuda')[] {
  return config.devices[role] ?? config.devices.default;
}
