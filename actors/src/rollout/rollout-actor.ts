import { readFileSync } from 'node:fs';
import { CausalLM, type ExecutionProvider, Tokenizer } from '@cohort/engine';
import { actorClass, actorContext, inActor, type ActorHandle } from '@cohort/runtime';
import type { Logger } from 'pino';
import { SimulatorPool } from '../simulator/simulator-pool.js';
import type { SimulatorActor } from '../simulator/simulator-actor.js';
import { paramChecksum } from '../learner/param-checksum.js';
import { decodeWeights, releaseReceivedWeights } from '../learner/weight-publisher.js';
import { encodeTrajectories } from '../trajectory/codec.js';
import { runPolicyRollouts, type PolicyRolloutOptions, type RolloutPrompt, type RolloutTimings } from './policy-rollout.js';

/** Constructor argument of a RolloutActor. */
export interface RolloutActorSpec {
  /** Execution providers of this actor's sessions (config `devices`; default cpu). */
  device?: ExecutionProvider[];
  index: number;
  /** Model directory (config.json + model.safetensors): the initial (warm-started) policy. */
  modelDir: string;
  /** `tokenizer.json` path. */
  tokenizer: string;
  /** The simulator actors (load-balanced). */
  simulators: ActorHandle<SimulatorActor>[];
  /** Weight version of the model in `modelDir`. */
  version?: number;
}

/** What one `rollout` call returns: the binary trajectories plus counters. */
export interface RolloutBatch {
  /** encodeTrajectories() of the finished trajectories. */
  trajectories: Uint8Array;
  count: number;
  version: number;
  timings: RolloutTimings;
  /** Requests this rollout sent to each simulator actor so far. */
  sentPerSimulator: number[];
}

/**
 * Runs the multi-turn template with the current policy weights on its share
 * of the RL GPU, sends searches to the simulator pool with the curriculum's p,
 * and returns finished trajectories in binary form. Weights arrive by version
 * from learner 0, by version: a shared-memory file (`loadWeightsFile`) on the
 * same machine, the tensors over the bulk path (`setWeights`) otherwise; the
 * version is recorded on every generated token.
 */
export class RolloutActor {
  private readonly model: CausalLM;
  private readonly tokenizer: Tokenizer;
  private pool: SimulatorPool;
  private current: number;
  private readonly log: Logger | undefined;

  constructor(private readonly spec: RolloutActorSpec) {
    this.model = CausalLM.load(spec.modelDir, spec.device ? { executionProviders: spec.device } : {});
    this.tokenizer = Tokenizer.fromFile(spec.tokenizer);
    this.pool = new SimulatorPool(spec.simulators);
    this.current = spec.version ?? 0;
    this.log = inActor() ? actorContext().logger.child({ actor: `rollout-${spec.index}` }) : undefined;
  }

  /** Sends later searches to these simulators (the elastic pool grew or shrank); calls in progress finish on the old set. */
  setSimulators(simulators: ActorHandle<SimulatorActor>[]): number {
    this.pool = new SimulatorPool(simulators);
    return simulators.length;
  }

  /** Weight version in use. */
  version(): number {
    return this.current;
  }

  /**
   * Loads new policy weights (graph-layout tensors by name) as version
   * `version`. They are copied into the model's own tensors; the arrays that
   * came over the bulk path are then given back to the runtime for the next sync.
   */
  setWeights(version: number, params: Map<string, Float32Array>): number {
    if (!Number.isInteger(version) || version < this.current) {
      throw new Error(`setWeights: version ${version} is older than the loaded ${this.current}; weights only move forward`);
    }
    if (skipsWeightLoad(version)) {
      // Test-only fault: the publish "succeeds" but the old weights stay (what the staleness guard must catch).
      this.current = version;
      releaseReceivedWeights(params);
      return version;
    }
    this.model.loadParams(params);
    this.current = version;
    const released = releaseReceivedWeights(params);
    this.log?.debug({ version, released }, 'weights loaded');
    return version;
  }

  /** A checksum of the loaded weights (equal to the learner's `paramChecksum` when they match). */
  paramChecksum(): number {
    return paramChecksum(this.model.params);
  }

  /** Loads version `version` from a weights file the learner wrote to shared memory (same machine). */
  loadWeightsFile(version: number, file: string): number {
    if (!Number.isInteger(version) || version < this.current) {
      throw new Error(`loadWeightsFile: version ${version} is older than the loaded ${this.current}; weights only move forward`);
    }
    return this.setWeights(version, decodeWeights(readFileSync(file), version));
  }

  /**
   * The learners went back to a checkpoint of version `version`: weights of
   * that version may be published again (they only move forward otherwise).
   * The driver publishes them right after; nothing is generated in between.
   */
  rewind(version: number): number {
    if (Number.isInteger(version) && version >= 0 && version < this.current) this.current = version;
    return this.current;
  }

  /** Rolls out `samplesPerPrompt` trajectories for each prompt with the current weights. */
  async rollout(prompts: RolloutPrompt[], opts: Omit<PolicyRolloutOptions, 'version'>): Promise<RolloutBatch> {
    const r = await runPolicyRollouts(this.model, this.tokenizer, this.pool, prompts, { ...opts, version: this.current });
    this.log?.debug({ step: opts.step, trajectories: r.trajectories.length }, 'rollout done');
    return {
      trajectories: encodeTrajectories(r.trajectories),
      count: r.trajectories.length,
      version: this.current,
      timings: r.timings,
      sentPerSimulator: [...this.pool.sent],
    };
  }
}

/**
 * Test-only fault hook: with `COHORT_TEST_SKIP_WEIGHT_LOAD=N` in a rollout's environment,
 * every weight publish of version ≥ N records the version without loading the weights, as a
 * weight sync that silently failed would. Never set it outside tests.
 */
export const SKIP_WEIGHT_LOAD_ENV = 'COHORT_TEST_SKIP_WEIGHT_LOAD';

function skipsWeightLoad(version: number): boolean {
  const v = process.env[SKIP_WEIGHT_LOAD_ENV];
  return v !== undefined && v !== '' && version >= Number(v);
}

/** Spawnable reference to RolloutActor. */
export const RolloutActorClass = actorClass<typeof RolloutActor>(import.meta.url, 'RolloutActor');
