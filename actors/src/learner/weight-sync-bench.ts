import { readFileSync } from 'node:fs';
import { decoderParamSpecs, parseModelConfig, type ModelConfigInput } from '@cohort/engine';
import { actorClass, init, type ActorHandle } from '@cohort/runtime';
import { decodeWeights, releaseReceivedWeights, WeightPublisher, type WeightTransport } from './weight-publisher.js';

/** Qwen2.5-0.5B's shapes (494 M parameters with tied embeddings): the "0.5 B fp32 buffer set". */
export const QWEN05B_SHAPES: ModelConfigInput = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  tie_word_embeddings: true,
};

/**
 * The receiving end of a weight sync without an ONNX model: it takes weights
 * the way a rollout does (`setWeights` over the bulk path, `loadWeightsFile`
 * from shared memory), copies them into tensors of its own (what
 * `CausalLM.loadParams` does) and, unless built with `release: false`, gives
 * the received arrays back to the runtime (`releaseReceivedWeights`).
 */
export class WeightSink {
  private readonly own = new Map<string, Float32Array>();
  private current = -1;
  private given = 0;

  constructor(private readonly spec: { release: boolean }) {}

  setWeights(version: number, params: Map<string, Float32Array>): number {
    this.copy(params);
    this.current = version;
    if (this.spec.release) this.given += releaseReceivedWeights(params);
    return version;
  }

  /** How many received arrays were given back to the runtime so far. */
  released(): number {
    return this.given;
  }

  loadWeightsFile(version: number, file: string): number {
    this.copy(decodeWeights(readFileSync(file), version));
    this.current = version;
    return version;
  }

  version(): number {
    return this.current;
  }

  /** Sum of every element (to check that what arrived is what was sent). */
  sum(): number {
    let s = 0;
    for (const v of this.own.values()) for (let i = 0; i < v.length; i += 4096) s += v[i];
    return s;
  }

  private copy(params: Map<string, Float32Array>): void {
    for (const [k, v] of params) {
      const o = this.own.get(k);
      if (o && o.length === v.length) o.set(v);
      else this.own.set(k, new Float32Array(v)); // one memcpy (same element type)
    }
  }
}

export const WeightSinkActor = actorClass<typeof WeightSink>(import.meta.url, 'WeightSink');

/** One buffer set to sync: a name and the model config whose parameter shapes it has. */
export interface WeightSyncSet {
  name: string;
  config: ModelConfigInput;
}

/** Figures of one (buffer set, transport) pair. */
export interface WeightSyncFigure {
  set: string;
  params: number;
  bytes: number;
  /** `bulk` (receiver releases), `bulk-keep` (receiver keeps the arrays: the old rollout), `shm`. */
  transport: 'bulk' | 'bulk-keep' | 'shm';
  /** Seconds of each publish, the first included (it also allocates the receiver's own tensors). */
  seconds: number[];
  /** Mean over the publishes after the first. */
  steady_s: number;
  steady_gb_per_s: number;
  /** Median over the publishes after the first (robust to a busy machine's stalls). */
  median_s: number;
}

/**
 * Times `WeightPublisher.publish` (what learner 0 runs each step: encode to
 * safetensors, then every rollout loads the version) from this process to one
 * {@link WeightSink} worker, per buffer set: over the bulk path with the
 * receiver releasing what it got, over the bulk path keeping it, and through a
 * shared-memory file. `rounds` publishes each (≥ 2).
 */
export async function runWeightSyncBench(o: { sets: WeightSyncSet[]; rounds: number; progress?: (line: string) => void }): Promise<WeightSyncFigure[]> {
  const rt = await init({ logLevel: 'silent', resources: { CPU: 2 } });
  const out: WeightSyncFigure[] = [];
  try {
    for (const set of o.sets) {
      const cfg = parseModelConfig(set.config);
      let params: Map<string, Float32Array> | undefined = new Map();
      let n = 0;
      for (const s of decoderParamSpecs(cfg)) {
        const len = s.shape.reduce((a, b) => a * b, 1);
        params.set(s.name, new Float32Array(len).fill(1 / 1024));
        n += len;
      }
      for (const transport of ['bulk', 'bulk-keep', 'shm'] as const) {
        const sink = (await rt.spawn(WeightSinkActor, [{ release: transport !== 'bulk-keep' }], { resources: { CPU: 1 } })) as ActorHandle<WeightSink>;
        const pub = new WeightPublisher(`bench-${process.pid}`, undefined);
        const how: WeightTransport = transport === 'shm' ? 'shm' : 'bulk';
        const seconds: number[] = [];
        let bytes = 0;
        try {
          await sink.version(); // the worker is up: the first publish times the sync, not the start
          for (let v = 1; v <= o.rounds; v++) {
            const r = await pub.publish(v, params, [{ handle: sink, nodeId: undefined }], how);
            if (r.failed.length) throw new Error(`weight sync bench: ${r.failed.join('; ')}`);
            seconds.push(r.seconds);
            bytes = r.bytes;
          }
          const want = [...params.values()].reduce((s, a) => s + Math.ceil(a.length / 4096) / 1024, 0);
          const got = await sink.sum();
          if (Math.abs(got - want) > 1e-6 * Math.max(1, want)) throw new Error(`weight sync bench: the sink holds sum ${got}, expected ${want}`);
        } finally {
          pub.close();
          await sink.$kill();
        }
        const rest = seconds.slice(1).sort((a, b) => a - b);
        const steady = rest.reduce((a, b) => a + b, 0) / rest.length;
        const median = rest.length % 2 ? rest[(rest.length - 1) / 2] : (rest[rest.length / 2 - 1] + rest[rest.length / 2]) / 2;
        const f: WeightSyncFigure = {
          set: set.name,
          params: n,
          bytes,
          transport,
          seconds: seconds.map((s) => +s.toFixed(4)),
          steady_s: +steady.toFixed(4),
          steady_gb_per_s: +(bytes / steady / 1e9).toFixed(3),
          median_s: +median.toFixed(4),
        };
        o.progress?.(`${set.name} ${transport}: ${f.steady_s} s per sync (${f.steady_gb_per_s} GB/s; median ${f.median_s} s), first ${f.seconds[0]} s`);
        out.push(f);
      }
      params = undefined;
    }
  } finally {
    await rt.shutdown();
  }
  return out;
}
