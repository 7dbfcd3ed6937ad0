import { accessSync, constants, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeSafetensors, encodeSafetensors, type SafeTensorInput } from '@cohort/engine';
import { actorContext, inActor, pidAlive, type ActorHandle } from '@cohort/runtime';

/** How weights reach one rollout: `shm` (a file in shared memory, same machine) or `bulk` (the data plane). */
export type WeightTransport = 'shm' | 'bulk';

/** What a publisher asks of a rollout (RolloutActor; the weight-sync bench's sink). */
export interface WeightReceiver {
  setWeights(version: number, params: Map<string, Float32Array>): number;
  loadWeightsFile(version: number, file: string): number;
}

/** A rollout to publish to, with the node it runs on (from the actor directory). */
export interface PublishTarget {
  handle: ActorHandle<WeightReceiver>;
  nodeId: string | undefined;
}

/** What one publish did. */
export interface PublishResult {
  version: number;
  /** Rollouts that loaded the shared-memory file / got the weights over the bulk path. */
  shm: number;
  bulk: number;
  /** Bytes of the published weights. */
  bytes: number;
  seconds: number;
  /** Rollouts that did not take the version (their worker died meanwhile; a restarted rollout is brought to the version before it generates), with the reason. */
  failed: string[];
}

/** /dev/shm when it exists and is writable, else the OS temp directory. */
export function sharedMemoryDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

const FILE_RE = /^cohort-weights-(\d+)-.*\.safetensors(\.tmp-\d+)?$/;

/** Removes weight files left in `dir` by publisher processes that no longer run (killed before they could clean up). */
export function sweepStaleWeightFiles(dir = sharedMemoryDir()): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = FILE_RE.exec(n);
    if (!m || pidAlive(Number(m[1]))) continue;
    rmSync(path.join(dir, n), { force: true });
    removed.push(path.join(dir, n));
  }
  return removed;
}

/** Weights as safetensors (flat F32 tensors by graph name) with the version in the metadata. */
export function encodeWeights(params: Map<string, Float32Array>, version: number): Uint8Array {
  const t = new Map<string, SafeTensorInput>();
  for (const [k, v] of params) t.set(k, { shape: [v.length], data: v });
  return encodeSafetensors(t, { version: String(version) });
}

/** Inverse of `encodeWeights`; checks the version. */
export function decodeWeights(bytes: Uint8Array, version: number): Map<string, Float32Array> {
  const f = decodeSafetensors(bytes);
  if (f.metadata.version !== String(version)) throw new Error(`weights file holds version ${f.metadata.version}, expected ${version}`);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of f.tensors) out.set(k, t.data as Float32Array);
  return out;
}

/**
 * Gives the memory of weights this actor received over the bulk path back to
 * its runtime once they were copied into a model (`loadParams`), so the next
 * sync is read into the same pages instead of fresh ones (whose page faults
 * cost more than the copy at large sizes). Arrays that did not arrive over the
 * bulk path (small tensors inline, a decoded shared-memory file) are left
 * alone. Returns how many arrays were given back. Do not touch `params` after.
 */
export function releaseReceivedWeights(params: Map<string, Float32Array>): number {
  if (!inActor()) return 0;
  const rt = actorContext().runtime;
  let n = 0;
  for (const v of params.values()) if (rt.release(v)) n++;
  return n;
}

/**
 * Publishes versioned policy weights from a learner to rollouts: those on the
 * learner's node read one safetensors file written to shared memory; the rest
 * get the tensors over the bulk path, learner to rollout (never through the
 * driver). Older versions' files are removed once a newer one is loaded, the
 * last one when the publisher closes or its process exits; files of killed
 * publishers are swept by the next publisher on the machine. The bytes of the
 * last version are kept so a restarted rollout can be brought back to it.
 */
export class WeightPublisher {
  private readonly dir = sharedMemoryDir();
  private files: string[] = [];
  private last: { version: number; bytes: Uint8Array } | undefined;
  private readonly onExit = () => this.close();

  constructor(
    /** Unique per publisher (e.g. the actor id): names its files. */
    private readonly owner: string,
    private readonly nodeId: string | undefined,
  ) {
    process.once('exit', this.onExit);
    sweepStaleWeightFiles(this.dir);
  }

  /** Where version `v` of this publisher is written. */
  fileFor(version: number): string {
    return path.join(this.dir, `cohort-weights-${process.pid}-${this.owner.replace(/[^\w.-]/g, '_')}-v${version}.safetensors`);
  }

  /** Which transport a rollout on `nodeId` gets (`force` overrides). */
  transportFor(nodeId: string | undefined, force?: WeightTransport): WeightTransport {
    if (force) return force;
    return nodeId !== undefined && nodeId === this.nodeId ? 'shm' : 'bulk';
  }

  async publish(version: number, params: Map<string, Float32Array>, targets: PublishTarget[], force?: WeightTransport): Promise<PublishResult> {
    const t0 = performance.now();
    const bytes = encodeWeights(params, version);
    this.last = { version, bytes };
    const plan = targets.map((t) => ({ t, how: this.transportFor(t.nodeId, force) }));
    let file: string | undefined;
    if (plan.some((p) => p.how === 'shm')) {
      file = this.fileFor(version);
      const tmp = `${file}.tmp-${process.pid}`;
      writeFileSync(tmp, bytes);
      renameSync(tmp, file);
      if (!this.files.includes(file)) this.files.push(file);
    }
    const settled = await Promise.allSettled(plan.map((p) => (p.how === 'shm' ? p.t.handle.loadWeightsFile(version, file!) : p.t.handle.setWeights(version, params))));
    const failed: string[] = [];
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      // Only a rollout that died may miss a version (it is caught up before it generates again); anything else is a real error.
      if ((r.reason as Error)?.name !== 'ActorDiedError') throw r.reason;
      failed.push(`${plan[i].t.handle.$name ?? plan[i].t.handle.$id}: ${(r.reason as Error).message}`);
    });
    // Every live rollout has loaded this version: older files are no longer needed.
    for (const f of this.files.filter((x) => x !== file)) rmSync(f, { force: true });
    this.files = file ? [file] : [];
    return { version, shm: plan.filter((p) => p.how === 'shm').length, bulk: plan.filter((p) => p.how === 'bulk').length, bytes: bytes.byteLength, seconds: (performance.now() - t0) / 1000, failed };
  }

  /** The weights of the last published version (for a rollout that restarted); throws for any other version. */
  published(version: number): Map<string, Float32Array> {
    if (!this.last || this.last.version !== version) throw new Error(`weights of version ${version} were not the last published (last: ${this.last?.version ?? 'none'})`);
    return decodeWeights(this.last.bytes, version);
  }

  /** The version published last (undefined before the first publish). */
  get lastVersion(): number | undefined {
    return this.last?.version;
  }

  /** Files currently in shared memory. */
  get liveFiles(): readonly string[] {
    return this.files;
  }

  /** Removes the published files. */
  close(): void {
    for (const f of this.files) rmSync(f, { force: true });
    this.files = [];
  }
}
