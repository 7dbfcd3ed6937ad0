// Shared helpers of the ZeroSearch commands (data make, search, sim serve, sim tune, curriculum).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig, prepareWorld } from '@cohort/actors';
import {
  CorpusSearchEngine,
  DATASET_FILES,
  DATASET_SIZES,
  LocalModelGenerator,
  SimulatorSearchEngine,
  WorldSimulator,
  loadCorpus,
  loadWorld,
  makeDataset,
  readJsonl,
  simulatorEval,
  type Doc,
  type SimPair,
  type FidelityReport,
  type SimulatorEvalReport,
  type World,
} from '@cohort/zerosearch';
import { UsageError } from '../command.js';

/** Parses an integer flag; a UsageError names the flag when it is not one. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** Parses a number flag in [min, max]. */
export function numFlag(name: string, value: string | undefined, fallback: number | undefined, min = -Infinity, max = Infinity): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in [${min}, ${max}], got "${value}"`);
  return n;
}

/** Checks a --size value. */
export function sizeFlag(value: string | undefined): string {
  const size = value ?? 'default';
  if (!(size in DATASET_SIZES)) throw new UsageError(`--size must be one of ${Object.keys(DATASET_SIZES).join(', ')}, got "${size}"`);
  return size;
}

/** Where Cohort caches made worlds and tuned simulators (`COHORT_CACHE` overrides). */
export function cacheDir(): string {
  return process.env.COHORT_CACHE ?? join(homedir(), '.cache', 'cohort');
}

/** The world and corpus from a `cohort data make` directory, or made in memory from seed and size. */
export async function worldAndCorpus(opts: { data?: string; seed: number; size: string }): Promise<{ world: World; corpus: Doc[]; source: string }> {
  if (opts.data) {
    if (!existsSync(join(opts.data, 'world.json'))) throw new UsageError(`--data ${opts.data} holds no world.json; make one with: cohort data make --out ${opts.data}`);
    return { world: await loadWorld(opts.data), corpus: await loadCorpus(opts.data), source: opts.data };
  }
  const ds = makeDataset({ size: opts.size, seed: opts.seed });
  return { world: ds.world, corpus: [...ds.corpus], source: `made in memory (size ${opts.size}, seed ${opts.seed})` };
}

/** Where simulator pairs come from: a training config's world, a `cohort data make` directory, or a world made from seed and size. */
export type SimDataSource = { config: string } | { data: string } | { seed: number; size: string };

/** Simulator pairs with the world and corpus they were made from. */
export interface SimData {
  readonly pairs: SimPair[];
  readonly world: World;
  readonly corpus: Doc[];
  readonly source: SimDataSource;
  /** The seed the pairs were made with (a training config's run seed; 7 for a data directory). */
  readonly seed: number;
}

/** The source named by --config / --data / --seed --size (at most one of the first two), else `fallback`. */
export function simDataSource(values: { config?: string; data?: string; seed?: string; size?: string }, fallback?: SimDataSource): SimDataSource {
  if (values.config && values.data) throw new UsageError('give --config (a training config whose world to use) or --data (a `cohort data make` directory), not both');
  if ((values.config || values.data) && (values.seed !== undefined || values.size !== undefined)) throw new UsageError('--seed and --size make a world in memory; they do not apply with --config or --data');
  if (values.config) return { config: values.config };
  if (values.data) return { data: values.data };
  if (values.seed === undefined && values.size === undefined && fallback) return fallback;
  return { seed: intFlag('seed', values.seed, 7), size: sizeFlag(values.size) };
}

/** Loads the simulator pairs, world and corpus of a source (paths relative to the working directory). */
export async function loadSimData(source: SimDataSource): Promise<SimData> {
  if ('config' in source) {
    const { config } = await loadTrainConfig(source.config);
    if (config.world.kind !== 'synthetic') throw new UsageError(`--config ${source.config}: world.kind is ${config.world.kind}; simulator pairs come from a synthetic world`);
    const ds = await prepareWorld(config, 0);
    return { pairs: [...ds.simPairs], world: ds.world, corpus: [...ds.corpus], source, seed: config.run.seed };
  }
  if ('data' in source) {
    const { world, corpus } = await worldAndCorpus({ data: source.data, seed: 0, size: 'default' });
    return { pairs: await readJsonl<SimPair>(join(source.data, DATASET_FILES.simPairs)), world, corpus, source, seed: 7 };
  }
  const ds = makeDataset({ seed: source.seed, size: source.size });
  return { pairs: [...ds.simPairs], world: ds.world, corpus: [...ds.corpus], source, seed: source.seed };
}

/** Names (name and aliases) of the entity a query names first, or null (the fidelity check's entity_rate). */
export function queryEntityNames(world: World, corpus: readonly Doc[]): (query: string) => string[] | null {
  const sim = new WorldSimulator(world, {}, corpus);
  return (query) => {
    const e = sim.entitiesIn(query)[0];
    return e ? [e.name, ...e.aliases] : null;
  };
}

/** The simulator the repository ships (made by the command in its MANIFEST.json). */
export const SHIPPED_SIMULATOR = fileURLToPath(new URL('../../../models/zerosearch-local/simulator', import.meta.url));

/** Sampling and batching of a fidelity evaluation. */
export interface SimEvalSettings {
  readonly pairs?: number;
  readonly batch: number;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topk: number;
  readonly threads?: number;
}

/** What `cohort sim eval` reports: the fidelity figures with the settings they were measured at. */
export type SimEvalFigures = SimulatorEvalReport & { held_out_pairs: number; batch: number; max_tokens: number; temperature: number; topk: number };

/** The real engine's figures (BM25 top-k over the corpus) beside a simulator fidelity check already run on the first held-out pairs. */
export async function compareWithEngine(sim: FidelityReport, data: SimData, s: SimEvalSettings): Promise<SimEvalFigures> {
  const held = data.pairs.filter((p) => p.split === 'eval');
  const report = await simulatorEval(sim, new CorpusSearchEngine(data.corpus, { topk: s.topk }), held.slice(0, sim.pairs), { batch: s.batch, entityNames: queryEntityNames(data.world, data.corpus) });
  return { held_out_pairs: held.length, ...report, batch: s.batch, max_tokens: s.maxTokens, temperature: s.temperature, topk: s.topk };
}

/**
 * `cohort sim eval`'s measurement: the tuned model in `dir` answers the
 * held-out (`eval`) pairs through the simulator search engine, and the real
 * engine (BM25 top-k over the corpus) answers the useful pairs' queries.
 */
export async function evaluateSimulatorDir(dir: string, data: SimData, s: SimEvalSettings): Promise<SimEvalFigures & { model: string }> {
  const held = data.pairs.filter((p) => p.split === 'eval');
  if (held.length === 0) throw new UsageError('these simulator pairs have no held-out (split "eval") pairs to measure on; make data with a simEvalFraction > 0');
  const pairs = held.slice(0, s.pairs ?? held.length);
  const generator = LocalModelGenerator.load(dir, s.threads ? { threads: s.threads } : {});
  try {
    const simulator = new SimulatorSearchEngine({ generator, maxTokens: s.maxTokens, temperature: s.temperature });
    const report = await simulatorEval(simulator, new CorpusSearchEngine(data.corpus, { topk: s.topk }), pairs, { batch: s.batch, entityNames: queryEntityNames(data.world, data.corpus) });
    return { model: dir, held_out_pairs: held.length, ...report, batch: s.batch, max_tokens: s.maxTokens, temperature: s.temperature, topk: s.topk };
  } finally {
    await generator.close?.();
  }
}
