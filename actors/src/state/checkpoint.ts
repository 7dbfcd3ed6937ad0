import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { dataLoaderStateSchema } from './data-loader.js';
import { rngStateSchema } from '@cohort/engine/rng';

/** Current manifest format version. */
export const CHECKPOINT_FORMAT_VERSION = 1;
const MANIFEST = 'manifest.json';
const LATEST = 'latest';

const fileEntrySchema = z.strictObject({
  /** File name inside the checkpoint directory (a `.safetensors` file). */
  name: z.string().regex(/^[A-Za-z0-9._-]+\.safetensors$/, 'a plain file name ending in .safetensors'),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** The manifest of one checkpoint directory. */
export const checkpointManifestSchema = z.strictObject({
  format: z.literal('cohort-checkpoint'),
  version: z.literal(CHECKPOINT_FORMAT_VERSION),
  /** RL steps completed. */
  step: z.number().int().nonnegative(),
  /** Policy weight version (published to rollouts). */
  policyVersion: z.number().int().nonnegative(),
  /** Curriculum step index used for the next step's noise probability. */
  curriculumStep: z.number().int().nonnegative(),
  createdAt: z.string(),
  /** sha256 of the training config file, to catch resuming under a different config. */
  configSha256: z.string().optional(),
  algorithm: z.string().min(1),
  /** Named PRNG states (e.g. `trainer`, `sampling`, `curriculum`). */
  rng: z.record(z.string(), rngStateSchema),
  dataLoader: dataLoaderStateSchema,
  /** Role → file. `policy` and `optimizer` are required; `critic`, `criticOptimizer` for PPO. */
  files: z.record(z.string(), fileEntrySchema).refine((f) => 'policy' in f && 'optimizer' in f, 'files must include "policy" and "optimizer"'),
  /** Free-form small extras (e.g. warm-start hash). */
  extra: z.record(z.string(), z.unknown()).default({}),
});
export type CheckpointManifest = z.output<typeof checkpointManifestSchema>;

/** Thrown for a missing, malformed or corrupted checkpoint; names the file and the fix. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** What to save: the manifest's state plus role → safetensors bytes. */
export interface CheckpointContents {
  step: number;
  policyVersion: number;
  curriculumStep: number;
  configSha256?: string;
  algorithm: string;
  rng: CheckpointManifest['rng'];
  dataLoader: CheckpointManifest['dataLoader'];
  /** Role → safetensors bytes (produced by the engine's serialiser). */
  files: Record<string, Uint8Array>;
  extra?: Record<string, unknown>;
}

/** Directory name of the checkpoint of `step`: `step-000050`. */
export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const roleFileName = (role: string) => `${role.replace(/[^A-Za-z0-9_-]/g, '_')}.safetensors`;

/**
 * Writes a checkpoint under `root/step-NNNNNN/` atomically (a temp directory
 * renamed into place), points `root/latest` at it, and, with `keep > 0`,
 * removes all but the newest `keep` checkpoints. Returns its directory.
 */
export function writeCheckpoint(root: string, contents: CheckpointContents, opts: { keep?: number } = {}): string {
  mkdirSync(root, { recursive: true });
  const dirName = checkpointDirName(contents.step);
  const final = path.join(root, dirName);
  const tmp = path.join(root, `.${dirName}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const files: CheckpointManifest['files'] = {};
    for (const [role, bytes] of Object.entries(contents.files)) {
      const name = roleFileName(role);
      writeFileSync(path.join(tmp, name), bytes);
      files[role] = { name, bytes: bytes.byteLength, sha256: sha256(bytes) };
    }
    const manifest = checkpointManifestSchema.parse({
      format: 'cohort-checkpoint',
      version: CHECKPOINT_FORMAT_VERSION,
      step: contents.step,
      policyVersion: contents.policyVersion,
      curriculumStep: contents.curriculumStep,
      createdAt: new Date().toISOString(),
      configSha256: contents.configSha256,
      algorithm: contents.algorithm,
      rng: contents.rng,
      dataLoader: contents.dataLoader,
      files,
      extra: contents.extra ?? {},
    });
    writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (err instanceof z.ZodError) throw new CheckpointError(`checkpoint for step ${contents.step}: ${err.issues[0].path.join('.')}: ${err.issues[0].message}`);
    throw err;
  }
  const latestTmp = path.join(root, `.${LATEST}.tmp-${process.pid}`);
  writeFileSync(latestTmp, dirName + '\n');
  renameSync(latestTmp, path.join(root, LATEST));
  const keep = opts.keep ?? 0;
  if (keep > 0) {
    for (const old of listCheckpoints(root).slice(0, -keep)) rmSync(path.join(root, old), { recursive: true, force: true });
  }
  return final;
}

/** Checkpoint directory names under `root`, oldest first. */
export function listCheckpoints(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^step-\d{6,}$/.test(n) && existsSync(path.join(root, n, MANIFEST)))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
}

/** The newest checkpoint directory under `root` (following `latest`), or null when there is none. */
export function findLatestCheckpoint(root: string): string | null {
  const pointer = path.join(root, LATEST);
  if (existsSync(pointer)) {
    const name = readFileSync(pointer, 'utf8').trim();
    if (/^step-\d{6,}$/.test(name) && existsSync(path.join(root, name, MANIFEST))) return path.join(root, name);
  }
  const all = listCheckpoints(root);
  return all.length ? path.join(root, all[all.length - 1]) : null;
}

/** A checkpoint opened for reading. */
export interface OpenedCheckpoint {
  dir: string;
  manifest: CheckpointManifest;
  /** The bytes of a role's file, checked against the manifest's size and sha256. */
  readFile(role: string): Uint8Array;
}

/** Opens and validates a checkpoint directory's manifest (and that its files exist with the right sizes). */
export function readCheckpoint(dir: string, opts: { configSha256?: string } = {}): OpenedCheckpoint {
  const mpath = path.join(dir, MANIFEST);
  if (!existsSync(mpath)) throw new CheckpointError(`no ${MANIFEST} in ${dir}; not a checkpoint directory (expected ${'<root>/step-NNNNNN/'})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(mpath, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${mpath} is not valid JSON (${(err as Error).message}); the checkpoint is corrupted, use an older one`);
  }
  const r = checkpointManifestSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CheckpointError(`${mpath}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const manifest = r.data;
  if (opts.configSha256 && manifest.configSha256 && opts.configSha256 !== manifest.configSha256) {
    throw new CheckpointError(`${dir} was written under a different config (sha256 ${manifest.configSha256.slice(0, 12)}…, now ${opts.configSha256.slice(0, 12)}…); resume with the original config or start a new run name`);
  }
  for (const [role, f] of Object.entries(manifest.files)) {
    const p = path.join(dir, f.name);
    if (!existsSync(p)) throw new CheckpointError(`${dir}: the ${role} file ${f.name} is missing`);
  }
  return {
    dir,
    manifest,
    readFile(role: string): Uint8Array {
      const f = manifest.files[role];
      if (!f) throw new CheckpointError(`${dir}: no "${role}" file; it has ${Object.keys(manifest.files).join(', ')}`);
      const bytes = readFileSync(path.join(dir, f.name));
      if (bytes.byteLength !== f.bytes || sha256(bytes) !== f.sha256) {
        throw new CheckpointError(`${dir}/${f.name}: size or sha256 does not match the manifest; the file is corrupted, use an older checkpoint`);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
