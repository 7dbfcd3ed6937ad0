import { z } from 'zod';
import { algorithmPolicyLoss, listAlgorithms, paramsSchemaOf } from './registry.js';
import type { AlgorithmDefinition } from './types.js';

/** One parameter of an algorithm, flattened (`kl.coef`). */
export interface ParamInfo {
  key: string;
  /** JSON-schema style type: number, integer, boolean, string, an enum (`k1|k2|k3`), `object|null`. */
  type: string;
  default?: unknown;
  /** Whether it may be left out without a default (then the algorithm derives it). */
  optional: boolean;
  description?: string;
}

/** What `cohort algorithms` prints for one algorithm: its flags, the loss it compiles, its parameters. */
export type AlgorithmInfo = Pick<AlgorithmDefinition, 'name' | 'description' | 'reference' | 'needsCritic' | 'minSamplesPerPrompt' | 'klInRewardByDefault'> & {
  /** Name of the policy loss it compiles with its default parameters (`ppo-clip`, `gspo`, ...). */
  policyLoss: string;
  params: ParamInfo[];
};

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join('|');
  if (s.enum) return s.enum.map(String).join('|');
  return Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any');
}

function flatten(s: JsonSchema, prefix: string, out: ParamInfo[]): void {
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    const nested = v.properties ? v : v.anyOf?.find((o) => o.properties);
    const info: ParamInfo = { key, type: nested && nested !== v ? typeOf(v) : nested ? 'object' : typeOf(v), optional: v.default === undefined && !(s.required ?? []).includes(k) };
    if (v.default !== undefined) info.default = v.default;
    if (v.description ?? nested?.description) info.description = v.description ?? nested?.description;
    if (nested) {
      if (nested !== v) out.push(info); // a nullable section: null is a value of its own
      flatten(nested, key, out);
    } else out.push(info);
  }
}

function lossName(def: AlgorithmDefinition): string {
  try {
    return algorithmPolicyLoss(def, paramsSchemaOf(def).parse({}), { maxResponseTokens: 1 }).name;
  } catch {
    return 'needs parameters to build';
  }
}

/** An algorithm's listing: its flags and every parameter with type, default and description. */
export function describeAlgorithm(def: AlgorithmDefinition): AlgorithmInfo {
  const params: ParamInfo[] = [];
  flatten(z.toJSONSchema(paramsSchemaOf(def) as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema, '', params);
  return {
    name: def.name,
    description: def.description,
    ...(def.reference ? { reference: def.reference } : {}),
    needsCritic: def.needsCritic,
    minSamplesPerPrompt: def.minSamplesPerPrompt,
    klInRewardByDefault: def.klInRewardByDefault,
    policyLoss: lossName(def),
    params,
  };
}

/** Every registered algorithm, described, sorted by name. */
export function describeAlgorithms(): AlgorithmInfo[] {
  return listAlgorithms().map(describeAlgorithm);
}

/** Plain-text listing of algorithms (one block each). */
export function formatAlgorithms(infos: readonly AlgorithmInfo[]): string {
  const blocks = infos.map((a) => {
    const lines = [`${a.name} — ${a.description}`];
    if (a.reference) lines.push(`  reference: ${a.reference}`);
    lines.push(`  critic: ${a.needsCritic ? 'yes' : 'no'} · samples per prompt ≥ ${a.minSamplesPerPrompt} · KL: ${a.klInRewardByDefault ? 'in the reward' : 'in the loss'} by default · policy loss: ${a.policyLoss}`);
    lines.push('  params (algorithm.params.*):');
    const show = (p: ParamInfo) => (p.default !== undefined ? JSON.stringify(p.default) : p.optional ? '(derived)' : '');
    const kw = Math.max(...a.params.map((p) => p.key.length));
    const dw = Math.max(...a.params.map((p) => show(p).length));
    for (const p of a.params) lines.push(`    ${p.key.padEnd(kw)}  ${show(p).padEnd(dw)}  ${p.type}${p.description ? ` — ${p.description}` : ''}`);
    return lines.join('\n');
  });
  return blocks.join('\n\n') + '\n';
}
