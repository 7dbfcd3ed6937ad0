import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { activationBytes, adamWStateBytes, forwardActivationBytes, kvCacheBytes, loadModelConfig, paramCount, parseModelConfig, weightBytes, type ModelConfig } from '@cohort/engine';
import { getAlgorithm } from '../algorithms/registry.js';
import type { TrainConfig } from '../config/schema.js';

/** Bytes one GPU of the layout needs, by kind (the `--dry-run --json` shape). */
export interface GpuMemory {
  gpu: number;
  /** Actors on it, e.g. ["learner-0", "rollout-0", "reference-0"]. */
  roles: string[];
  weights_bytes: number;
  grads_bytes: number;
  optimizer_bytes: number;
  activations_bytes: number;
  kv_cache_bytes: number;
  total_bytes: number;
  /** The GPU's memory (layout.gpus.memoryGiB or nvidia-smi); null when unknown. */
  capacity_bytes: number | null;
  /** total ≤ capacity; null when the capacity is unknown or the GPU's memory is managed by an external server. */
  fits: boolean | null;
}

/** The memory plan: policy parameters and every GPU of the layout. */
export interface MemoryPlan {
  params: number;
  gpus: GpuMemory[];
}

type Part = Omit<GpuMemory, 'gpu' | 'roles' | 'total_bytes' | 'capacity_bytes' | 'fits'>;
const ZERO: Part = { weights_bytes: 0, grads_bytes: 0, optimizer_bytes: 0, activations_bytes: 0, kv_cache_bytes: 0 };

/** Where the policy's `config.json` is: `policy.model.configFile`, else `<policy.model.path>/config.json`; null for an architecture in the config. */
export function policyConfigFile(config: TrainConfig, cwd = process.cwd()): string | null {
  const m = config.policy.model;
  if (!('path' in m)) return null;
  return path.resolve(cwd, m.configFile ?? path.join(m.path, 'config.json'));
}

/**
 * The policy's model config for planning: read from its `config.json` (see
 * {@link policyConfigFile}), or built from `policy.model.config` (vocab_size, else the world
 * tokenizer's default 1024). Null when the file is not there.
 */
export function planModelConfig(config: TrainConfig, cwd = process.cwd()): ModelConfig | null {
  const m = config.policy.model;
  if ('path' in m) {
    const f = policyConfigFile(config, cwd)!;
    return existsSync(f) ? loadModelConfig(readFileSync(f, 'utf8')) : null;
  }
  const { architecture: _a, vocab_size, ...rest } = m.config;
  return parseModelConfig({ model_type: 'qwen2', vocab_size: vocab_size ?? 1024, ...rest });
}

/** What each RL role holds, for a policy config and the config's batch / context settings. */
function roleParts(config: TrainConfig, mc: ModelConfig): Record<'learner' | 'rollout' | 'reference' | 'critic', Part> {
  const ctx = config.rollout.contextWindow;
  const micro = config.batch.microBatch;
  const rows = Math.ceil(config.batch.promptsPerStep / config.layout.rl.bundles) * config.batch.samplesPerPrompt;
  const W = weightBytes(mc);
  // A training step, or the old-log-prob scoring pass before it (not at once): the larger.
  const trainAct = Math.max(activationBytes(mc, micro, ctx), forwardActivationBytes(mc, micro, ctx));
  // ZeRO-1 shards the learners' AdamW state over the learner group (one learner per RL bundle); critics keep theirs whole.
  const zero = config.optimizer.zeroStage === 1 ? config.layout.rl.bundles : 1;
  const learner: Part = { ...ZERO, weights_bytes: W, grads_bytes: W, optimizer_bytes: Math.ceil(adamWStateBytes(mc) / zero), activations_bytes: trainAct };
  return {
    learner,
    critic: { ...learner, optimizer_bytes: adamWStateBytes(mc) },
    // Generation: the prompts of a step split over the rollouts, all samples decoded as one batch, prefilled up to the context window.
    rollout: { ...ZERO, weights_bytes: W, activations_bytes: forwardActivationBytes(mc, rows, ctx, rows), kv_cache_bytes: kvCacheBytes(mc, rows, ctx) },
    reference: { ...ZERO, weights_bytes: W, activations_bytes: forwardActivationBytes(mc, micro, ctx) },
  };
}

/**
 * Per GPU of the layout, the bytes its actors need: simulator bundles first (GPU 0 …), then
 * the RL bundles, each RL bundle's actors placed on its GPUs first-fit by their shares (as the
 * scheduler does). Float32 weights, gradients and AdamW moments (what the engine holds on
 * every provider); activations and KV cache for the configured micro-batch, rollout batch and
 * context window (estimates, see engine's memory.ts). A simulator served by an external or
 * managed server (sglang, vLLM) is not planned here: its GPU's row is zero with `fits: null`.
 */
export function memoryPlan(config: TrainConfig, mc: ModelConfig, opts: { capacityBytes?: number | null; simulatorConfig?: ModelConfig | null } = {}): MemoryPlan {
  const l = config.layout;
  const capacity = opts.capacityBytes ?? null;
  const gpus: GpuMemory[] = [];
  const add = (roles: string[], parts: Part[], planned = true) => {
    const sum = parts.reduce((a, p) => ({
      weights_bytes: a.weights_bytes + p.weights_bytes,
      grads_bytes: a.grads_bytes + p.grads_bytes,
      optimizer_bytes: a.optimizer_bytes + p.optimizer_bytes,
      activations_bytes: a.activations_bytes + p.activations_bytes,
      kv_cache_bytes: a.kv_cache_bytes + p.kv_cache_bytes,
    }), ZERO);
    const total = sum.weights_bytes + sum.grads_bytes + sum.optimizer_bytes + sum.activations_bytes + sum.kv_cache_bytes;
    gpus.push({ gpu: gpus.length, roles, ...sum, total_bytes: total, capacity_bytes: capacity, fits: planned && capacity !== null ? total <= capacity : null });
  };
  const perBundle = (g: number) => Math.max(1, Math.ceil(g - 1e-9));
  const sim = config.simulator;
  for (let i = 0; i < l.simulator.bundles; i++) {
    const n = perBundle(l.simulator.gpusPerBundle);
    for (let k = 0; k < n; k++) {
      if (sim.backend === 'local' && opts.simulatorConfig) {
        const sc = opts.simulatorConfig;
        const seq = sc.max_position_embeddings;
        const rows = sim.batching.maxBatch;
        add([`simulator-${i}`], [{ ...ZERO, weights_bytes: weightBytes(sc) / n, activations_bytes: forwardActivationBytes(sc, rows, seq, rows) / n, kv_cache_bytes: kvCacheBytes(sc, rows, seq) / n }]);
      } else {
        add([`simulator-${i}${sim.backend === 'openai' ? ' (server-managed)' : ''}`], [], sim.backend !== 'openai');
      }
    }
  }
  const parts = roleParts(config, mc);
  const s = l.rl.shares;
  const def = getAlgorithm(config.algorithm.name);
  const actors: { role: keyof typeof parts; share: number }[] = [
    { role: 'learner', share: s.learner },
    { role: 'rollout', share: s.rollout },
    ...(config.algorithm.params.kl.coef > 0 ? [{ role: 'reference' as const, share: s.reference }] : []),
    ...(def.needsCritic ? [{ role: 'critic' as const, share: s.critic }] : []),
  ];
  for (let i = 0; i < l.rl.bundles; i++) {
    const n = perBundle(l.rl.gpusPerBundle);
    const free = Array.from({ length: n }, () => Math.min(1, l.rl.gpusPerBundle));
    const on: { roles: string[]; parts: Part[] }[] = Array.from({ length: n }, () => ({ roles: [], parts: [] }));
    for (const a of actors) {
      let d = free.findIndex((f) => f + 1e-9 >= a.share);
      if (d < 0) d = free.indexOf(Math.max(...free));
      free[d] -= a.share;
      on[d].roles.push(`${a.role}-${i}`);
      on[d].parts.push(parts[a.role]);
    }
    for (const g of on) add(g.roles, g.parts);
  }
  return { params: paramCount(mc), gpus };
}

const GB = 1e9;
const gb = (b: number) => `${(b / GB).toFixed(2)} GB`;

/**
 * For each GPU that does not fit, one line saying what it needs and which knob would make it
 * fit: the largest batch.microBatch that fits, else the largest rollout.contextWindow (with
 * micro-batch 1), fewer prompts per rollout (KV cache), or more GPUs for the roles (weights
 * and optimizer state alone too large).
 */
export function memoryAdvice(config: TrainConfig, mc: ModelConfig, plan: MemoryPlan, opts: { capacityBytes?: number | null; simulatorConfig?: ModelConfig | null } = {}): string[] {
  const out: string[] = [];
  const fitsWith = (c: TrainConfig) => memoryPlan(c, mc, opts).gpus.every((g) => g.fits !== false);
  const bad = plan.gpus.filter((g) => g.fits === false);
  if (bad.length === 0) return out;
  const worst = bad.reduce((a, b) => (b.total_bytes > a.total_bytes ? b : a));
  const head = `${bad.length} GPU(s) do not fit: GPU ${worst.gpu} (${worst.roles.join(', ')}) needs ${gb(worst.total_bytes)} of ${gb(worst.capacity_bytes!)} (weights ${gb(worst.weights_bytes)}, grads ${gb(worst.grads_bytes)}, AdamW ${gb(worst.optimizer_bytes)}, activations ${gb(worst.activations_bytes)}, KV cache ${gb(worst.kv_cache_bytes)})`;
  const withBatch = (micro: number, ctx = config.rollout.contextWindow, prompts = config.batch.promptsPerStep): TrainConfig => ({
    ...config,
    batch: { ...config.batch, microBatch: micro, promptsPerStep: prompts, miniBatch: Math.min(config.batch.miniBatch, prompts * config.batch.samplesPerPrompt) },
    rollout: { ...config.rollout, contextWindow: ctx, observationTokenCap: Math.min(config.rollout.observationTokenCap, ctx - 1), maxNewTokensPerTurn: Math.min(config.rollout.maxNewTokensPerTurn, ctx - 1) },
  });
  if (config.optimizer.zeroStage === 0 && config.layout.rl.bundles > 1 && fitsWith({ ...config, optimizer: { ...config.optimizer, zeroStage: 1 } })) {
    return [`${head}; set optimizer.zeroStage: 1 (shard AdamW state over the ${config.layout.rl.bundles} learners)`];
  }
  for (let m = config.batch.microBatch - 1; m >= 1; m--) {
    if (fitsWith(withBatch(m))) return [`${head}; lower batch.microBatch to ${m}`];
  }
  // Micro-batch 1 is not enough: the largest context window (and, if needed, fewest prompts per rollout) that fits.
  for (const prompts of [config.batch.promptsPerStep, config.layout.rl.bundles]) {
    let lo = 0;
    let hi = config.rollout.contextWindow;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (fitsWith(withBatch(1, mid, prompts))) lo = mid;
      else hi = mid;
    }
    if (lo >= 2) {
      const fewer = prompts !== config.batch.promptsPerStep ? ` and batch.promptsPerStep to ${prompts} (KV cache of the rollout batch)` : '';
      return [`${head}; with batch.microBatch 1, lower rollout.contextWindow to ${lo}${fewer}`];
    }
  }
  return [`${head}; weights, gradients and AdamW state alone do not fit: give the roles their own GPUs (more layout.rl.bundles, lower layout.rl.shares) or use a smaller policy`];
}

/** The plan as text. */
export function formatMemoryPlan(plan: MemoryPlan, advice: string[] = []): string {
  const lines = [`memory plan (policy ${plan.params.toLocaleString('en-US')} parameters, float32; estimates):`];
  lines.push(`  ${'GPU'.padEnd(4)} ${'roles'.padEnd(38)} ${'weights'.padStart(10)} ${'grads'.padStart(10)} ${'AdamW'.padStart(10)} ${'activ.'.padStart(10)} ${'KV'.padStart(10)} ${'total'.padStart(10)} ${'capacity'.padStart(10)}  fits`);
  for (const g of plan.gpus) {
    const c = (b: number) => gb(b).padStart(10);
    lines.push(`  ${String(g.gpu).padEnd(4)} ${g.roles.join(', ').padEnd(38)} ${c(g.weights_bytes)} ${c(g.grads_bytes)} ${c(g.optimizer_bytes)} ${c(g.activations_bytes)} ${c(g.kv_cache_bytes)} ${c(g.total_bytes)} ${(g.capacity_bytes === null ? 'unknown' : gb(g.capacity_bytes)).padStart(10)}  ${g.fits === null ? '-' : g.fits ? 'yes' : 'NO'}`);
  }
  for (const a of advice) lines.push(`memory: ${a}`);
  return lines.join('\n') + '\n';
}
