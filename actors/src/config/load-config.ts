import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { responseTokenBudget } from '../algorithms/params.js';
import { algorithmPolicyLoss, getAlgorithm, listAlgorithms, loadAlgorithmPlugins, paramsSchemaOf, resolvePluginSpec } from '../algorithms/registry.js';
import type { AlgorithmDefinition } from '../algorithms/types.js';
import '../algorithms/builtins.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { formatPath, issuesToProblems } from './format-issues.js';
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

/** `a.b[2].c` or `a.b.2.c` as keys (numbers for list items). */
const splitPath = (path: string) => path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '').map((k) => (/^\d+$/.test(k) ? Number(k) : k));

/** One `--set key=value` override: a dotted key path and a YAML value. */
export interface ConfigOverride {
  /** As given, for messages (`run.totalSteps=2`). */
  text: string;
  path: (string | number)[];
  value: unknown;
}

/**
 * Parses `key=value` (veRL-style overrides): the key is a dotted path (`algorithm.params.kl.coef`,
 * list items as `eval.splits.0.maxQuestions` or `eval.splits[0].maxQuestions`), the value is
 * YAML (`2`, `gspo`, `null`, `[a, b]`, `{coef: 0}`).
 */
export function parseOverride(text: string): ConfigOverride {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (eq < 0 || !key) throw new Error(`--set ${text}: expected KEY=VALUE, e.g. --set run.totalSteps=2`);
  const path = splitPath(key);
  if (path.length === 0 || path.some((k) => typeof k === 'string' && !/^[A-Za-z_][\w-]*$/.test(k))) {
    throw new Error(`--set ${text}: "${key}" is not a key path; use dotted keys such as algorithm.params.kl.coef`);
  }
  const valueText = text.slice(eq + 1);
  if (valueText.trim() === '') throw new Error(`--set ${text}: no value after "="; give one (YAML: 2, gspo, null, [a, b], {coef: 0})`);
  const vdoc = parseDocument(valueText);
  if (vdoc.errors.length) throw new Error(`--set ${text}: the value is not valid YAML: ${vdoc.errors[0].message.split('\n')[0]}`);
  return { text, path, value: vdoc.toJS() };
}

const pathStartsWith = (p: ReadonlyArray<string | number>, prefix: ReadonlyArray<string | number>) => prefix.length <= p.length && prefix.every((k, i) => String(p[i]) === String(k));

/** A YAML document with its overrides applied, and where each key came from. */
class ConfigSource {
  readonly lc = new LineCounter();
  readonly doc: ReturnType<typeof parseDocument>;
  readonly raw: Record<string, unknown>;

  constructor(
    text: string,
    readonly file: string,
    readonly overrides: readonly ConfigOverride[],
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: true, uniqueKeys: true });
    if (this.doc.errors.length) {
      throw new ConfigError(
        file,
        this.doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: `YAML syntax: ${e.message.split('\n')[0]}` })),
      );
    }
    if (this.doc.contents === null) this.doc.contents = this.doc.createNode({}) as never;
    const bad: ConfigProblem[] = [];
    for (const o of overrides) {
      try {
        this.doc.setIn(o.path, this.doc.createNode(o.value));
      } catch (err) {
        bad.push({ path: formatPath(o.path), override: `--set ${o.text}`, message: `cannot set it: ${(err as Error).message} (a key above it holds a value, not a mapping)` });
      }
    }
    if (bad.length) throw new ConfigError(file, bad);
    const raw: unknown = this.doc.toJS();
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(file, [{ path: '', message: 'expected a mapping of sections (run, world, policy, ...), found ' + (Array.isArray(raw) ? 'a list' : String(raw)) }]);
    }
    this.raw = raw as Record<string, unknown>;
  }

  /** Problems from zod issues of `schema` applied at `base` (a key path), with lines or the override they came from. */
  problems(schema: AnySchema, value: unknown, issues: ReadonlyArray<z.core.$ZodIssue>, base: ReadonlyArray<string | number> = []): ConfigProblem[] {
    const problems = issuesToProblems(issues, value, (p) => {
      const sub = schemaAt(schema, value, p);
      const shape = sub ? defOf(sub).shape : undefined;
      return shape ? Object.keys(shape) : [];
    });
    for (const pr of problems) {
      const keys = [...base, ...splitPath(pr.path)];
      pr.path = formatPath(keys);
      this.locate(pr, keys);
    }
    return problems;
  }

  /** Sets the line of a problem at `keys`, or the override its value came from. */
  locate(pr: ConfigProblem, keys: ReadonlyArray<string | number>): ConfigProblem {
    const o = [...this.overrides].reverse().find((x) => pathStartsWith(keys, x.path) || (keys.length > 0 && pathStartsWith(x.path, keys) && typeof this.at(keys) !== 'object'));
    if (o) pr.override = `--set ${o.text}`;
    else pr.line = lineOf(this.doc, this.lc, keys);
    return pr;
  }

  private at(keys: ReadonlyArray<string | number>): unknown {
    let cur: unknown = this.raw;
    for (const k of keys) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[k] : undefined;
    return cur;
  }

  /**
   * Schema checks of everything but the algorithm's parameters. When they fail and the
   * algorithm is already registered, its parameters' problems are reported with the rest.
   */
  parseBase(): z.output<typeof trainConfigSchema> {
    const result = trainConfigSchema.safeParse(this.raw, { reportInput: true });
    if (result.success) return result.data;
    const problems = this.problems(trainConfigSchema, this.raw, result.error.issues);
    const alg = this.raw.algorithm as { name?: unknown; params?: unknown } | undefined;
    const name = alg?.name ?? 'reinforce';
    if (typeof name === 'string' && listAlgorithms().some((a) => a.name === name) && !problems.some((p) => p.path.startsWith('algorithm.params'))) {
      problems.push(...this.paramProblems(getAlgorithm(name), alg?.params ?? {}));
    }
    throw new ConfigError(this.file, problems);
  }

  private paramProblems(def: AlgorithmDefinition, rawParams: unknown): ConfigProblem[] {
    const schema = paramsSchemaOf(def);
    const r = schema.safeParse(rawParams, { reportInput: true });
    if (r.success) return [];
    const problems = this.problems(schema, rawParams, r.error.issues, ['algorithm', 'params']);
    for (const p of problems) p.message += ` (algorithm "${def.name}"; \`cohort algorithms\` lists each algorithm's parameters)`;
    return problems;
  }

  /** `algorithm.params` checked by the chosen algorithm's own schema (it must be registered). */
  resolveAlgorithm(base: z.output<typeof trainConfigSchema>): TrainConfig {
    let def;
    try {
      def = getAlgorithm(base.algorithm.name);
    } catch (err) {
      throw new ConfigError(this.file, [this.locate({ path: 'algorithm.name', message: (err as Error).message }, ['algorithm', 'name'])]);
    }
    const problems = this.paramProblems(def, base.algorithm.params);
    if (problems.length) throw new ConfigError(this.file, problems);
    return { ...base, algorithm: { ...base.algorithm, params: paramsSchemaOf(def).parse(base.algorithm.params) } };
  }
}

/**
 * Parses and validates a training config from YAML text, with optional `--set` overrides
 * applied first, and `algorithm.params` checked by the chosen algorithm's schema (built-ins
 * are registered; plug-ins must be loaded first, as {@link loadTrainConfig} does). Throws a
 * ConfigError listing every problem with its key path, line (or override), expected and found value.
 */
export function parseTrainConfig(text: string, file = '<inline>', overrides: readonly ConfigOverride[] = []): TrainConfig {
  const src = new ConfigSource(text, file, overrides);
  return src.resolveAlgorithm(src.parseBase());
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
  // The learners build this loss; a loss that cannot be built fails here, not at the first step.
  try {
    algorithmPolicyLoss(def, config.algorithm.params, lossSettings(config));
  } catch (err) {
    problems.push({ path: 'algorithm', message: (err as Error).message });
  }
  return problems;
}

/** What the learners' loss needs beyond the algorithm's parameters: the response token budget and the TIS cap (async importance mode). */
export function lossSettings(config: Pick<TrainConfig, 'rollout' | 'mode'>): { maxResponseTokens: number; tisCap: number | null } {
  const m = config.mode;
  return { maxResponseTokens: responseTokenBudget(config.rollout), tisCap: m.kind === 'async' && m.correction === 'importance' ? m.importanceCap : null };
}

/** A loaded config with where it came from. */
export interface LoadedConfig {
  config: TrainConfig;
  /** Absolute path of the YAML file. */
  file: string;
  /** sha256 of the file's bytes and the overrides (recorded in checkpoints and reports; a resume must match it). */
  sha256: string;
  /** The `--set` overrides applied, as given. */
  overrides: string[];
}

/**
 * Reads, validates and cross-checks a training config: applies `--set` overrides
 * (`key=value`, validated like the file), loads the algorithm plug-ins it lists (paths
 * relative to the config file; the config then holds them as absolute paths, so the learner
 * processes import the same files), checks the algorithm's parameters with its own schema and
 * that the algorithm fits the rest of the config.
 */
export async function loadTrainConfig(file: string, opts: { overrides?: readonly string[] } = {}): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const given = [...(opts.overrides ?? [])];
  const overrides: ConfigOverride[] = [];
  const bad: ConfigProblem[] = [];
  for (const o of given) {
    try {
      overrides.push(parseOverride(o));
    } catch (err) {
      bad.push({ path: o.split('=')[0] ?? '', override: `--set ${o}`, message: (err as Error).message.replace(/^--set [^:]*: /, '') });
    }
  }
  if (bad.length) throw new ConfigError(abs, bad);
  const src = new ConfigSource(text, abs, overrides);
  const base = src.parseBase();
  const baseDir = path.dirname(abs);
  try {
    await loadAlgorithmPlugins(base.algorithm.plugins, baseDir);
  } catch (err) {
    throw new ConfigError(abs, [src.locate({ path: 'algorithm.plugins', message: (err as Error).message }, ['algorithm', 'plugins'])]);
  }
  const config = src.resolveAlgorithm({ ...base, algorithm: { ...base.algorithm, plugins: base.algorithm.plugins.map((p) => resolvePluginSpec(p, baseDir)) } });
  const problems = checkAlgorithmFit(config);
  if (problems.length) throw new ConfigError(abs, problems);
  return { config, file: abs, sha256: configSha256(text, given), overrides: given };
}

/** `LoadedConfig.sha256`: of a config file's text and the `--set` overrides applied to it, in order. */
export function configSha256(text: string, overrides: readonly string[]): string {
  const hash = createHash('sha256').update(text);
  for (const o of overrides) hash.update(`\n--set ${o}`);
  return hash.digest('hex');
}
