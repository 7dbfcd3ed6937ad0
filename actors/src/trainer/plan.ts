import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkpointWeightFiles } from '@cohort/engine';
import type { TrainConfig } from '../config/schema.js';
import { fillPlaceholders } from '../simulator/managed-server.js';
import { jobLayout, type ActorLayout, type GroupLayout } from './layout.js';

/** One actor the Trainer would spawn (its layout, plus what backs a simulator). */
export interface PlannedActor extends ActorLayout {
  /** What backs a simulator (its launch command for a managed server). */
  backend?: string;
}

/** A file the run reads, and whether it is there. */
export interface PlannedFile {
  role: string;
  path: string;
  exists: boolean;
}

/** What `cohort train --dry-run` prints: the validated config's resources, placement and actors, and the files it needs. */
export interface TrainPlan {
  run: string;
  gpus: { kind: 'physical' | 'logical'; count: number; used: number };
  cpus: number;
  strategy: string;
  simulatorBundles: { count: number; gpus: number; cpus: number };
  rlBundles: { count: number; gpus: number; cpus: number; shares: Record<string, number> };
  /** The placement groups the run creates (what `status --json` shows once it runs). */
  groups: GroupLayout[];
  /** Elastic pools: what each node with these labels hosts once it joins (`layout.elastic`). */
  elastic: TrainConfig['layout']['elastic'];
  actors: PlannedActor[];
  algorithm: string;
  steps: number;
  trajectoriesPerStep: number;
  updatesPerStep: number;
  mode: string;
  files: PlannedFile[];
  /** Files a real run needs that are missing here. */
  missing: string[];
}

/**
 * The plan of a training run without starting anything: the bundles and
 * actors with their CPU/GPU demands (the same arithmetic the Trainer spawns
 * with), each simulator's backend (a managed server's command with its
 * placeholders filled; `{gpus}` is known only once the scheduler grants the
 * bundle), and the input files with whether they exist (relative to `cwd`).
 */
export function trainPlan(config: TrainConfig, cwd = process.cwd()): TrainPlan {
  const c = config;
  const l = c.layout;
  const sim = c.simulator;
  const layout = jobLayout(c);
  const backendOf = (i: number): string => {
    if (sim.backend === 'openai' && sim.managed) {
      const m = sim.managed;
      const argv = fillPlaceholders(m.command, { model: sim.model, tp: m.tp, dp: m.dp, port: m.basePort + i, gpus: '<granted GPU ids>' });
      return `managed server on 127.0.0.1:${m.basePort + i} (or a free port), health ${m.healthPath}, startup ≤ ${m.startupTimeoutS} s: ${argv.join(' ')}`;
    }
    if (sim.backend === 'openai') return `external OpenAI-compatible servers ${sim.addresses!.join(', ')} (model ${sim.model})`;
    if (sim.backend === 'local') return 'path' in sim.model ? `local ONNX model ${sim.model.path}` : `local ONNX model tuned on the world's simulator pairs (${sim.tune.steps} steps)`;
    if (sim.backend === 'corpus') return `no simulator: BM25 top-${c.rollout.topk} over the synthetic world's corpus (the real-engine baseline)`;
    return 'template (test) simulator over the synthetic world';
  };
  const actors: PlannedActor[] = layout.actors.map((a) => (a.role === 'simulator' ? { ...a, backend: backendOf(a.index) } : { ...a }));
  const s = l.rl.shares;
  const files: PlannedFile[] = [];
  const file = (role: string, p: string) => {
    const abs = path.resolve(cwd, p);
    files.push({ role, path: p, exists: existsSync(abs) });
  };
  if (c.world.kind === 'parquet') {
    c.world.train.forEach((f) => file('world.train', f));
    for (const split of c.eval.splits) {
      const f = c.world.eval[split.name];
      if (f) file(`world.eval.${split.name}`, f);
      else files.push({ role: `world.eval.${split.name}`, path: '(no file named in world.eval)', exists: false });
    }
    file('world.corpus', c.world.corpus);
  }
  const pm = c.policy.model;
  if ('path' in pm) {
    file('policy config', path.join(pm.path, 'config.json'));
    const weights = checkpointWeightFiles(path.resolve(cwd, pm.path));
    if (weights.length) weights.forEach((f) => file('policy weights', path.join(pm.path, f)));
    else files.push({ role: 'policy weights', path: path.join(pm.path, 'model.safetensors (or model.safetensors.index.json + shards)'), exists: false });
  }
  if (c.policy.tokenizer.kind === 'huggingface') file('policy tokenizer', c.policy.tokenizer.path);
  if (sim.backend === 'local' && 'path' in sim.model) {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) file(`simulator ${f}`, path.join(sim.model.path, f));
  }
  const trajectories = c.batch.promptsPerStep * c.batch.samplesPerPrompt;
  return {
    run: c.run.name,
    gpus: { kind: l.gpus.kind, count: l.gpus.count, used: l.simulator.bundles * l.simulator.gpusPerBundle + l.rl.bundles * l.rl.gpusPerBundle },
    cpus: l.simulator.bundles * l.simulator.cpusPerBundle + l.rl.bundles * l.rl.cpusPerBundle,
    strategy: l.strategy,
    simulatorBundles: { count: l.simulator.bundles, gpus: l.simulator.gpusPerBundle, cpus: l.simulator.cpusPerBundle },
    rlBundles: { count: l.rl.bundles, gpus: l.rl.gpusPerBundle, cpus: l.rl.cpusPerBundle, shares: { ...s } },
    groups: [layout.groups.simulators, layout.groups.rl],
    elastic: l.elastic,
    actors,
    algorithm: c.algorithm.name,
    steps: c.run.totalSteps,
    trajectoriesPerStep: trajectories,
    updatesPerStep: layout.updatesPerStep,
    mode: c.mode.kind === 'async' ? `async (max staleness ${c.mode.maxStaleness}, ${c.mode.correction})` : 'sync',
    files,
    missing: files.filter((f) => !f.exists).map((f) => `${f.role}: ${f.path}`),
  };
}

/** The plan as text for a terminal. */
export function formatTrainPlan(p: TrainPlan): string {
  const lines = [
    `run ${p.run}: ${p.algorithm}, ${p.steps} steps, ${p.trajectoriesPerStep} trajectories and ${p.updatesPerStep} update(s) a step, ${p.mode}`,
    `resources: ${p.gpus.used} of ${p.gpus.count} ${p.gpus.kind} GPU(s), ${p.cpus} CPU(s); placement ${p.strategy}`,
    `simulator bundles (placement group "simulators", ${groupWhere(p.groups[0])}): ${p.simulatorBundles.count} × { GPU ${p.simulatorBundles.gpus}, CPU ${p.simulatorBundles.cpus} }`,
    `RL bundles (placement group "rl", ${groupWhere(p.groups[1])}): ${p.rlBundles.count} × { GPU ${p.rlBundles.gpus}, CPU ${p.rlBundles.cpus} }, shares ${Object.entries(p.rlBundles.shares)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    ...p.elastic.map((e) => `elastic pool: each node labelled ${Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(',')} hosts ${e.rollouts} rollout(s) { GPU ${e.rollout.gpus}, CPU ${e.rollout.cpus} } and ${e.simulators} simulator(s) { GPU ${e.simulator.gpus}, CPU ${e.simulator.cpus} } while it is in the cluster`),
    'actors:',
    ...p.actors.map((a) => `  ${a.name.padEnd(13)} ${a.group}[${a.bundle}]  GPU ${String(a.gpu).padEnd(4)} CPU ${a.cpu}${a.maxRestarts ? `  restarts ${a.maxRestarts}` : a.role === 'learner' || a.role === 'critic' ? '  replaced from a peer' : ''}${a.backend ? `  ${a.backend}` : ''}`),
  ];
  if (p.files.length) {
    lines.push('files:');
    for (const f of p.files) lines.push(`  ${f.exists ? 'ok     ' : 'MISSING'} ${f.role}: ${f.path}`);
  }
  lines.push(p.missing.length ? `dry run: config valid; a real run here would stop at ${p.missing.length} missing file(s)` : 'dry run: config valid, every input file present; nothing was started');
  return lines.join('\n') + '\n';
}

function groupWhere(g: GroupLayout | undefined): string {
  if (!g) return '';
  return `${g.strategy}${g.labels ? ` on nodes labelled ${Object.entries(g.labels).map(([k, v]) => `${k}=${v}`).join(',')}` : ''}`;
}
