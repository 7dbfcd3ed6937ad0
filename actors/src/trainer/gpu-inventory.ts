import { execFileSync } from 'node:child_process';
import { checkProviders } from '@cohort/engine';
import { DEVICE_ROLES, roleProviders, type DeviceRole, type TrainConfig } from '../config/schema.js';
import { getAlgorithm } from '../algorithms/registry.js';

/** One GPU of this machine. */
export interface GpuDevice {
  /** Physical index (nvidia-smi's, or the configured id). */
  index: number;
  name?: string;
  /** Total memory in bytes, when known. */
  memoryBytes?: number;
}

/** The GPUs a physical layout can use, and where that answer came from. */
export interface GpuInventory {
  source: 'nvidia-smi' | 'layout.gpus.devices' | 'none';
  gpus: GpuDevice[];
  /** How they were counted (e.g. "nvidia-smi: not found on PATH"). */
  detail: string;
}

/**
 * Counts this machine's GPUs for `layout.gpus.kind: physical`: the ids in `layout.gpus.devices`
 * when the config lists them, else `nvidia-smi --query-gpu=index,name,memory.total` (from PATH).
 * A CUDA_VISIBLE_DEVICES of integer ids in this process's environment keeps only those GPUs.
 * No nvidia-smi, or one that fails, counts as no GPU (the detail says which).
 */
export function detectGpus(config: Pick<TrainConfig, 'layout'>, env: NodeJS.ProcessEnv = process.env): GpuInventory {
  const listed = config.layout.gpus.devices;
  if (listed) return { source: 'layout.gpus.devices', gpus: listed.map((index) => ({ index })), detail: `layout.gpus.devices lists ${listed.length}` };
  let out: string;
  try {
    out = execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'], { env, encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number };
    const why = e.code === 'ENOENT' ? 'not found on PATH' : `failed (${(e.stderr ?? e.message ?? '').toString().trim().split('\n')[0] || `exit ${e.status}`})`;
    return { source: 'none', gpus: [], detail: `nvidia-smi: ${why}` };
  }
  const gpus: GpuDevice[] = [];
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [idx, name, mem] = line.split(',').map((s) => s.trim());
    const index = Number(idx);
    if (!Number.isInteger(index)) continue;
    const mib = Number(mem);
    gpus.push({ index, name, ...(Number.isFinite(mib) && mib > 0 ? { memoryBytes: mib * 1024 * 1024 } : {}) });
  }
  const visible = env.CUDA_VISIBLE_DEVICES?.trim();
  if (visible && /^\d+(,\d+)*$/.test(visible)) {
    const keep = new Set(visible.split(',').map(Number));
    const kept = gpus.filter((g) => keep.has(g.index));
    return { source: 'nvidia-smi', gpus: kept, detail: `nvidia-smi lists ${gpus.length}, CUDA_VISIBLE_DEVICES=${visible} keeps ${kept.length}` };
  }
  return { source: 'nvidia-smi', gpus, detail: `nvidia-smi lists ${gpus.length}` };
}

/** GPUs the layout's bundles take (simulator + RL). */
export function layoutGpusUsed(config: Pick<TrainConfig, 'layout'>): number {
  const l = config.layout;
  return l.simulator.bundles * l.simulator.gpusPerBundle + l.rl.bundles * l.rl.gpusPerBundle;
}

/**
 * Refuses a physical layout this machine cannot hold, naming the numbers: the layout's
 * `layout.gpus.count` (and what its bundles use) against the GPUs counted. Logical layouts
 * (GPU tokens on CPUs) pass.
 */
export function checkPhysicalGpus(config: Pick<TrainConfig, 'layout'>, inventory: GpuInventory): void {
  const g = config.layout.gpus;
  if (g.kind !== 'physical') return;
  const need = Math.max(g.count, Math.ceil(layoutGpusUsed(config) - 1e-9));
  const have = inventory.gpus.length;
  if (have < need) {
    throw new Error(
      `layout.gpus.kind is physical and needs ${need} GPU(s) (layout.gpus.count ${g.count}, the bundles use ${+layoutGpusUsed(config).toFixed(4)}) but this machine has ${have} (${inventory.detail}); run on a machine with ${need} NVIDIA GPUs, list them in layout.gpus.devices, or set layout.gpus.kind: logical to schedule GPU shares on CPUs`,
    );
  }
}

/** The roles a config runs sessions for (a critic only with an algorithm that needs one, a local simulator only with backend local, …). */
export function rolesInUse(config: TrainConfig): DeviceRole[] {
  const def = getAlgorithm(config.algorithm.name);
  return DEVICE_ROLES.filter((r) => {
    if (r === 'critic') return def.needsCritic;
    if (r === 'reference') return config.algorithm.params.kl.coef > 0;
    if (r === 'simulator') return config.simulator.backend === 'local';
    if (r === 'evaluation') return config.eval.before || config.eval.after || config.eval.every > 0;
    return true;
  });
}

/**
 * What must hold before a run starts anything: every role's execution providers are in the
 * installed onnxruntime-node (one line naming a missing one and how to get it), and a physical
 * layout fits the GPUs of this machine. Returns the GPU inventory (physical layouts only).
 */
export function preflight(config: TrainConfig, env: NodeJS.ProcessEnv = process.env): GpuInventory | undefined {
  for (const role of rolesInUse(config)) checkProviders(roleProviders(config, role), `devices.${config.devices[role] ? role : 'default'} (role ${role})`);
  if (config.layout.gpus.kind !== 'physical') return undefined;
  const inv = detectGpus(config, env);
  checkPhysicalGpus(config, inv);
  return inv;
}
