// Shared helpers of the ZeroSearch commands (data make, search, sim serve, sim tune, curriculum).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DATASET_SIZES, loadCorpus, loadWorld, makeDataset, type Doc, type World } from '@cohort/zerosearch';
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
