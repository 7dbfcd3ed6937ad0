import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { getAlgorithm, loadAlgorithmPlugins } from '../algorithms/registry.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { issuesToProblems } from './format-issues.js';
import { trainConfigSchema, type TrainConfig } from './schema.js';

type AnySchema = z.ZodType;

interface Def {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  shape?: Record<string, AnySchema>;
  options?: AnySchema[];
  element?: AnySchema;
  valueType?: AnySchema;
}
const defOf = (s: AnySchema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** The object schema found at `p` (following the raw value to pick union branches). */
function schemaAt(root: AnySchema, raw: unknown, p: ReadonlyArray<PropertyKey>): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  let v: unknown = raw;
  const pick = (schema: AnySchema, value: unknown): AnySchema => {
    schema = unwrap(schema);
    const d = defOf(schema);
    if (d.type !== 'union' || !d.options) return schema;
    // The branch whose literal keys match the value, else the first object branch with the most shared keys.
    let best = d.options[0];
    let bestScore = -1;
    for (const o of d.options) {
      const od = defOf(unwrap(o));
      if (!od.shape || value === null || typeof value !== 'object') continue;
      let score = 0;
      for (const [k, ks] of Object.entries(od.shape)) {
        if (!(k in (value as object))) continue;
        score++;
        const kd = defOf(unwrap(ks)) as Def & { values?: unknown[] };
        if (kd.type === 'literal' && kd.values?.includes((value as Record<string, unknown>)[k])) score += 100;
      }
      if (score > bestScore) {
        bestScore = score;
        best = o;
      }
    }
    return unwrap(best);
  };
  s = pick(s, v);
  for (const key of p) {
    const d = defOf(s);
    let next: AnySchema | undefined;
    if (d.shape) next = d.shape[String(key)];
    else if (d.element) next = d.element;
    else if (d.valueType) next = d.valueType;
    if (!next) return undefined;
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
    s = pick(next, v);
  }
  return s;
}

function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, p: ReadonlyArray<PropertyKey>): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const setLine = (n: unknown) => {
    const r = (n as YamlNode | null)?.range;
    if (r) line = lc.linePos(r[0]).line;
  };
  setLine(node);
  for (const key of p) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      setLine(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      setLine(node);
    } else break;
  }
  return line;
}

/**
 * Parses and validates a training config from YAML text (schema checks only:
 * no plug-ins are loaded). Throws a ConfigError listing every problem with its
 * key path, line, expected and found value.
 */
export function parseTrainConfig(text: string, file = '<inline>'): TrainConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: `YAML syntax: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'expected a mapping of sections (run, world, policy, ...), found ' + (Array.isArray(raw) ? 'a list' : String(raw)) }]);
  }
  const result = trainConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const problems = issuesToProblems(result.error.issues, raw, (p) => {
      const s = schemaAt(trainConfigSchema, raw, p);
      const shape = s ? defOf(s).shape : undefined;
      return shape ? Object.keys(shape) : [];
    });
    for (const pr of problems) {
      const keys = pr.path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k));
      pr.line = lineOf(doc, lc, keys);
    }
    throw new ConfigError(file, problems);
  }
  return result.data;
}

/**
 * Checks that need the algorithm registry: the algorithm exists, its sample
 * count, critic and reference needs fit the config.
 */
export function checkAlgorithmFit(config: TrainConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  let def;
  try {
    def = getAlgorithm(config.algorithm.name);
  } catch (err) {
    return [{ path: 'algorithm.name', message: (err as Error).message }];
  }
  if (config.batch.samplesPerPrompt < def.minSamplesPerPrompt) {
    problems.push({
      path: 'batch.samplesPerPrompt',
      message: `algorithm "${def.name}" needs at least ${def.minSamplesPerPrompt} samples per prompt, found ${config.batch.samplesPerPrompt}; raise it`,
    });
  }
  if (def.needsCritic && config.layout.rl.shares.critic <= 0) {
    problems.push({
      path: 'layout.rl.shares.critic',
      message: `algorithm "${def.name}" needs a CriticActor; give it a GPU share > 0 (e.g. 0.2), found ${config.layout.rl.shares.critic}`,
    });
  }
  if (config.algorithm.params.kl.coef > 0 && config.layout.rl.shares.reference <= 0) {
    problems.push({
      path: 'layout.rl.shares.reference',
      message: `kl.coef is ${config.algorithm.params.kl.coef} so a ReferenceActor is needed; give it a GPU share > 0, or set algorithm.params.kl.coef: 0`,
    });
  }
  for (const msg of def.validateConfig?.(config) ?? []) problems.push({ path: 'algorithm', message: msg });
  return problems;
}

/** A loaded config with where it came from. */
export interface LoadedConfig {
  config: TrainConfig;
  /** Absolute path of the YAML file. */
  file: string;
  /** sha256 of the file's bytes (recorded in checkpoints and reports). */
  sha256: string;
}

/**
 * Reads, validates and cross-checks a training config: loads the algorithm
 * plug-ins it lists (relative to the config file) and checks the algorithm fits.
 */
export async function loadTrainConfig(file: string): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const config = parseTrainConfig(text, abs);
  try {
    await loadAlgorithmPlugins(config.algorithm.plugins, path.dirname(abs));
  } catch (err) {
    throw new ConfigError(abs, [{ path: 'algorithm.plugins', message: (err as Error).message }]);
  }
  const problems = checkAlgorithmFit(config);
  if (problems.length) throw new ConfigError(abs, problems);
  return { config, file: abs, sha256: createHash('sha256').update(text).digest('hex') };
}
