// An experiment file (`cohort experiment EXP.yaml`): a base training config,
// named arms (each a set of config overrides) and seeds. Every arm × seed is
// one training run; this file owns the format and its validation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/config-error.js';
import { configSha256, loadTrainConfig, type LoadedConfig } from '../config/load-config.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const nameField = (what: string) => z.string().regex(NAME, `${what} must be letters, digits, ".", "_" or "-" (it names a directory)`);

/** Config overrides: dotted key → YAML value (as `cohort train --set KEY=VALUE`). */
const overridesSchema = z.record(z.string().min(1), z.unknown()).default({});

export const experimentSchema = z.strictObject({
  /** Directory-safe name: outputs go to `<outDir>/<name>/`. */
  name: nameField('the experiment name'),
  /** The base training config, relative to the experiment file. */
  base: z.string().min(1),
  /** Seeds every arm runs with (run.seed); at least 1, no repeats. */
  seeds: z
    .array(z.number().int().nonnegative())
    .min(1)
    .refine((s) => new Set(s).size === s.length, { message: 'seeds repeat; give each seed once' }),
  /** Overrides applied to every arm before its own. */
  set: overridesSchema,
  /** Parent of the experiment directory (relative to the working directory). */
  outDir: z.string().min(1).default('runs'),
  arms: z
    .array(
      z.strictObject({
        name: nameField('an arm name'),
        /** What the arm tests, for the results table. */
        description: z.string().default(''),
        set: overridesSchema,
        /**
         * This arm is the control of the named (earlier) arm: per seed, that arm's starting
         * policy and overrides (then this arm's), given more warm-start SFT for the RL phase's
         * wall time of that arm's run instead of RL, then the same evaluation.
         */
        control: nameField('control').optional(),
      }),
    )
    .min(1)
    .refine((a) => new Set(a.map((x) => x.name)).size === a.length, { message: 'arm names repeat; give each arm its own name' })
    .superRefine((arms, ctx) => {
      arms.forEach((a, i) => {
        if (a.control === undefined) return;
        const j = arms.findIndex((b) => b.name === a.control);
        const problem =
          j < 0 ? `names no arm (arms: ${arms.map((b) => b.name).join(', ')})` : j >= i ? 'must name an arm listed before it (its runs give the budget)' : arms[j].control !== undefined ? `names "${a.control}", itself a control arm` : '';
        if (problem) ctx.addIssue({ code: 'custom', path: [i, 'control'], message: `control "${a.control}" ${problem}` });
      });
    }),
  /**
   * Paired comparisons for the results: per seed, arm `a`'s test EM after training minus arm
   * `b`'s (the same seed's runs), summarized over seeds; `finding` says what `a` > `b` would show.
   */
  compare: z.array(z.strictObject({ a: nameField('compare.a'), b: nameField('compare.b'), finding: z.string().default('') })).default([]),
}).superRefine((spec, ctx) => {
  const names = spec.arms.map((a) => a.name);
  spec.compare.forEach((c, i) => {
    for (const k of ['a', 'b'] as const) {
      if (!names.includes(c[k])) ctx.addIssue({ code: 'custom', path: ['compare', i, k], message: `"${c[k]}" names no arm (arms: ${names.join(', ')})` });
    }
    if (c.a === c.b) ctx.addIssue({ code: 'custom', path: ['compare', i], message: `compares arm "${c.a}" with itself; name two arms` });
  });
});
export type ExperimentSpec = z.output<typeof experimentSchema>;

/** A bad experiment file: each problem names the arm (when it has one) and the key. */
export class ExperimentError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
    this.name = 'ExperimentError';
  }
}

/** One arm × seed: its validated training config. */
export interface Trial {
  readonly arm: string;
  readonly seed: number;
  /** `<arm>-s<seed>`: the run's name and directory under the experiment's. */
  readonly name: string;
  readonly runDir: string;
  readonly loaded: LoadedConfig;
  /**
   * What makes a finished trial the same trial: sha256 of the base config's bytes and the
   * overrides other than where the runs go (run.outDir), so a moved runs directory is still read back.
   */
  readonly identity: string;
  /** Set for a control trial: the trial (same seed) of the arm it controls. */
  readonly controlOf?: string;
}

/** A loaded experiment: the spec, its directory and every trial, validated. */
export interface Experiment {
  readonly file: string;
  readonly spec: ExperimentSpec;
  readonly baseFile: string;
  /** `<outDir>/<name>`, absolute. */
  readonly dir: string;
  readonly trials: readonly Trial[];
}

/** `key=value` strings for `loadTrainConfig` (a JSON value is YAML). */
function toOverrides(set: Record<string, unknown>): string[] {
  return Object.entries(set).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
}

/**
 * Reads and validates an experiment file: its own shape, then every arm × seed
 * as a training config (the base with the common and the arm's overrides, the
 * seed, and run name/outDir set by the experiment). Errors name the arm and key.
 */
export async function loadExperiment(file: string, cwd = process.cwd()): Promise<Experiment> {
  const abs = path.resolve(cwd, file);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(abs, 'utf8'));
  } catch (err) {
    throw new ExperimentError(abs, [`cannot read it as YAML: ${(err as Error).message}`]);
  }
  const parsed = experimentSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ExperimentError(
      abs,
      parsed.error.issues.map((i) => {
        const p = i.path;
        const arm = p[0] === 'arms' && typeof p[1] === 'number' ? (raw as { arms?: Array<{ name?: unknown }> }).arms?.[p[1]]?.name : undefined;
        const where = arm !== undefined ? `arm "${String(arm)}": ${p.slice(2).join('.') || '(arm)'}` : p.join('.') || '(top level)';
        return `${where}: ${i.message}`;
      }),
    );
  }
  const spec = parsed.data;
  const baseFile = path.resolve(path.dirname(abs), spec.base);
  const dir = path.resolve(cwd, spec.outDir, spec.name);
  const trials: Trial[] = [];
  const problems: string[] = [];
  for (const arm of spec.arms) {
    for (const seed of spec.seeds) {
      const name = `${arm.name}-s${seed}`;
      const controlled = arm.control ? spec.arms.find((a) => a.name === arm.control) : undefined;
      const sets = [...toOverrides(spec.set), ...toOverrides(controlled?.set ?? {}), ...toOverrides(arm.set), `run.seed=${seed}`, `run.name=${name}`];
      try {
        const loaded = await loadTrainConfig(baseFile, { overrides: [...sets, `run.outDir=${JSON.stringify(dir)}`] });
        const identity = configSha256(readFileSync(baseFile, 'utf8'), sets);
        trials.push({ arm: arm.name, seed, name, runDir: path.join(dir, name), loaded, identity, ...(controlled ? { controlOf: `${controlled.name}-s${seed}` } : {}) });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const p of err.problems) problems.push(`arm "${arm.name}": ${p.path || '(config)'}: ${p.message}${p.override ? ` (from ${p.override.replace(/^--set /, 'set ')})` : ''}`);
        break; // one seed's problems are every seed's
      }
    }
  }
  if (problems.length) throw new ExperimentError(abs, [...new Set(problems)]);
  return { file: abs, spec, baseFile, dir, trials };
}
