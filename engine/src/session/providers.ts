import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/** Execution providers a session can ask for, in Cohort's names (ONNX Runtime's too). */
export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** Whether the installed onnxruntime-node can run a provider, and if not, why. */
export interface ProviderStatus {
  name: ExecutionProvider;
  available: boolean;
  /** What is missing (unavailable providers only). */
  missing?: string;
}

/** Thrown when a configured provider is not in the installed onnxruntime-node; the message is one line naming it and the fix. */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
}

/** Shared-library file of a non-bundled provider, next to onnxruntime-node's binding. */
const PROVIDER_LIBRARY: Partial<Record<ExecutionProvider, string>> = { cuda: process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so' };

/** The directory of onnxruntime-node's native binding for this platform. */
export function ortBindingDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/**
 * The providers the installed onnxruntime-node can run: the ones its build bundles (cpu, and
 * webgpu on linux-x64 / win / mac), plus CUDA when its provider library was installed next to
 * the binding (onnxruntime-node's install step downloads it; it is not in the npm package).
 * Whether a device is present is another question: a webgpu session on a machine without a GPU
 * adapter fails when it is created.
 */
export function installedProviders(opts: { bindingDir?: string; backends?: { name: string; bundled: boolean }[] } = {}): ProviderStatus[] {
  const backends = opts.backends ?? ort.listSupportedBackends();
  const dir = opts.bindingDir ?? ortBindingDir();
  return EXECUTION_PROVIDERS.map((name): ProviderStatus => {
    const b = backends.find((x) => x.name === name);
    if (!b) return { name, available: false, missing: `this onnxruntime-node build (${process.platform}/${process.arch}) has no '${name}' provider` };
    if (b.bundled) return { name, available: true };
    const lib = PROVIDER_LIBRARY[name];
    if (lib && existsSync(path.join(dir, lib))) return { name, available: true };
    return { name, available: false, missing: `${lib ?? name} is not installed next to onnxruntime-node's binding (${dir})` };
  });
}

/** How to get a provider that is missing. */
function fixFor(p: ExecutionProvider): string {
  if (p === 'cuda') {
    return "install onnxruntime-node's CUDA 12 binaries: run `npm ci` without skipping its install step (unset ONNXRUNTIME_NODE_INSTALL=skip / the npm config onnxruntime-node-install=skip), or `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node`, on a machine with CUDA 12 and network access; or list 'webgpu' / 'cpu' instead";
  }
  return "use a platform whose onnxruntime-node bundles it (linux-x64, win32, darwin), or list 'cpu'";
}

/**
 * Checks that every provider of `list` is in the installed onnxruntime-node; throws one line
 * naming the first missing one and how to get it. `what` names who asked (e.g. `devices.learner`).
 */
export function checkProviders(list: readonly ExecutionProvider[], what = 'executionProviders', installed: ProviderStatus[] = installedProviders()): void {
  for (const p of list) {
    const s = installed.find((x) => x.name === p);
    if (!s || !s.available) throw new ProviderUnavailableError(`${what}: execution provider '${p}' is not available in the installed onnxruntime-node (${s?.missing ?? 'unknown provider'}); ${fixFor(p)}`);
  }
}

/**
 * The device ordinal a session of this process uses for `provider`, from the GPU the scheduler
 * granted its actor: with CUDA the granted GPUs are the only visible ones (`CUDA_VISIBLE_DEVICES`),
 * so the actor's GPU is ordinal 0; without that variable, `COHORT_DEVICE_ID` (the physical id).
 * undefined for cpu, and for webgpu: ONNX Runtime's WebGPU `deviceId` is a context id, not an
 * adapter index, so the default adapter is used (on a machine with several GPUs every webgpu
 * session shares that one: a limitation documented in engine/README.md).
 */
export function deviceIdFor(provider: ExecutionProvider, env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (provider !== 'cuda') return undefined;
  if (env.CUDA_VISIBLE_DEVICES !== undefined && env.CUDA_VISIBLE_DEVICES.trim() !== '') return 0;
  const raw = env.COHORT_DEVICE_ID;
  if (raw === undefined || raw.trim() === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`COHORT_DEVICE_ID must be a GPU ordinal (an integer >= 0), got "${raw}"`);
  return n;
}

/**
 * Where each fetched output of a session should live: ONNX Runtime's node binding can leave an
 * output on the device (`preferredOutputLocation: 'gpu-buffer'`, IO binding) only for the WebGPU
 * provider; a CUDA or CPU session returns every output in CPU memory. So `keep` (e.g. the KV
 * cache's present_* outputs) is kept on the device when the first provider is webgpu, and this
 * returns undefined otherwise (nothing to set: the CPU path).
 */
export function deviceOutputLocations(providers: readonly ExecutionProvider[], keep: readonly string[], outputNames: readonly string[]): Record<string, 'gpu-buffer' | 'cpu'> | undefined {
  if (providers[0] !== 'webgpu' || keep.length === 0) return undefined;
  const unknown = keep.filter((k) => !outputNames.includes(k));
  if (unknown.length) throw new Error(`deviceOutputs names outputs the graph does not have: ${unknown.join(', ')}`);
  return Object.fromEntries(outputNames.map((n) => [n, keep.includes(n) ? 'gpu-buffer' : 'cpu']));
}
