import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkProviders, loadModelConfig, parseModelConfig, type ModelConfig } from '@cohort/engine';
import { memoryAdvice, memoryPlan, planModelConfig, policyConfigFile, type MemoryPlan } from './memory-plan.js';
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

/** Memory of one GPU for the memory plan: layout.gpus.memoryGiB, else the smallest GPU nvidia-smi reports (physical layouts); null when unknown. */
export function gpuCapacityBytes(config: Pick<TrainConfig, 'layout'>, inventory?: GpuInventory): number | null {
  if (config.layout.gpus.memoryGiB !== undefined) return Math.round(config.layout.gpus.memoryGiB * 2 ** 30);
  const mems = (inventory?.gpus ?? []).map((g) => g.memoryBytes).filter((m): m is number => m !== undefined);
  return mems.length ? Math.min(...mems) : null;
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
 * installed onnxruntime-node (one line naming a missing one and how to get it), a physical
 * layout fits the GPUs of this machine, and, when the GPUs' memory is known (layout.gpus.memoryGiB
 * or nvidia-smi), the memory plan fits, else the knob that would make it fit is named. Returns
 * the GPU inventory (physical layouts only). `localGpus: false` (a run on a cluster) skips
 * counting this machine's GPUs: the cluster's nodes hold them and its scheduler places the bundles.
 */
export function preflight(config: TrainConfig, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), opts: { localGpus?: boolean } = {}): GpuInventory | undefined {
  for (const role of rolesInUse(config)) checkProviders(roleProviders(config, role), `devices.${config.devices[role] ? role : 'default'} (role ${role})`);
  const inv = config.layout.gpus.kind === 'physical' && opts.localGpus !== false ? detectGpus(config, env) : undefined;
  if (inv) checkPhysicalGpus(config, inv);
  const mem = memoryCheck(config, inv, cwd);
  if (mem.advice.length) throw new Error(`the layout does not fit in GPU memory: ${mem.advice.join('; ')} (see cohort train CONFIG --dry-run)`);
  return inv;
}

/** The memory plan of a config (null when the policy's config.json is not there) and, when a GPU does not fit, the advice. */
export function memoryCheck(config: TrainConfig, inventory: GpuInventory | undefined, cwd = process.cwd()): { plan: MemoryPlan | null; advice: string[]; configFile: string | null } {
  const mc = planModelConfig(config, cwd);
  const configFile = policyConfigFile(config, cwd);
  if (!mc) return { plan: null, advice: [], configFile };
  const capacityBytes = gpuCapacityBytes(config, inventory);
  const simulatorConfig = localSimulatorConfig(config, cwd);
  const plan = memoryPlan(config, mc, { capacityBytes, simulatorConfig });
  return { plan, advice: memoryAdvice(config, mc, plan, { capacityBytes, simulatorConfig }), configFile };
}

/** The local simulator's model config when it can be known before tuning (a model path with config.json, or the architecture). */
function localSimulatorConfig(config: TrainConfig, cwd: string): ModelConfig | null {
  const sim = config.simulator;
  if (sim.backend !== 'local') return null;
  if ('path' in sim.model) {
    const f = path.resolve(cwd, sim.model.path, 'config.json');
    return existsSync(f) ? loadModelConfig(readFileSync(f, 'utf8')) : null;
  }
  const { architecture: _a, vocab_size, ...rest } = sim.model.config;
  return parseModelConfig({ model_type: 'qwen2', vocab_size: vocab_size ?? 1024, ...rest });
}
