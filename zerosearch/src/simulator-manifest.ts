import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { SimulatorEvalReport } from './fidelity.js';
import type { TuneReport } from './local-simulator.js';

/** The files of a tuned simulator directory that MANIFEST.json hashes. */
export const SIMULATOR_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'tune.json'] as const;

const MANIFEST = 'MANIFEST.json';

/** MANIFEST.json of a shipped simulator: how it was made and what it measured. */
export const SimulatorManifestSchema = z.object({
  format: z.literal('cohort-simulator/1'),
  /** The exact command that made the directory (run from the repository root). */
  command: z.string().min(1),
  /** Where the pairs came from (`{config}`, `{data}` or `{seed, size}`), as the command named it. */
  source: z.record(z.string(), z.unknown()),
  /** `simulatorConfigHash` of the tuning options and the pairs. */
  config_hash: z.string().regex(/^[0-9a-f]{64}$/),
  pairs: z.object({ train: z.number().int().nonnegative(), eval: z.number().int().nonnegative() }),
  /** sha256 of each file. */
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  /** `cohort sim eval` figures on the held-out pairs, with the sampling used; null when skipped. */
  fidelity: z.record(z.string(), z.unknown()).nullable(),
  tuning: z.object({ steps: z.number(), seconds: z.number(), first_loss: z.number(), last_loss: z.number(), parameters: z.number(), load_average_1m: z.number() }),
});
export type SimulatorManifest = z.infer<typeof SimulatorManifestSchema>;

const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Writes MANIFEST.json into a tuned simulator directory; returns it. */
export function writeSimulatorManifest(
  dir: string,
  m: { command: string; source: Record<string, unknown>; report: TuneReport; pairs: { train: number; eval: number }; fidelity: SimulatorEvalReport | null },
): SimulatorManifest {
  const manifest: SimulatorManifest = {
    format: 'cohort-simulator/1',
    command: m.command,
    source: m.source,
    config_hash: m.report.configHash,
    pairs: m.pairs,
    files: Object.fromEntries(SIMULATOR_FILES.map((f) => [f, fileHash(join(dir, f))])),
    fidelity: m.fidelity ? { ...m.fidelity } : null,
    tuning: { steps: m.report.steps, seconds: m.report.seconds, first_loss: m.report.firstLoss, last_loss: m.report.lastLoss, parameters: m.report.parameters, load_average_1m: loadavg()[0] },
  };
  writeFileSync(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads a directory's MANIFEST.json (null when it has none); throws on a malformed one. */
export function readSimulatorManifest(dir: string): SimulatorManifest | null {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return null;
  const r = SimulatorManifestSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) throw new Error(`${path}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The files whose sha256 differs from MANIFEST.json's (or that are missing); empty when all match. */
export function verifySimulatorManifest(dir: string): string[] {
  const m = readSimulatorManifest(dir);
  if (!m) throw new Error(`${dir} has no ${MANIFEST}; a shipped simulator directory comes from \`cohort sim tune --out ${dir}\``);
  return Object.entries(m.files)
    .filter(([f, h]) => !existsSync(join(dir, f)) || fileHash(join(dir, f)) !== h)
    .map(([f]) => f);
}
