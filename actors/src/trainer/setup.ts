import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, Tokenizer, checkpointWeightFiles, loadModelConfig, parseModelConfig, type ModelConfig } from '@cohort/engine';
import {
  DatasetConfigSchema,
  World,
  WorldConfigSchema,
  makeDataset,
  readCorpusFile,
  readQAItems,
  readTuneReport,
  simulatorConfigHash,
  tuneSimulator,
  type Dataset,
  type QAItem,
  type TuneReport,
  ZEROSEARCH_TAGS,
} from '@cohort/zerosearch';
import { roleProviders, type TrainConfig } from '../config/schema.js';
import type { SimulatorActorSpec } from '../simulator/simulator-actor.js';
import { supervisedTrain, type SftExample } from './supervised.js';

/** A training world: a dataset, plus per-split evaluation questions when they come from files. */
export type TrainWorld = Dataset & {
  /** Evaluation questions by split name (`world.eval` of a parquet world). */
  readonly evalSplits?: ReadonlyMap<string, readonly QAItem[]>;
};

/**
 * A Search-R1 parquet world: training questions from `world.train`, each
 * evaluation split from its `world.eval` file, and the corpus the real search
 * engine evaluates with (also the LM part of a warm start). It has no
 * simulator tuning pairs and no demonstrations. Paths are relative to `cwd`.
 */
async function parquetWorld(config: TrainConfig, cwd: string): Promise<TrainWorld> {
  const w = config.world;
  if (w.kind !== 'parquet') throw new Error('parquetWorld needs world.kind: parquet');
  const abs = (p: string) => path.resolve(cwd, p);
  const missing = config.eval.splits.filter((s) => !(s.name in w.eval)).map((s) => s.name);
  if (missing.length) {
    throw new Error(`eval split(s) ${missing.map((m) => `"${m}"`).join(', ')} have no file in world.eval (it names: ${Object.keys(w.eval).join(', ') || 'none'}); add "<name>: path/to/file.parquet" under world.eval`);
  }
  const train = await readQAItems(w.train.map(abs), 'train');
  if (train.length === 0) throw new Error(`world.train files hold no questions: ${w.train.join(', ')}`);
  const evalSplits = new Map<string, QAItem[]>();
  for (const s of config.eval.splits) evalSplits.set(s.name, await readQAItems([abs(w.eval[s.name])], 'test'));
  const dev = await readQAItems(w.dev.map(abs), 'dev');
  const corpus = await readCorpusFile(abs(w.corpus));
  const test = [...evalSplits.values()].flat();
  return {
    config: DatasetConfigSchema.parse({ seed: config.run.seed, demoTopk: Math.min(10, config.rollout.topk) }),
    world: new World(WorldConfigSchema.parse({ seed: config.run.seed }), [], []),
    corpus,
    train,
    dev,
    test,
    pool: { train: train.length, dev: dev.length, test: test.length },
    simPairs: [],
    demos: [],
    warmCorpus: corpus,
    warmFacts: [],
    evalSplits,
  };
}

/** The world and its data for a config: a synthetic world made from its seed, or parquet files (paths relative to `cwd`). */
export async function prepareWorld(config: TrainConfig, extraDemos = 0, cwd = process.cwd()): Promise<TrainWorld> {
  const w = config.world;
  if (w.kind === 'parquet') return parquetWorld(config, cwd);
  return makeDataset({
    seed: w.seed ?? config.run.seed,
    size: w.size,
    world: w.world ?? {},
    trainSize: w.trainSize,
    devSize: w.devSize,
    testSize: w.testSize,
    simPairs: w.simPairs,
    ...(w.simExtraPairs !== undefined ? { simExtraPairs: w.simExtraPairs } : {}),
    docsPerEntity: w.docsPerEntity,
    // Demonstrations show as many documents per search as the rollouts do.
    demoTopk: config.rollout.topk,
    extraDemos,
    demoSimulatorShare: config.warmStart.demoSimulatorShare,
  });
}

/** Text the world tokenizer is trained on: warm corpus, demonstrations, simulator pairs. */
export function tokenizerTexts(ds: Dataset): string[] {
  return [
    ...ds.warmCorpus.map((d) => `${d.title} ${d.text}`),
    ...ds.demos.flatMap((d) => [d.prompt, d.response]),
    ...ds.simPairs.map((p) => `${p.prompt} ${p.output}`),
  ];
}

/** A byte-level BPE tokenizer for the world (ZeroSearch tags as added tokens). */
export function makeWorldTokenizer(ds: Dataset, vocabSize: number): Tokenizer {
  return Tokenizer.train(tokenizerTexts(ds), { vocabSize, addedTokens: [...ZEROSEARCH_TAGS] });
}

/** The model config of a config's model source for a given vocabulary. */
export function modelConfigFor(source: TrainConfig['policy']['model'], vocabSize: number): ModelConfig | null {
  if ('path' in source) return null;
  const { architecture: _a, vocab_size, ...rest } = source.config;
  return parseModelConfig({ model_type: 'qwen2', vocab_size: vocab_size ?? vocabSize, ...rest });
}

/** A stable short hash of JSON-able inputs. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Demonstrations the warm start asks `makeDataset` for beyond the train
 * questions' own (demo-only entities that force copying): about one per
 * SFT sample drawn, at most 20000.
 */
export function extraDemosFor(ws: { enabled: boolean; sftSteps: number; batchSize: number; demoShare: number }): number {
  return ws.enabled ? Math.min(20000, Math.round(ws.sftSteps * ws.batchSize * ws.demoShare)) : 0;
}

/**
 * Warm-start examples: template demonstrations and world-corpus LM documents,
 * mixed by `demoShare` (`count` examples, more when there are more
 * demonstrations than `count * demoShare`, so every demonstration is in).
 */
export function warmStartExamples(ds: Dataset, demoShare: number, count: number): SftExample[] {
  const demos: SftExample[] = ds.demos.map((d) => ({ prompt: d.prompt, segments: d.segments.map((s) => ({ text: s.text, lossMask: s.lossMask })) }));
  const docs: SftExample[] = ds.warmCorpus.map((d) => ({ prompt: '', segments: [{ text: `${d.title}. ${d.text}`, lossMask: 1 as const }] }));
  if (demoShare > 0 && demos.length > count * demoShare) count = Math.round(demos.length / demoShare);
  const nDemo = Math.round(count * demoShare);
  const out: SftExample[] = [];
  for (let i = 0; i < nDemo && demos.length; i++) out.push(demos[i % demos.length]);
  for (let i = 0; out.length < count && docs.length; i++) out.push(docs[i % docs.length]);
  return out;
}

/**
 * Runs a supervised stage into `dir` unless a previous run left it there
 * (keyed by the content hash in the directory name). Returns the model and
 * whether it came from the cache.
 */
export async function cachedSupervised(
  cacheDir: string,
  key: unknown,
  init: () => CausalLM,
  tokenizer: Tokenizer,
  examples: () => SftExample[],
  opts: Parameters<typeof supervisedTrain>[3],
): Promise<{ model: CausalLM; dir: string; cached: boolean; losses: number[] }> {
  const dir = path.join(cacheDir, contentHash(key));
  if (existsSync(path.join(dir, 'model.safetensors'))) return { model: CausalLM.load(dir), dir, cached: true, losses: [] };
  const model = init();
  const losses = opts.steps > 0 ? await supervisedTrain(model, tokenizer, examples(), opts) : [];
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  model.save(tmp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { model, dir, cached: false, losses };
}

/**
 * Held-out items of an eval split. `test` (the final evaluation): the split's
 * own file for a parquet world (`world.eval[name]`), otherwise the synthetic
 * world's test questions with the split kind's hop count. `dev` (the EM curve
 * during RL, choosing settings): the dev questions with that hop count.
 */
export function evalItems(ds: TrainWorld, split: { name: string; kind: 'single-hop' | 'multi-hop'; maxQuestions?: number }, which: 'dev' | 'test' = 'test'): QAItem[] {
  const hops = split.kind === 'single-hop' ? 1 : 2;
  const named = which === 'test' ? ds.evalSplits?.get(split.name) : undefined;
  const items = named ? [...named] : (which === 'dev' ? ds.dev : ds.test).filter((q) => q.hops === hops);
  return split.maxQuestions ? items.slice(0, split.maxQuestions) : items;
}

/** A cheap fingerprint of a (possibly huge) file: size, plus a hash of its first MiB (a safetensors header and its first tensors). */
export function fileFingerprint(file: string): string {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, head, 0, head.length, 0);
    return `${size}:${createHash('sha256').update(head).digest('hex').slice(0, 16)}`;
  } finally {
    closeSync(fd);
  }
}

/** The policy's starting point: a model config to initialise, or a Hugging Face-layout directory to load. */
export interface PolicyInit {
  config: ModelConfig;
  init: () => CausalLM;
  /** Identifies the starting weights in cache keys. */
  key: unknown;
  /** The directory when the policy comes from `policy.model.path` (absolute). */
  dir?: string;
}

/** Where the policy starts from (`policy.model.config`: random init with the run seed; `policy.model.path`: that checkpoint). */
export function policyInit(config: TrainConfig, vocabSize: number, cwd = process.cwd()): PolicyInit {
  const src = config.policy.model;
  if ('path' in src) {
    const dir = path.resolve(cwd, src.path);
    const weights = checkpointWeightFiles(dir);
    if (!existsSync(path.join(dir, 'config.json')) || weights.length === 0) {
      const remake = config.policy.fromScratch ? `; make it with \`cohort warm-start CONFIG --out ${src.path}\`, or run with --from-scratch (policy.fromScratch and warmStart say how)` : '';
      throw new Error(`policy.model.path ${dir} lacks ${weights.length ? 'config.json' : 'its weights'}; a policy directory holds a Hugging Face config.json and model.safetensors (or model.safetensors.index.json with its shards)${remake}`);
    }
    const mc = loadModelConfig(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    if (src.configFile) {
      const copy = loadModelConfig(readFileSync(path.resolve(cwd, src.configFile), 'utf8'));
      if (JSON.stringify(copy) !== JSON.stringify(mc)) throw new Error(`policy.model.configFile ${src.configFile} does not describe the checkpoint in ${dir} (its config.json differs); fix or drop configFile`);
    }
    if (mc.vocab_size < vocabSize) throw new Error(`policy model vocab_size ${mc.vocab_size} is smaller than the tokenizer's ${vocabSize} tokens; use the tokenizer that came with the model`);
    return { config: mc, init: () => CausalLM.load(dir), key: { path: dir, config: mc, weights: weights.map((f) => fileFingerprint(path.join(dir, f))) }, dir };
  }
  const mc = modelConfigFor(src, vocabSize)!;
  return { config: mc, init: () => CausalLM.random(mc, { seed: config.run.seed }), key: { mc } };
}

/**
 * The policy tokenizer: a Hugging Face `tokenizer.json` (policy.tokenizer.kind
 * huggingface, path relative to `cwd`) or a byte-level BPE trained on the
 * world (saved to `workDir/tokenizer.json`). Returns the file rollouts load.
 */
export function preparePolicyTokenizer(config: TrainConfig, ds: Dataset, workDir: string, cwd = process.cwd()): { tokenizer: Tokenizer; tokenizerPath: string } {
  const t = config.policy.tokenizer;
  if (t.kind === 'huggingface') {
    const p = path.resolve(cwd, t.path);
    const file = existsSync(p) && statSync(p).isDirectory() ? path.join(p, 'tokenizer.json') : p;
    return { tokenizer: Tokenizer.fromFile(file), tokenizerPath: file };
  }
  if (ds.warmCorpus.length === 0 && ds.demos.length === 0) throw new Error('policy.tokenizer.kind world needs world text to train on; give policy.tokenizer { kind: huggingface, path }');
  const src = config.policy.model;
  const vocab = 'config' in src && src.config.vocab_size ? src.config.vocab_size : 1024;
  const tokenizerPath = path.join(workDir, 'tokenizer.json');
  const tokenizer = makeWorldTokenizer(ds, vocab);
  tokenizer.save(tokenizerPath);
  return { tokenizer, tokenizerPath };
}

/** A tuned local simulator model directory (config.json, model.safetensors, tokenizer.json). */
export interface LocalSimulator {
  dir: string;
  cached: boolean;
  report: TuneReport | null;
}

/**
 * The model behind `simulator.backend: local`: `simulator.model.path` served
 * as is (a directory from `cohort sim tune`), or a model of
 * `simulator.model.config`'s size tuned on the world's simulator pairs
 * (`simulator.tune`), cached under `cacheDir` by a content hash of the pairs,
 * the architecture and the tuning settings, so reruns skip it. The tuner's
 * shape rules apply: vocab_size, hidden_size, num_hidden_layers and
 * num_attention_heads are taken; the MLP is 3× hidden, KV heads half the heads.
 */
export async function prepareLocalSimulator(
  config: TrainConfig,
  ds: Dataset,
  cacheDir: string,
  cwd = process.cwd(),
  onStep?: (step: number, loss: number) => void,
): Promise<LocalSimulator> {
  const sim = config.simulator;
  if (sim.backend !== 'local') throw new Error('prepareLocalSimulator needs simulator.backend: local');
  if ('path' in sim.model) {
    const dir = path.resolve(cwd, sim.model.path);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      if (!existsSync(path.join(dir, f))) throw new Error(`simulator.model.path ${dir} lacks ${f}; a simulator directory comes from \`cohort sim tune --out DIR\``);
    }
    return { dir, cached: true, report: readTuneReport(dir) };
  }
  if (sim.tune.steps === 0) throw new Error('simulator.tune.steps is 0 with simulator.model.config: the simulator would be untrained; give tune.steps > 0 or a tuned simulator.model.path');
  if (!ds.simPairs.some((p) => p.split === 'train')) {
    throw new Error('this world has no simulator tuning pairs (a parquet world has none); give simulator.model.path of a tuned simulator, or backend: openai');
  }
  const a = sim.model.config;
  const options = {
    steps: sim.tune.steps,
    lr: sim.tune.lr,
    batchSize: sim.tune.batchSize,
    augment: sim.tune.augment,
    freshNames: sim.tune.freshNames,
    seed: config.run.seed,
    vocabSize: Math.max(300, a.vocab_size ?? 1024),
    hiddenSize: a.hidden_size,
    layers: a.num_hidden_layers,
    heads: a.num_attention_heads,
    evalPairs: 8,
    evalMaxTokens: Math.min(sim.maxTokens, 128),
  };
  const dir = path.join(cacheDir, simulatorConfigHash(options, ds.simPairs).slice(0, 16));
  if (readTuneReport(dir) && existsSync(path.join(dir, 'model.safetensors'))) return { dir, cached: true, report: readTuneReport(dir) };
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const report = await tuneSimulator(ds.simPairs, { ...options, outDir: tmp }, { onStep });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { dir, cached: false, report: { ...report, outDir: dir } };
}

/**
 * The backend each SimulatorActor gets (one per simulator bundle): the
 * world's template simulator, external OpenAI-compatible servers, a managed
 * server per bundle on `basePort + index` (run from `cwd`), or the tuned local model.
 */
export function simulatorBackends(config: TrainConfig, cwd: string, local?: LocalSimulator): SimulatorActorSpec['backend'][] {
  const sim = config.simulator;
  const n = config.layout.simulator.bundles;
  return Array.from({ length: n }, (_, i): SimulatorActorSpec['backend'] => {
    switch (sim.backend) {
      case 'template':
      case 'corpus': {
        const w = config.world;
        if (w.kind !== 'synthetic') throw new Error(`simulator.backend ${sim.backend} reads a synthetic world; with world.kind parquet use backend openai (addresses or managed) or local with a tuned model.path`);
        const world = { size: w.size, seed: w.seed ?? config.run.seed, world: w.world, docsPerEntity: w.docsPerEntity };
        return sim.backend === 'template' ? { kind: 'template', world } : { kind: 'corpus', world, topk: config.rollout.topk };
      }
      case 'openai': {
        if (sim.addresses) return { kind: 'openai', addresses: sim.addresses, model: sim.model };
        const m = sim.managed!;
        return { kind: 'managed', command: m.command, model: sim.model, tp: m.tp, dp: m.dp, port: m.basePort + i, healthPath: m.healthPath, startupTimeoutS: m.startupTimeoutS, cwd };
      }
      case 'local': {
        if (!local) throw new Error('simulator.backend local needs its tuned model (prepareLocalSimulator) first');
        return { kind: 'local', modelDir: local.dir, tokenizer: path.join(local.dir, 'tokenizer.json'), device: roleProviders(config, 'simulator') };
      }
    }
  });
}
