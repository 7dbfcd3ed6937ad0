import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CausalLM, Tokenizer, parseModelConfig, type ModelConfig } from '@cohort/engine';
import { makeDataset, type Dataset, type QAItem } from '@cohort/zerosearch';
import type { TrainConfig } from '../config/schema.js';
import { supervisedTrain, type SftExample } from './supervised.js';

/** The synthetic world and its data for a config (parquet worlds are not wired yet). */
export function prepareWorld(config: TrainConfig, extraDemos = 0): Dataset {
  const w = config.world;
  if (w.kind !== 'synthetic') {
    throw new Error('world.kind "parquet" is not wired into the Trainer yet; use world.kind: synthetic (or load the parquet files with @cohort/zerosearch readQAParquet)');
  }
  return makeDataset({
    seed: w.seed ?? config.run.seed,
    size: w.size,
    world: w.world ?? {},
    trainSize: w.trainSize,
    testSize: w.testSize,
    simPairs: w.simPairs,
    docsPerEntity: w.docsPerEntity,
    // Demonstrations show as many documents per search as the rollouts do.
    demoTopk: config.rollout.topk,
    extraDemos,
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
  return Tokenizer.train(tokenizerTexts(ds), { vocabSize });
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

/** Held-out items of an eval split: `single-hop`/`two-hop` style names pick by hops; other names match `shape`. */
export function evalItems(ds: Dataset, split: { name: string; kind: 'single-hop' | 'multi-hop'; maxQuestions?: number }): QAItem[] {
  const hops = split.kind === 'single-hop' ? 1 : 2;
  const items = ds.test.filter((q) => q.hops === hops);
  return split.maxQuestions ? items.slice(0, split.maxQuestions) : items;
}
