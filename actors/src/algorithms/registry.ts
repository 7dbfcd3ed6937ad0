import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { closest } from '../config/format-issues.js';
import type { PolicyLoss } from '@cohort/engine/loss-api';
import { standardParamsSchema, type AlgorithmParams, type ParamsSchema, type StandardParams } from './params.js';
import { clipPolicyLoss } from './standard-loss.js';
import { truncatedImportanceSampling } from './tis.js';
import type { AlgorithmDefinition, LossContext } from './types.js';

// Definitions are stored with their own parameter type erased; getAlgorithm hands them out
// with the common one (what the trainer reads), and each algorithm's code sees its own.
const algorithms = new Map<string, AlgorithmDefinition>();

/** Thrown for an unknown algorithm name, a duplicate registration or a plug-in that fails to load. */
export class AlgorithmRegistryError extends Error {
  override readonly name = 'AlgorithmRegistryError';
}

/**
 * Registers an algorithm under `def.name`. A plug-in file calls this at import
 * time; registering a name twice is an error unless `replace` is set.
 */
export function registerAlgorithm<P extends AlgorithmParams>(def: AlgorithmDefinition<P>, opts: { replace?: boolean } = {}): void {
  if (!/^[a-z0-9][a-z0-9+._-]*$/.test(def.name)) {
    throw new AlgorithmRegistryError(`algorithm name "${def.name}" must be lower-case letters, digits, "+", ".", "_" or "-"`);
  }
  if (algorithms.has(def.name) && !opts.replace) {
    throw new AlgorithmRegistryError(`algorithm "${def.name}" is already registered; pick another name or pass { replace: true }`);
  }
  if (!Number.isInteger(def.minSamplesPerPrompt) || def.minSamplesPerPrompt < 1) {
    throw new AlgorithmRegistryError(`algorithm "${def.name}": minSamplesPerPrompt must be an integer >= 1, found ${def.minSamplesPerPrompt}`);
  }
  if (def.params !== undefined && typeof (def.params as { safeParse?: unknown }).safeParse !== 'function') {
    throw new AlgorithmRegistryError(`algorithm "${def.name}": params must be a zod schema (e.g. z.strictObject({...commonParams(), ...})), found ${typeof def.params}`);
  }
  algorithms.set(def.name, def as unknown as AlgorithmDefinition);
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

/** A plug-in path resolved against `baseDir` (absolute); a package specifier is returned as is. */
export function resolvePluginSpec(spec: string, baseDir: string): string {
  const isPath = spec.startsWith('.') || spec.startsWith('/') || /\.[cm]?[jt]s$/.test(spec);
  return isPath ? path.resolve(baseDir, spec) : spec;
}

/**
 * Imports plug-in modules (paths relative to `baseDir`, or package specifiers);
 * each registers its algorithms as a side effect.
 */
export async function loadAlgorithmPlugins(specs: readonly string[], baseDir: string): Promise<void> {
  for (const spec of specs) {
    const resolved = resolvePluginSpec(spec, baseDir);
    const target = path.isAbsolute(resolved) ? pathToFileURL(resolved).href : resolved;
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

/** The schema of an algorithm's `algorithm.params` (the standard one when it declares none). */
export function paramsSchemaOf(def: AlgorithmDefinition): ParamsSchema {
  return def.params ?? (standardParamsSchema as unknown as ParamsSchema);
}

/**
 * Validates `raw` as the parameters of algorithm `name` (defaults filled in); throws an
 * AlgorithmRegistryError naming each bad key. The config loader reports the same problems
 * with their lines.
 */
export function parseAlgorithmParams(name: string, raw: unknown = {}): AlgorithmParams {
  const r = paramsSchemaOf(getAlgorithm(name)).safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new AlgorithmRegistryError(`invalid algorithm.params for "${name}": ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/**
 * The policy loss the learners compile for an algorithm: its own `policyLoss`, or PPO-clip
 * from the standard parameters; wrapped in truncated importance sampling when `tisCap` is
 * set (async mode with `correction: importance`).
 */
export function algorithmPolicyLoss(def: AlgorithmDefinition, params: AlgorithmParams, ctx: Omit<LossContext, 'params' | 'klInLoss'> & { tisCap?: number | null } = {}): PolicyLoss {
  const { tisCap, ...rest } = ctx;
  const full: LossContext = { ...rest, params, klInLoss: !klInReward(def, params) };
  let loss: PolicyLoss;
  try {
    loss = def.policyLoss ? def.policyLoss(full) : clipPolicyLoss(params as unknown as StandardParams, full);
  } catch (err) {
    throw new AlgorithmRegistryError(`algorithm "${def.name}": its policyLoss could not be made: ${(err as Error).message}`);
  }
  if (!loss || typeof loss.build !== 'function' || typeof loss.key !== 'string') {
    throw new AlgorithmRegistryError(`algorithm "${def.name}": policyLoss must return a PolicyLoss ({ name, key, build(inputs) }), found ${typeof loss}`);
  }
  return tisCap ? truncatedImportanceSampling(loss, tisCap) : loss;
}

/**
 * The policy loss of `algorithm` in a process that may not have its plug-in yet (a learner's
 * worker): imports `algorithm.plugins` (absolute paths, or relative to the current directory)
 * when the name is not registered, then builds the loss as {@link algorithmPolicyLoss} does.
 */
export async function loadPolicyLoss(
  algorithm: { name: string; params: AlgorithmParams; plugins?: readonly string[] },
  ctx: Omit<LossContext, 'params' | 'klInLoss'> & { tisCap?: number | null } = {},
): Promise<PolicyLoss> {
  if (!algorithms.has(algorithm.name)) await loadAlgorithmPlugins(algorithm.plugins ?? [], process.cwd());
  return algorithmPolicyLoss(getAlgorithm(algorithm.name), algorithm.params, ctx);
}
