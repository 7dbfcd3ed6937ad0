import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CausalLM, Tokenizer, generate, parseModelConfig, sftLoop, type ModelConfig } from '@cohort/engine';
import type { SimPair } from './dataset.js';
import { fidelityCheck, type FidelityReport } from './fidelity.js';
import { Rng } from '@cohort/engine/rng';
import { AUGMENT_KIND, AUGMENT_KIND_FRESH, answerSwaps } from './sim-augment.js';
import { SimulatorSearchEngine } from './simulator-engine.js';
import { ZEROSEARCH_TAGS } from './template.js';
import type { GenerateOptions, TextGenerator } from './text-generator.js';

/**
 * A TextGenerator over the engine's local model (ONNX Runtime): prompts are
 * tokenized, left-truncated to fit the context, generated in one batch with
 * the engine's KV-cached sampler; a matched stop string is kept at the end of
 * the text. Each call draws with the next seed (`seed`, `seed + 1`, …) unless
 * the call names its own. The local simulator of `cohort sim serve`, `sim
 * eval` and the SimulatorActor's `local` backend.
 */
export class LocalModelGenerator implements TextGenerator {
  readonly name: string;
  private readonly seed: number;
  private calls = 0;

  constructor(readonly model: CausalLM, readonly tokenizer: Tokenizer, opts: { name?: string; seed?: number } = {}) {
    this.name = opts.name ?? 'cohort-local';
    this.seed = opts.seed ?? 0;
  }

  /** Loads `config.json`, `model.safetensors` and `tokenizer.json` from a directory. */
  static load(dir: string, opts: { threads?: number; executionProviders?: ('cpu' | 'webgpu' | 'cuda')[]; name?: string; seed?: number } = {}): LocalModelGenerator {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      if (!existsSync(join(dir, f))) throw new Error(`${dir} lacks ${f}; a simulator model directory comes from \`cohort sim tune --out ${dir}\``);
    }
    const model = CausalLM.load(dir, { ...(opts.threads ? { threads: opts.threads } : {}), ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}) });
    return new LocalModelGenerator(model, Tokenizer.fromFile(join(dir, 'tokenizer.json')), { name: opts.name ?? `cohort-local:${dir.split('/').filter(Boolean).pop()}`, seed: opts.seed ?? 0 });
  }

  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    if (prompts.length === 0) return [];
    const maxNew = Math.max(1, Math.min(opts.maxTokens, this.model.config.max_position_embeddings - 8));
    const room = this.model.config.max_position_embeddings - maxNew;
    const ids = prompts.map((p) => {
      const t = this.tokenizer.encode(p);
      return t.length > room ? t.slice(t.length - room) : t.length ? t : [this.padId()];
    });
    const eos = this.tokenizer.eosTokenId ?? this.tokenizer.tokenToId('<|endoftext|>');
    const out = await generate(this.model, ids, {
      maxNewTokens: maxNew,
      temperature: opts.temperature,
      ...(opts.topP !== undefined ? { topP: opts.topP } : {}),
      seed: opts.seed ?? this.seed + this.calls++,
      stopStrings: opts.stop?.length ? [...opts.stop] : [],
      stopTokenIds: eos === undefined ? [] : [eos],
      padTokenId: this.padId(),
      decode: (x) => this.tokenizer.decode(x, { skipSpecialTokens: true }),
    });
    return out.map((s) => s.text ?? this.tokenizer.decode(s.tokens, { skipSpecialTokens: true }));
  }

  async close(): Promise<void> {
    await this.model.release();
  }

  private padId(): number {
    return this.tokenizer.padTokenId ?? this.tokenizer.tokenToId('<|pad|>') ?? 0;
  }
}

/** Options of `tuneSimulator`. */
export const TuneOptionsSchema = z
  .object({
    /** Where the tuned model goes (config.json, model.safetensors, tokenizer.json, tune.json). */
    outDir: z.string().min(1),
    steps: z.number().int().positive().default(500),
    batchSize: z.number().int().positive().default(8),
    lr: z.number().positive().default(3e-3),
    warmupSteps: z.number().int().nonnegative().default(20),
    seed: z.number().int().nonnegative().default(0),
    vocabSize: z.number().int().min(300).default(1024),
    hiddenSize: z.number().int().positive().default(128),
    layers: z.number().int().positive().default(2),
    heads: z.number().int().positive().default(4),
    /**
     * Swapped copies per tuning pair and epoch (counterfactual augmentation, drawn afresh each
     * epoch; `answerSwaps` in sim-augment.ts): the gold answer and the queried entity are replaced,
     * in the prompt and the documents alike, by another pair's of the same relation, so what a
     * useful document says of whom can only come from the prompt.
     */
    augment: z.number().int().nonnegative().max(20).default(0),
    /** With `augment`: all copies but the first of each pair renamed with fresh names (`answerSwaps`' freshNames). */
    freshNames: z.boolean().default(false),
    /** Held-out pairs generated for the fidelity check (0 skips it). */
    evalPairs: z.number().int().nonnegative().default(16),
    /** New tokens per fidelity generation. */
    evalMaxTokens: z.number().int().positive().default(256),
    threads: z.number().int().positive().optional(),
  })
  .strict();
export type TuneOptions = z.input<typeof TuneOptionsSchema>;

/** Progress and evaluation hooks of `tuneSimulator`. */
export interface TuneHooks {
  readonly logger?: Logger;
  readonly onStep?: (step: number, loss: number) => void;
  /** Names of the entity a query names (the fidelity check's entity_rate). */
  readonly entityNames?: (query: string) => readonly string[] | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The config hash of a tuned simulator: sha256 of the tuning options (defaults
 * filled; `outDir`, `threads` and `evalPairs` left out: they change where, how
 * fast and how much is measured, not the model) and of the pairs. The same options and pairs give the same hash; the
 * cache of `prepareLocalSimulator` and the shipped simulator's MANIFEST.json use it.
 */
export function simulatorConfigHash(options: TuneOptions | Omit<TuneOptions, 'outDir'>, pairs: readonly SimPair[]): string {
  const parsed = TuneOptionsSchema.safeParse({ outDir: '-', ...options });
  if (!parsed.success) throw new Error(`bad tune options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { outDir: _o, threads: _t, evalPairs: _e, augment, freshNames, ...rest } = parsed.data;
  // augment 0 and freshNames false are left out, so simulators tuned before the options existed
  // keep their hash; the augmentation's kind joins it, so a change of what a swapped copy is makes
  // a new hash.
  const what = augment ? { ...rest, augment, ...(freshNames ? { freshNames } : {}), augmentKind: freshNames ? AUGMENT_KIND_FRESH : AUGMENT_KIND } : rest;
  return sha256(JSON.stringify({ kind: 'simulator', options: what, pairs: sha256(JSON.stringify(pairs)) }));
}

/** What `tuneSimulator` reports. */
export interface TuneReport {
  readonly outDir: string;
  /** `simulatorConfigHash` of the options and pairs. */
  readonly configHash: string;
  readonly steps: number;
  readonly trainPairs: number;
  readonly firstLoss: number;
  readonly lastLoss: number;
  readonly parameters: number;
  readonly seconds: number;
  readonly fidelity: FidelityReport | null;
}

/**
 * SFT of a small local simulator on the tuning pairs (loss on the documents
 * only, prompt masked), then the paper's fidelity check on the held-out
 * (`eval`) pairs: how often useful outputs contain the gold answer, against
 * noisy ones. Trains a byte-level BPE tokenizer on the pairs first.
 */
export async function tuneSimulator(pairs: readonly SimPair[], options: TuneOptions, hooks: TuneHooks = {}): Promise<TuneReport> {
  const parsed = TuneOptionsSchema.safeParse(options);
  if (!parsed.success) throw new Error(`bad tune options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const o = parsed.data;
  const train = pairs.filter((p) => p.split === 'train');
  const held = pairs.filter((p) => p.split === 'eval');
  if (train.length === 0) throw new Error('no simulator tuning pairs with split "train"; make data with `cohort data make`');
  const t0 = performance.now();
  const tokenizer = Tokenizer.train(
    train.map((p) => p.prompt + '\n' + p.output),
    { vocabSize: o.vocabSize, addedTokens: [...ZEROSEARCH_TAGS] },
  );
  const eos = tokenizer.tokenToId('<|endoftext|>')!;
  const encode = (p: SimPair) => {
    // The prompt ends at "Output:" exactly as it is sent at serving time; the documents start on a new line.
    const prompt = tokenizer.encode(p.prompt);
    const out = [...tokenizer.encode('\n' + p.output), eos];
    return { ids: [...prompt, ...out], mask: [...prompt.map(() => 0), ...out.map(() => 1)] };
  };
  const seqs = train.map(encode);
  // Each epoch: the tuning pairs and `augment` fresh answer-swapped copies of each (new answers every epoch).
  const augRng = new Rng(o.seed).fork('sim-augment');
  const epoch = () => (o.augment ? [...seqs, ...answerSwaps(train, o.augment, augRng, { freshNames: o.freshNames }).map((x) => encode(x.pair))] : seqs);
  let next = epoch();
  const longest = Math.max(...next.map((s) => s.ids.length)) + (o.augment ? 16 : 0); // room for longer answers in later epochs
  const config: ModelConfig = parseModelConfig({
    model_type: 'qwen2',
    vocab_size: tokenizer.vocabSize,
    hidden_size: o.hiddenSize,
    intermediate_size: o.hiddenSize * 3,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    num_key_value_heads: Math.max(1, o.heads / 2),
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: Math.max(512, Math.ceil((longest + o.evalMaxTokens) / 64) * 64),
    tie_word_embeddings: true,
  });
  const model = CausalLM.random(config, { seed: o.seed, ...(o.threads ? { threads: o.threads } : {}) });
  // Shuffled epochs over the tuning pairs.
  const rng = new Rng(o.seed).fork('sim-tune');
  let order: typeof seqs = [];
  const losses = await sftLoop(model, {
    steps: o.steps,
    trainer: {
      optimizer: { lr: o.lr, weightDecay: 0.01 },
      schedule: { lr: o.lr, warmupSteps: Math.min(o.warmupSteps, o.steps - 1), kind: 'cosine', totalSteps: o.steps, minRatio: 0.1 },
      microBatchSize: o.batchSize,
      ...(hooks.logger ? { logger: hooks.logger } : {}),
    },
    batch: () => {
      if (order.length < o.batchSize) {
        order = order.concat(rng.shuffle([...next]));
        next = epoch();
      }
      return order.splice(0, o.batchSize);
    },
    onStep: (step, m) => {
      hooks.onStep?.(step, m.loss);
      hooks.logger?.info({ step, loss: m.loss, lr: m.lr }, 'sim tune step');
    },
  });
  const firstLoss = losses[0];
  const lastLoss = losses[losses.length - 1];
  mkdirSync(o.outDir, { recursive: true });
  model.save(o.outDir);
  tokenizer.save(join(o.outDir, 'tokenizer.json'));
  const gen = new LocalModelGenerator(model, tokenizer);
  const evalSet = held.slice(0, o.evalPairs);
  const engine = new SimulatorSearchEngine({ generator: gen, maxTokens: o.evalMaxTokens, temperature: 0 });
  const fidelity = evalSet.length ? await fidelityCheck(engine, evalSet, { batch: 16, ...(hooks.entityNames ? { entityNames: hooks.entityNames } : {}) }) : null;
  const parameters = [...model.params.values()].reduce((a, p) => a + p.length, 0);
  const report: TuneReport = { outDir: o.outDir, configHash: simulatorConfigHash(o, pairs), steps: o.steps, trainPairs: train.length, firstLoss, lastLoss, parameters, seconds: (performance.now() - t0) / 1000, fidelity };
  writeFileSync(join(o.outDir, 'tune.json'), JSON.stringify({ options: o, report }, null, 2));
  return report;
}

/** The report of a tuned model directory, or null when it holds none. */
export function readTuneReport(dir: string): TuneReport | null {
  const f = join(dir, 'tune.json');
  if (!existsSync(f)) return null;
  return (JSON.parse(readFileSync(f, 'utf8')) as { report: TuneReport }).report;
}
