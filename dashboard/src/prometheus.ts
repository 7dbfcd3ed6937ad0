import type { ClusterSnapshot } from './data-source.js';
import type { TrainingFeed } from './training-feed.js';

type Labels = Record<string, string>;

/** Escapes a label value for the Prometheus text format. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function sanitizeName(n: string): string {
  return n.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Builds Prometheus text exposition (version 0.0.4): gauges only, grouped by metric name. */
export class PromWriter {
  private readonly metrics = new Map<string, { help: string; samples: string[] }>();

  /** Adds one sample of gauge `name` (prefixed `cohort_` when not already). */
  gauge(name: string, help: string, value: number, labels: Labels = {}): void {
    if (!Number.isFinite(value)) return;
    const full = sanitizeName(name.startsWith('cohort_') ? name : `cohort_${name}`);
    let m = this.metrics.get(full);
    if (!m) this.metrics.set(full, (m = { help, samples: [] }));
    const ls = Object.entries(labels).map(([k, v]) => `${sanitizeName(k)}="${escapeLabel(v)}"`);
    m.samples.push(`${full}${ls.length ? `{${ls.join(',')}}` : ''} ${value}`);
  }

  /** The exposition text. */
  toString(): string {
    const out: string[] = [];
    for (const [name, m] of this.metrics) {
      out.push(`# HELP ${name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} gauge`, ...m.samples);
    }
    return out.join('\n') + '\n';
  }
}

const ACTOR_STATES = ['PENDING', 'ALIVE', 'RESTARTING', 'DEAD'] as const;

/** Writes the cluster gauges: nodes, resources, GPUs, actors, placement groups, pending demands. */
export function clusterMetrics(w: PromWriter, s: ClusterSnapshot): void {
  const cluster = s.cluster;
  w.gauge('up', 'Whether the dashboard could read the cluster state (1) or not (0).', 1, { cluster });
  if (s.head) w.gauge('head_epoch', 'Epoch of the running head (increments on each head restart).', s.head.epoch, { cluster });
  for (const state of ['alive', 'dead', 'left']) w.gauge('nodes', 'Nodes by state.', s.nodes.filter((n) => n.state === state).length, { cluster, state });
  for (const n of s.nodes) {
    w.gauge('node_alive', 'Whether the node is alive (1) or dead or left (0).', n.alive ? 1 : 0, { cluster, node: n.id });
    for (const [res, v] of Object.entries(n.resources.total)) w.gauge('node_resource_total', 'Resources the node offers.', v, { cluster, node: n.id, resource: res });
    for (const [res, v] of Object.entries(n.resources.used)) w.gauge('node_resource_used', 'Resources held by actors and placement groups on the node.', v, { cluster, node: n.id, resource: res });
    for (const [res, v] of Object.entries(n.resources.free)) w.gauge('node_resource_free', 'Resources free on the node.', v, { cluster, node: n.id, resource: res });
    for (const g of n.gpus) w.gauge('gpu_holders', 'Actors (or reserved bundles) holding each GPU.', g.holders.length, { cluster, node: n.id, gpu: String(g.index) });
  }
  for (const state of ACTOR_STATES) w.gauge('actors', 'Actors by state.', s.actors.filter((a) => a.state === state).length, { cluster, state });
  for (const a of s.actors) {
    w.gauge('actor_restarts', 'Times the actor was restarted.', a.restarts, { cluster, actor: a.name, class: a.className, node: a.node ?? '' });
    w.gauge('actor_alive', 'Whether the actor is alive (1) or not (0).', a.state === 'ALIVE' ? 1 : 0, { cluster, actor: a.name, class: a.className, state: a.state });
    w.gauge('actor_gpus', 'GPUs granted to the actor.', a.gpuIds.length, { cluster, actor: a.name, node: a.node ?? '' });
  }
  for (const state of ['pending', 'created', 'removed']) w.gauge('placement_groups', 'Placement groups by state.', s.placementGroups.filter((g) => g.state === state).length, { cluster, state });
  for (const kind of ['actor', 'placement-group']) w.gauge('pending_demands', 'Demands waiting for resources.', s.pending.filter((p) => p.kind === kind).length, { cluster, kind });
}

/** Writes the training gauges: the newest step of every run. */
export function trainingMetrics(w: PromWriter, feed: TrainingFeed): void {
  for (const { run, step: s } of feed.latest()) {
    const l = { run };
    w.gauge('train_step', 'Newest training step of the run.', s.step, l);
    if (s.reward !== undefined) w.gauge('train_reward', 'Mean trajectory reward at the newest step.', s.reward, l);
    if (s.rewardStd !== undefined) w.gauge('train_reward_std', 'Standard deviation of trajectory rewards at the newest step.', s.rewardStd, l);
    // EM comes only on evaluating steps: report the newest evaluation, not just the newest step
    const evaluated = s.em !== undefined ? s : [...feed.steps(run)].reverse().find((x) => x.em !== undefined);
    if (evaluated) {
      w.gauge('train_em_percent', 'Exact match (percent) of the newest evaluation during training.', evaluated.em!, l);
      w.gauge('train_em_step', 'Step of the newest evaluation during training.', evaluated.step, l);
      for (const [type, em] of Object.entries(evaluated.emByType ?? {})) w.gauge('train_em_by_type_percent', 'Exact match (percent) of the newest evaluation during training, by question type.', em, { run, type });
    }
    if (s.responseLength !== undefined) w.gauge('train_response_length_tokens', 'Mean response length in tokens.', s.responseLength, l);
    if (s.turns !== undefined) w.gauge('train_turns', 'Mean turns per trajectory.', s.turns, l);
    if (s.searches !== undefined) w.gauge('train_searches', 'Mean searches per trajectory.', s.searches, l);
    if (s.noiseP !== undefined) w.gauge('train_noise_p', 'Curriculum probability of a noisy simulated document.', s.noiseP, l);
    if (s.noisyShare !== undefined) w.gauge('train_noisy_share', 'Observed share of searches answered with noisy documents.', s.noisyShare, l);
    if (s.idleRatio !== undefined) w.gauge('train_idle_ratio', 'Share of the step the learners waited for data.', s.idleRatio, l);
    for (const [phase, sec] of Object.entries(s.timings ?? {})) w.gauge('train_step_seconds', 'Wall time of each part of the newest step.', sec, { run, phase });
    if (s.simulatorBatch?.mean !== undefined) w.gauge('train_simulator_batch_mean', 'Mean simulator batch size over the newest step.', s.simulatorBatch.mean, l);
    if (s.simulatorBatch?.max !== undefined) w.gauge('train_simulator_batch_max', 'Largest simulator batch over the newest step.', s.simulatorBatch.max, l);
  }
}
