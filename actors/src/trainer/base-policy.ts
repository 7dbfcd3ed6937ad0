import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { evalSplitResultSchema, summarizeEval, type EvalSplitResult } from '../metrics/report.js';

/** The files of a base-policy directory, each hashed in its manifest. */
export const BASE_POLICY_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'] as const;

/** `MANIFEST.json` beside a shipped base policy: how it was made and what it holds. */
export const basePolicyManifestSchema = z.strictObject({
  kind: z.literal('cohort-base-policy'),
  /** The exact command that made it (run from the repository root). */
  command: z.string(),
  config: z.string(),
  /** sha256 of the config file and its --set overrides (as `cohort train` records it). */
  configSha256: z.string(),
  overrides: z.array(z.string()),
  seed: z.number().int().nonnegative(),
  warmStart: z.strictObject({ sftSteps: z.number().int(), lr: z.number(), batchSize: z.number().int(), demoShare: z.number() }),
  /** sha256 of each file of the directory. */
  sha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  /** Greedy EM of the policy on the DEV questions (mean over the eval splits; settings are chosen on dev, never test). */
  dev_em: z.number(),
  dev: z.array(evalSplitResultSchema),
  /** Seconds per stage (world, tokenizer, warm start, dev evaluation). */
  stages: z.record(z.string(), z.number().nonnegative()),
  made_at: z.string(),
});
export type BasePolicyManifest = z.output<typeof basePolicyManifestSchema>;

/** sha256 of a file, hex. */
export function fileSha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Writes a base-policy directory: the warm-started policy's `config.json` and
 * `model.safetensors`, its `tokenizer.json` and `tokenizer_config.json` (bos, eos, pad), and `MANIFEST.json` (command,
 * config hash, the sha256 of each file, the dev EM it reached). Replaces `out`
 * whole (written beside it, then renamed).
 */
export function writeBasePolicy(
  out: string,
  src: { policyDir: string; tokenizerPath: string; dev: readonly EvalSplitResult[]; stages: Record<string, number> },
  made: { command: string; config: string; configSha256: string; overrides: readonly string[]; seed: number; warmStart: BasePolicyManifest['warmStart'] },
): BasePolicyManifest {
  const tmp = `${out.replace(/\/+$/, '')}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  copyFileSync(path.join(src.policyDir, 'config.json'), path.join(tmp, 'config.json'));
  copyFileSync(path.join(src.policyDir, 'model.safetensors'), path.join(tmp, 'model.safetensors'));
  copyFileSync(src.tokenizerPath, path.join(tmp, 'tokenizer.json'));
  // bos/eos/pad live in tokenizer_config.json beside it: without them prompts lose their bos and generation its eos
  const tcfg = path.join(path.dirname(src.tokenizerPath), 'tokenizer_config.json');
  if (!existsSync(tcfg)) throw new Error(`${tcfg} is missing: the policy tokenizer's special tokens (bos, eos, pad) are defined there`);
  copyFileSync(tcfg, path.join(tmp, 'tokenizer_config.json'));
  const manifest = basePolicyManifestSchema.parse({
    kind: 'cohort-base-policy',
    ...made,
    overrides: [...made.overrides],
    sha256: Object.fromEntries(BASE_POLICY_FILES.map((f) => [f, fileSha256(path.join(tmp, f))])),
    dev_em: summarizeEval(src.dev).emAverage,
    dev: [...src.dev],
    stages: src.stages,
    made_at: new Date().toISOString(),
  });
  writeFileSync(path.join(tmp, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  renameSync(tmp, out);
  return manifest;
}

/** Checks a base-policy directory against its manifest: every file there, with the recorded sha256. Returns the manifest. */
export function verifyBasePolicy(dir: string): BasePolicyManifest {
  const file = path.join(dir, 'MANIFEST.json');
  if (!existsSync(file)) throw new Error(`${dir} has no MANIFEST.json; a base policy comes from \`cohort warm-start CONFIG --out DIR\``);
  const m = basePolicyManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  for (const f of BASE_POLICY_FILES) {
    const p = path.join(dir, f);
    if (!existsSync(p)) throw new Error(`${dir} lacks ${f} (MANIFEST.json lists it); remake it with: ${m.command}`);
    const h = fileSha256(p);
    if (h !== m.sha256[f]) throw new Error(`${p}: sha256 ${h} is not the manifest's ${m.sha256[f]}; the file changed since \`${m.command}\` made it`);
  }
  return m;
}
