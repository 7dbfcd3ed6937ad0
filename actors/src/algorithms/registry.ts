import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { closest } from '../config/format-issues.js';
import type { AlgorithmParams } from '../config/schema.js';
import type { AlgorithmDefinition } from './types.js';

const algorithms = new Map<string, AlgorithmDefinition>();

/** Thrown for an unknown algorithm name, a duplicate registration or a plug-in that fails to load. */
export class AlgorithmRegistryError extends Error {
  override readonly name = 'AlgorithmRegistryError';
}

/**
 * Registers an algorithm under `def.name`. A plug-in file calls this at import
 * time; registering a name twice is an error unless `replace` is set.
 */
export function registerAlgorithm(def: AlgorithmDefinition, opts: { replace?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9+._-]*$/.test(def.name)) {
    throw new AlgorithmRegistryError(`algorithm name "${def.name}" must be lower-case letters, digits, "+", ".", "_" or "-"`);
  }
  if (algorithms.has(def.name) && !opts.replace) {
    throw new AlgorithmRegistryError(`algorithm "${def.name}" is already registered; pick another name or pass { replace: true }`);
  }
  if (!Number.isInteger(def.minSamplesPerPrompt) || def.minSamplesPerPrompt < 1) {
    throw new AlgorithmRegistryError(`algorithm "${def.name}": minSamplesPerPrompt must be an integer >= 1, found ${def.minSamplesPerPrompt}`);
  }
  algorithms.set(def.name, def);
}

/** The algorithm registered under `name`; the error lists the known names and the closest one. */
export function getAlgorithm(name: string): AlgorithmDefinition {
  const def = algorithms.get(name);
  if (def) return def;
  const known = [...algorithms.keys()].sort();
  const hint = closest(name, known);
  throw new AlgorithmRegistryError(
    `unknown algorithm "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; registered: ${known.join(', ')}. ` +
      'A new algorithm is a file that calls registerAlgorithm(); list it in algorithm.plugins.',
  );
}

/** All registered algorithms, sorted by name. */
export function listAlgorithms(): AlgorithmDefinition[] {
  return [...algorithms.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Imports plug-in modules (paths relative to `baseDir`, or package specifiers);
 * each registers its algorithms as a side effect.
 */
export async function loadAlgorithmPlugins(specs: readonly string[], baseDir: string): Promise<void> {
  for (const spec of specs) {
    const isPath = spec.startsWith('.') || spec.startsWith('/') || /\.[cm]?[jt]s$/.test(spec);
    const target = isPath ? pathToFileURL(path.resolve(baseDir, spec)).href : spec;
    try {
      await import(target);
    } catch (err) {
      throw new AlgorithmRegistryError(
        `could not load algorithm plug-in "${spec}" (resolved to ${target}): ${(err as Error).message}; check the path in algorithm.plugins`,
      );
    }
  }
}

/** Whether the KL penalty goes into the rewards for this algorithm and these params. */
export function klInReward(def: AlgorithmDefinition, params: AlgorithmParams): boolean {
  return params.kl.inReward ?? def.klInRewardByDefault;
}
