import { getAlgorithm } from '../algorithms/registry.js';
import type { TrainConfig } from '../config/schema.js';

/** The roles of a training job's actors. */
export type ActorRole = 'simulator' | 'learner' | 'rollout' | 'reference' | 'critic';

/** A placement group of the job: one per bundle group of `layout`. */
export interface GroupLayout {
  /** Placement-group name: `simulators` or `rl`. */
  name: 'simulators' | 'rl';
  strategy: 'PACK' | 'SPREAD' | 'STRICT_PACK' | 'STRICT_SPREAD';
  /** One resource map per bundle (CPU, GPU and the layout's custom resources). */
  bundles: Record<string, number>[];
  /** Node labels the bundles must run on (undefined: any node). */
  labels?: Record<string, string>;
}

/** One actor of the job and where it goes. */
export interface ActorLayout {
  name: string;
  role: ActorRole;
  /** Index within its role (rank of a learner, index of a simulator or rollout). */
  index: number;
  group: GroupLayout['name'];
  bundle: number;
  /** What the actor takes of its bundle. */
  cpu: number;
  gpu: number;
  /**
   * Restarts the runtime makes by itself: simulators, references and rollouts
   * come back (rebuilt from their constructor; the driver brings a rollout
   * back to the current weights); learners and critics are never restarted
   * by the runtime, the driver replaces them from a surviving peer's state.
   */
  maxRestarts: number;
  /**
   * Re-sends of calls in flight when its worker died (after the restart):
   * simulators and references answer pure requests, so a search or a scoring
   * cut short is simply asked again; rollouts are redone by the driver.
   */
  maxTaskRetries: number;
}

/** The job's placement: its groups and every actor, in spawn order. */
export interface JobLayout {
  groups: { simulators: GroupLayout; rl: GroupLayout };
  actors: ActorLayout[];
  /** Optimizer updates a step makes (mini-batches × epochs). */
  updatesPerStep: number;
}

/** Restarts of an actor the runtime restarts by itself (per run). */
export const ROLE_RESTARTS = 8;

/**
 * The one place where a config's `layout` becomes placement groups and actors:
 * `cohort train --dry-run` prints it (`trainPlan`) and the Trainer spawns
 * exactly it. Simulators get one bundle each; every RL bundle hosts a
 * learner, a rollout, a reference (when the KL term needs one) and a critic
 * (when the algorithm needs one), each with its GPU share and an equal part
 * of the bundle's CPUs (rounded down to the scheduler's 1/10,000 units so
 * they always fit).
 */
export function jobLayout(config: TrainConfig): JobLayout {
  const c = config;
  const l = c.layout;
  const needCritic = getAlgorithm(c.algorithm.name).needsCritic;
  const needRef = c.algorithm.params.kl.coef > 0;
  const group = (name: GroupLayout['name'], g: TrainConfig['layout']['simulator']): GroupLayout => ({
    name,
    strategy: g.strategy ?? l.strategy,
    bundles: Array.from({ length: g.bundles }, () => ({ CPU: g.cpusPerBundle, GPU: g.gpusPerBundle, ...g.resources })),
    ...(g.labels && Object.keys(g.labels).length ? { labels: { ...g.labels } } : {}),
  });
  const actors: ActorLayout[] = [];
  for (let i = 0; i < l.simulator.bundles; i++) {
    actors.push({ name: `simulator-${i}`, role: 'simulator', index: i, group: 'simulators', bundle: i, cpu: l.simulator.cpusPerBundle, gpu: l.simulator.gpusPerBundle, maxRestarts: ROLE_RESTARTS, maxTaskRetries: ROLE_RESTARTS });
  }
  const s = l.rl.shares;
  const cpu = Math.floor((l.rl.cpusPerBundle / (needCritic ? 4 : 3)) * 10_000) / 10_000;
  const rl = (role: ActorRole, gpu: number, maxRestarts: number, maxTaskRetries: number) => {
    for (let i = 0; i < l.rl.bundles; i++) actors.push({ name: `${role}-${i}`, role, index: i, group: 'rl', bundle: i, cpu, gpu, maxRestarts, maxTaskRetries });
  };
  rl('learner', s.learner, 0, 0);
  rl('rollout', s.rollout, ROLE_RESTARTS, 0);
  if (needRef) rl('reference', s.reference, ROLE_RESTARTS, ROLE_RESTARTS);
  if (needCritic) rl('critic', s.critic, 0, 0);
  const trajectories = c.batch.promptsPerStep * c.batch.samplesPerPrompt;
  return {
    groups: { simulators: group('simulators', l.simulator), rl: group('rl', l.rl) },
    actors,
    updatesPerStep: Math.ceil(trajectories / c.batch.miniBatch) * c.algorithm.params.epochs,
  };
}
