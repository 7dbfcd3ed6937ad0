import { createCollectiveGroup, type ActorHandle, type PlacementGroup, type Runtime } from '@cohort/runtime';
import type { Logger } from 'pino';
import { lossSettings } from '../config/load-config.js';
import { roleProviders, type TrainConfig } from '../config/schema.js';
import { CriticActorClass, type CriticActor } from '../learner/critic-actor.js';
import { LearnerActorClass, type LearnerActor } from '../learner/learner-actor.js';
import { ReferenceActorClass } from '../learner/reference-actor.js';
import { RolloutActorClass } from '../rollout/rollout-actor.js';
import { SIMULATOR_MAX_CONCURRENCY, SimulatorActorClass, type SimulatorActor, type SimulatorActorSpec } from '../simulator/simulator-actor.js';
import type { Job, JobActors } from './job-actors.js';
import { ReplicaGroup } from './replicas.js';
import type { ActorLayout, GroupLayout, JobLayout } from './layout.js';

/** Files and backends every actor of the job starts from. */
export interface SpawnInputs {
  /** The warm-start policy directory (config.json + model.safetensors): learners, rollouts, references and critics load it. */
  policyDir: string;
  /** The policy tokenizer's `tokenizer.json` (rollouts). */
  tokenizerPath: string;
  /** One backend per simulator bundle. */
  simulatorBackends: SimulatorActorSpec['backend'][];
}

/**
 * Places a job's actors on a runtime, local or a cluster, exactly as its
 * {@link JobLayout} says: one placement group per bundle group (simulators,
 * RL) with the layout's strategy and node labels, each actor in its bundle
 * with its share. It keeps what it needs to spawn any actor again (a
 * replacement for a lost learner).
 */
export class JobSpawner {
  readonly groups: Partial<Record<GroupLayout['name'], PlacementGroup>> = {};
  private readonly replaced = new Map<string, number>();
  /** Called with every actor spawned (the job watch follows them). */
  onSpawn: ((h: ActorHandle<unknown>, role: string, o: { groupId?: string; elastic?: boolean }) => void) | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly config: TrainConfig,
    readonly layout: JobLayout,
    private readonly inputs: SpawnInputs,
    private readonly log: Logger,
  ) {}

  /**
   * The cluster-wide name of one of this run's actors: `<run>/<name>` (e.g.
   * `zerosearch-local/learner-0`), so two runs on one cluster never clash.
   * Metrics show the part after the run ({@link localName}).
   */
  actorName(local: string): string {
    const run = this.config.run.name.slice(0, Math.max(1, 127 - local.length));
    return `${run}/${local}`.slice(0, 128);
  }

  private async spawned<H extends ActorHandle<unknown>>(a: ActorLayout, h: Promise<H>): Promise<H> {
    const handle = await h;
    this.onSpawn?.(handle, a.role, { groupId: this.groups[a.group]!.id });
    return handle;
  }

  /** Creates both placement groups (atomically each) and every actor; forms the learners' (and critics') collective groups. */
  async spawnAll(): Promise<JobActors> {
    for (const g of [this.layout.groups.simulators, this.layout.groups.rl]) {
      const pg = await this.rt.createPlacementGroup({ bundles: g.bundles, strategy: g.strategy, name: g.name, ...(g.labels ? { labels: g.labels } : {}) });
      this.groups[g.name] = pg;
      await pg.ready();
    }
    const of = (role: ActorLayout['role']) => this.layout.actors.filter((a) => a.role === role);
    const simulators = await Promise.all(of('simulator').map((a) => this.spawnSimulator(a)));
    // Managed servers start in the background: fail here, with the server's own words, not at the first search.
    const urls = await Promise.all(simulators.map((s) => s.ready()));
    if (this.config.simulator.backend === 'openai' && this.config.simulator.managed) this.log.info({ urls: urls.map((u) => u.url) }, 'managed simulator servers healthy');
    const actors: JobActors = {
      simulators,
      learners: await Promise.all(of('learner').map((a) => this.spawnLearner(a))),
      rollouts: [],
      references: await Promise.all(of('reference').map((a) => this.spawnReference(a))),
      critics: await Promise.all(of('critic').map((a) => this.spawnCritic(a))),
    };
    actors.rollouts = await Promise.all(of('rollout').map((a) => this.spawnRollout(a, actors.simulators)));
    // Each learner imports the algorithm's plug-in and builds its loss: a failure shows here, not at the first update.
    await Promise.all(actors.learners.map((le) => le.policyLoss()));
    // Gradients are all-reduced among the learners (and among the critics) by the runtime's ring collective.
    await this.formGroups(actors);
    return actors;
  }

  /** (Re)forms the learners' and critics' collective groups from the current handles. */
  async formGroups(actors: JobActors): Promise<void> {
    await this.formGroup('learners', actors.learners);
    if (actors.critics.length) await this.formGroup('critics', actors.critics);
  }

  /** (Re)forms one collective group (a replaced member gets the others' addresses; waits of the old group fail). */
  async formGroup(name: 'learners' | 'critics', members: ActorHandle<unknown>[]): Promise<void> {
    await createCollectiveGroup(this.rt, { name, members });
  }

  /** The layout entry of `role` rank `index`. */
  entry(role: ActorLayout['role'], index: number): ActorLayout {
    const a = this.layout.actors.find((x) => x.role === role && x.index === index);
    if (!a) throw new Error(`the layout has no ${role} ${index}`);
    return a;
  }

  /** The job as the RL loop drives it: `actors` plus the learners' (and critics') replica groups, whose lost members this spawner replaces. */
  job(actors: JobActors): Job {
    const zero = this.config.optimizer.zeroStage === 1 ? "optimizer.zeroStage 1: each learner's AdamW shard lives only on it and in checkpoints" : undefined;
    const learners = this.replicas(actors, 'learners', (r) => this.spawnLearner(this.entry('learner', r), true), (h) => h.version(), zero);
    const critics = actors.critics.length ? this.replicas(actors, 'critics', (r) => this.spawnCritic(this.entry('critic', r), true), (h) => h.updates()) : null;
    return { actors, learners, critics, fixedRollouts: actors.rollouts.length };
  }

  /** A replica group over `actors[key]` (replacements spawned by `spawn`, the collective of the same name formed again). */
  private replicas<K extends 'learners' | 'critics', H extends JobActors[K][number]>(
    actors: JobActors,
    key: K,
    spawn: (rank: number) => Promise<H>,
    version: (h: H) => PromiseLike<number>,
    noPeerState?: string,
  ): ReplicaGroup<H> {
    const list = () => actors[key] as H[];
    return new ReplicaGroup<H>(
      {
        role: key.slice(0, -1),
        handles: list,
        set: (r, h) => (list()[r] = h),
        spawn,
        formGroup: () => this.formGroup(key, list()),
        version,
        // Same-role peers: a learner loads from a learner, a critic from a critic.
        loadStateFrom: (h, src) => (h as ActorHandle<LearnerActor>).loadStateFrom(src as ActorHandle<LearnerActor>),
        ...(noPeerState ? { noPeerState } : {}),
      },
      this.log,
    );
  }

  /** Removes the placement groups (their actors end with them). */
  async removeGroups(): Promise<void> {
    for (const pg of Object.values(this.groups)) await pg?.remove().catch(() => undefined);
  }

  /** Spawn options of a layout entry; a replacement gets a fresh name (`learner-1.r1`). */
  private options(a: ActorLayout, replacement: boolean) {
    let local = a.name;
    if (replacement) {
      const n = (this.replaced.get(a.name) ?? 0) + 1;
      this.replaced.set(a.name, n);
      local = `${a.name}.r${n}`;
    }
    const name = this.actorName(local);
    const pg = this.groups[a.group];
    if (!pg) throw new Error(`placement group "${a.group}" was not created; call spawnAll() first`);
    return { name, resources: { CPU: a.cpu, GPU: a.gpu }, placementGroup: pg, bundleIndex: a.bundle, maxRestarts: a.maxRestarts, maxTaskRetries: a.maxTaskRetries };
  }

  /**
   * Spawn options of an elastic pool's actor on node `nodeId` (hard node
   * affinity, no restarts: a node that leaves takes it away); `index` numbers
   * the pool's actors of that role across nodes, after the fixed ones.
   */
  private elasticOptions(role: string, nodeId: string, index: number, demand: { cpus: number; gpus: number }) {
    const name = this.actorName(`${role}-${nodeId}-${index}`.replace(/[^A-Za-z0-9_.:\-/]/g, '_'));
    return { name, resources: { CPU: demand.cpus, GPU: demand.gpus }, nodeAffinity: { nodeId }, maxRestarts: 0 };
  }

  async spawnElasticRollout(nodeId: string, index: number, demand: { cpus: number; gpus: number }, simulators: ActorHandle<SimulatorActor>[]) {
    const h = await this.rt.spawn(RolloutActorClass, [{ index, modelDir: this.inputs.policyDir, tokenizer: this.inputs.tokenizerPath, simulators, device: roleProviders(this.config, 'rollout') }], this.elasticOptions('rollout', nodeId, index, demand));
    this.onSpawn?.(h, 'rollout', { elastic: true });
    return h;
  }

  async spawnElasticSimulator(nodeId: string, index: number, demand: { cpus: number; gpus: number }) {
    const h = await this.rt.spawn(SimulatorActorClass, [this.simulatorSpec(index, 0)], { ...this.elasticOptions('simulator', nodeId, index, demand), maxConcurrency: SIMULATOR_MAX_CONCURRENCY });
    this.onSpawn?.(h, 'simulator', { elastic: true });
    return h;
  }

  /** A simulator's spec: its index, and the backend of simulator bundle `backendOf` (a managed server's port moved past the fixed ones' for an elastic simulator). */
  private simulatorSpec(index: number, backendOf: number): SimulatorActorSpec {
    const sim = this.config.simulator;
    let backend = this.inputs.simulatorBackends[backendOf];
    if (backend.kind === 'managed' && index !== backendOf) backend = { ...backend, port: backend.port + index - backendOf };
    return { index, backend, style: sim.prompt, maxTokens: sim.maxTokens, temperature: sim.temperature, seed: this.config.run.seed, batching: sim.batching };
  }

  spawnSimulator(a: ActorLayout, replacement = false) {
    const spec = this.simulatorSpec(a.index, a.index);
    // Concurrent calls from every rollout must overlap so the batcher can merge them.
    return this.spawned(a, this.rt.spawn(SimulatorActorClass, [spec], { ...this.options(a, replacement), maxConcurrency: SIMULATOR_MAX_CONCURRENCY }));
  }

  spawnLearner(a: ActorLayout, replacement = false) {
    const c = this.config;
    const spec = {
      rank: a.index,
      worldSize: c.layout.rl.bundles,
      modelDir: this.inputs.policyDir,
      algorithm: { name: c.algorithm.name, params: c.algorithm.params, plugins: c.algorithm.plugins },
      optimizer: c.optimizer,
      totalUpdates: c.run.totalSteps * this.layout.updatesPerStep,
      microBatch: c.batch.microBatch,
      device: roleProviders(c, 'learner'),
      zero: c.optimizer.zeroStage === 1,
      ...lossSettings(c),
    };
    return this.spawned(a, this.rt.spawn(LearnerActorClass, [spec], this.options(a, replacement)));
  }

  spawnRollout(a: ActorLayout, simulators: ActorHandle<SimulatorActor>[], replacement = false) {
    return this.spawned(a, this.rt.spawn(RolloutActorClass, [{ index: a.index, modelDir: this.inputs.policyDir, tokenizer: this.inputs.tokenizerPath, simulators, device: roleProviders(this.config, 'rollout') }], this.options(a, replacement)));
  }

  spawnReference(a: ActorLayout, replacement = false) {
    return this.spawned(a, this.rt.spawn(ReferenceActorClass, [{ modelDir: this.inputs.policyDir, device: roleProviders(this.config, 'reference'), microBatch: this.config.batch.microBatch }], this.options(a, replacement)));
  }

  /** PPO: one critic per RL bundle, initialised from the warm-start policy (same value-head seed everywhere). */
  spawnCritic(a: ActorLayout, replacement = false) {
    const c = this.config;
    const spec = { rank: a.index, worldSize: c.layout.rl.bundles, modelDir: this.inputs.policyDir, params: c.algorithm.params, optimizer: c.optimizer, microBatch: c.batch.microBatch, seed: c.run.seed, group: 'critics', device: roleProviders(c, 'critic') };
    return this.spawned(a, this.rt.spawn(CriticActorClass, [spec], this.options(a, replacement)));
  }
}

