import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SIMULATOR_MAX_CONCURRENCY, SimulatorActorClass, SimulatorPool, Trainer, loadTrainConfig, type SimulatorActorSpec } from '@cohort/actors';
import { CausalLM, Tokenizer, parseModelConfig } from '@cohort/engine';
import { init, type Runtime } from '@cohort/runtime';
import { runAllreduceBench } from '@cohort/runtime/bench';
import { connect, resolveClusterTarget } from '@cohort/cluster';
import { makeDataset, ZEROSEARCH_TAGS } from '@cohort/zerosearch';
import { pino } from 'pino';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { cacheDir } from './zerosearch-common.js';

/**
 * The tiny pipeline. The warm start must teach the policy the template well
 * enough that it emits "<search> … </search>" within a turn's tokens (with 20
 * SFT steps and 16 tokens a turn it never did, so the simulator saw no request
 * and its batch figures were 0); it is cached across bench runs by content hash.
 */
function tinyConfig(dir: string, name: string, steps: number, mode: string, rlStrategy = 'PACK'): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `run: { name: ${name}, seed: 5, outDir: ${JSON.stringify(path.join(dir, 'runs'))}, totalSteps: ${steps} }
world: { kind: synthetic, size: tiny }
policy:
  model: { config: { vocab_size: 400, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512 } }
simulator: { backend: template, batching: { maxBatch: 16, maxWaitMs: 5 } }
layout:
  gpus: { kind: logical, count: 3 }
  simulator: { bundles: 1, cpusPerBundle: 0.5 }
  rl: { bundles: 2, cpusPerBundle: 0.5, strategy: ${rlStrategy} }
algorithm: { name: grpo }
optimizer: { lr: 1.0e-3, warmupRatio: 0 }
batch: { promptsPerStep: 8, samplesPerPrompt: 2, miniBatch: 16, microBatch: 8 }
rollout: { maxTurns: 1, topk: 3, maxNewTokensPerTurn: 48, observationTokenCap: 64, contextWindow: 400 }
warmStart: { sftSteps: 400, lr: 3.0e-3, batchSize: 4, demoShare: 0.9, cacheDir: ${JSON.stringify(path.join(cacheDir(), 'bench-pipeline', 'warm-start'))} }
checkpoint: { every: 0 }
mode: ${mode}
eval: { before: false, after: false, splits: [{ name: single-hop, kind: single-hop, maxQuestions: 1 }] }
`,
  );
  return file;
}

interface Line {
  trajectories: number;
  searches: number;
  idleRatio: number;
  timings: Record<string, number>;
  simulatorBatch: { mean: number; max: number; batches: number };
  transfer?: { weightSyncBytes: number; weightSyncBulk: number; allreduceBytes: number; allreduceBusbw: number };
  nodes?: Record<string, string>;
}

/** Means over a run's measured steps of what placement changes: throughput, idle ratio, weight sync, the learners' all-reduce (÷ raw TCP of the same run). */
function placement(ls: Line[], rawTcpGbPerS: number) {
  const busbw = mean(ls.map((l) => l.transfer?.allreduceBusbw ?? 0));
  return {
    trajectories_per_s: mean(ls.map((l) => l.trajectories)) / mean(ls.map((l) => l.timings.total)),
    learner_idle_ratio: mean(ls.map((l) => l.idleRatio)),
    weight_sync_s: mean(ls.map((l) => l.timings.weightSync)),
    weight_sync_bulk_rollouts: Math.round(mean(ls.map((l) => l.transfer?.weightSyncBulk ?? 0))),
    allreduce_bytes: mean(ls.map((l) => l.transfer?.allreduceBytes ?? 0)),
    allreduce_busbw_gb_per_s: busbw,
    allreduce_busbw_vs_tcp: rawTcpGbPerS > 0 ? busbw / rawTcpGbPerS : 0,
    nodes: [...new Set(ls.flatMap((l) => Object.values(l.nodes ?? {})))].sort(),
  };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
const batchMean = (ls: Line[]) => {
  const n = ls.reduce((s, l) => s + l.simulatorBatch.batches, 0);
  return n ? ls.reduce((s, l) => s + l.simulatorBatch.mean * l.simulatorBatch.batches, 0) / n : 0;
};

async function runPipeline(dir: string, name: string, steps: number, mode: string, o: { runtime?: Runtime; rlStrategy?: string } = {}): Promise<Line[]> {
  const { config, sha256 } = await loadTrainConfig(tinyConfig(dir, name, steps, mode, o.rlStrategy));
  const { runDir } = await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }), runtime: o.runtime }).run();
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
}

/** A tiny random local simulator model (config.json, model.safetensors, tokenizer.json) in `dir`: an LLM backend whose cost per call batching can amortise. */
function tinySimulatorModel(dir: string, texts: string[]): string {
  const out = path.join(dir, 'sim-model');
  mkdirSync(out, { recursive: true });
  const tok = Tokenizer.train(texts, { vocabSize: 400, addedTokens: [...ZEROSEARCH_TAGS] });
  tok.save(path.join(out, 'tokenizer.json'));
  const cfg = parseModelConfig({ model_type: 'qwen2', vocab_size: tok.vocabSize, hidden_size: 64, intermediate_size: 192, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024, tie_word_embeddings: true });
  CausalLM.random(cfg, { seed: 5 }).save(out);
  return out;
}

interface BatchingFigure {
  batchedPerS: number;
  unbatchedPerS: number;
  speedup: number;
  meanBatch: number;
}

/**
 * Searches/s through one SimulatorActor with batching on (max batch 32) vs
 * max batch 1, same requests, same run: the template simulator (no model,
 * per-request CPU work, nothing to amortise) and a tiny local ONNX model
 * (32 new tokens per search; a batch shares each decoding step).
 */
async function simulatorBatching(dir: string, requests: number): Promise<{ template: BatchingFigure; local: BatchingFigure }> {
  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 2 } });
  try {
    const ds = makeDataset({ size: 'tiny', seed: 5 });
    const reqs = Array.from({ length: requests }, (_, i) => {
      const q = ds.train[i % ds.train.length];
      return { query: q.steps[0].query, question: q.question, goldenAnswers: [...q.goldenAnswers], mode: (i % 2 ? 'noisy' : 'useful') as 'noisy' | 'useful' };
    });
    const modelDir = tinySimulatorModel(dir, ds.simPairs.map((p) => `${p.prompt}\n${p.output}`));
    const rate = async (backend: SimulatorActorSpec['backend'], maxBatch: number, n: number) => {
      const a = await rt.spawn(SimulatorActorClass, [{ index: maxBatch, backend, maxTokens: 32, batching: { maxBatch, maxWaitMs: 5 } }], { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: SIMULATOR_MAX_CONCURRENCY });
      const pool = new SimulatorPool([a]);
      await pool.search(reqs.slice(0, 2)); // warm up
      await a.resetStats();
      const t0 = performance.now();
      await Promise.all(reqs.slice(0, n).map((r) => pool.search([r])));
      const s = (performance.now() - t0) / 1000;
      const st = await a.stats();
      await a.$kill();
      return { perS: n / s, meanBatch: st.meanBatch };
    };
    const figure = async (backend: SimulatorActorSpec['backend'], n: number): Promise<BatchingFigure> => {
      const one = await rate(backend, 1, n);
      const many = await rate(backend, 32, n);
      return { batchedPerS: many.perS, unbatchedPerS: one.perS, speedup: many.perS / one.perS, meanBatch: many.meanBatch };
    };
    return {
      template: await figure({ kind: 'template', world: { size: 'tiny', seed: 5 } }, requests),
      local: await figure({ kind: 'local', modelDir, tokenizer: path.join(modelDir, 'tokenizer.json') }, Math.min(requests, 64)),
    };
  } finally {
    await rt.shutdown();
  }
}

commands.push({
  path: ['bench', 'pipeline'],
  summary: 'benchmark the ZeroSearch training pipeline (tiny world): throughput, step split, batching, async/sync',
  usage: `Usage: cohort bench pipeline [--steps N] [--allreduce-mib M] [--address NATS_URL [--token-file F]] [--json]

Runs a tiny ZeroSearch pipeline (1 simulator + 2 RL bundles, logical GPUs) in
sync and async mode for N steps each (default 4; the first step, which pays
worker start-up, is left out of the means) and reports trajectories/s, the
step-time split, simulator batch sizes, learner idle ratio, the async/sync
step-time ratio, the simulator batching speed-up against batch size 1 (a tiny
local ONNX simulator model and the model-free template simulator), and the
ring all-reduce bandwidth among 2 and 4 learner-like actor processes (M MiB of
float32, default 16) against one raw TCP stream measured in the same run.
The policy's warm start (400 SFT steps, so it searches) is cached under
$COHORT_CACHE or ~/.cache/cohort/bench-pipeline; the first run pays for it.
--address (or COHORT_ADDRESS; token from --token-file or COHORT_TOKEN) also runs
the sync pipeline on that cluster, RL bundles spread over its nodes (SPREAD; on
one machine the same config packs), beside the same config run locally in the
same process: trajectories/s, learner idle ratio, weight-sync seconds, rollouts
fed over the bulk path, and the learners' all-reduce bus bandwidth ÷ the raw
TCP figure of this run.`,
  async run(argv) {
    const { values } = parseFlags(argv, { steps: { type: 'string' }, 'allreduce-mib': { type: 'string' }, json: { type: 'boolean' }, address: { type: 'string' }, 'token-file': { type: 'string' } }, false);
    const steps = values.steps === undefined ? 4 : Number(values.steps);
    if (!Number.isInteger(steps) || steps < 2) throw new UsageError(`--steps must be an integer >= 2, found "${values.steps}"`);
    const mib = values['allreduce-mib'] === undefined ? 16 : Number(values['allreduce-mib']);
    if (!Number.isInteger(mib) || mib < 1 || mib > 1024) throw new UsageError(`--allreduce-mib must be an integer from 1 to 1024, found "${values['allreduce-mib']}"`);
    const dir = mkdtempSync(path.join(tmpdir(), 'cohort-bench-pipeline-'));
    try {
      const target = values.address || process.env.COHORT_ADDRESS ? resolveClusterTarget({ address: values.address, tokenFile: values['token-file'] }) : undefined;
      const rlStrategy = target ? 'SPREAD' : 'PACK';
      const sync = (await runPipeline(dir, 'bench-sync', steps, '{ kind: sync }', { rlStrategy })).slice(1);
      let onCluster: Line[] | undefined;
      if (target) {
        const rt = await connect(target.url, { ...target.auth, runtime: { logLevel: 'silent' } });
        try {
          onCluster = (await runPipeline(dir, 'bench-cluster', steps, '{ kind: sync }', { runtime: rt, rlStrategy })).slice(1);
        } finally {
          await rt.shutdown();
        }
      }
      const asyn = (await runPipeline(dir, 'bench-async', steps, '{ kind: async, maxStaleness: 1, correction: importance }')).slice(1);
      const sim = await simulatorBatching(dir, 64);
      const allreduce = [];
      for (const world of [2, 4]) allreduce.push(await runAllreduceBench({ world, bytes: mib * 1024 * 1024, rounds: 5 }));
      const split = (ls: Line[]) => Object.fromEntries(Object.keys(ls[0].timings).map((k) => [k, mean(ls.map((l) => l.timings[k]))]));
      const syncStep = mean(sync.map((l) => l.timings.total));
      const asyncStep = mean(asyn.map((l) => l.timings.total));
      const out = {
        steps_measured: sync.length,
        trajectories_per_s_sync: mean(sync.map((l) => l.trajectories)) / syncStep,
        trajectories_per_s_async: mean(asyn.map((l) => l.trajectories)) / asyncStep,
        step_split_sync_s: split(sync),
        searches_per_trajectory_sync: mean(sync.map((l) => l.searches)),
        // Weighted by batches: a step with no search says nothing about batch sizes.
        simulator_batch_mean: batchMean(sync),
        simulator_batch_max: Math.max(0, ...sync.map((l) => l.simulatorBatch.max)),
        learner_idle_ratio_sync: mean(sync.map((l) => l.idleRatio)),
        learner_idle_ratio_async: mean(asyn.map((l) => l.idleRatio)),
        async_sync_step_time_ratio: asyncStep / syncStep,
        simulator_batching: sim,
        allreduce,
        ...(onCluster ? { cluster_vs_local: { local: placement(sync, allreduce[0].raw_tcp_gb_per_s), cluster: placement(onCluster, allreduce[0].raw_tcp_gb_per_s) } } : {}),
      };
      if (values.json) process.stdout.write(JSON.stringify(out) + '\n'); // lint-allow-console
      else {
        const lines = [
          `trajectories/s          sync ${out.trajectories_per_s_sync.toFixed(2)}   async ${out.trajectories_per_s_async.toFixed(2)}`,
          `step time (s, sync)     ${Object.entries(out.step_split_sync_s).map(([k, v]) => `${k} ${v.toFixed(2)}`).join('  ')}`,
          `simulator batch         mean ${out.simulator_batch_mean.toFixed(1)}  max ${out.simulator_batch_max}  (${out.searches_per_trajectory_sync.toFixed(2)} searches per trajectory)`,
          `learner idle ratio      sync ${out.learner_idle_ratio_sync.toFixed(2)}   async ${out.learner_idle_ratio_async.toFixed(2)}`,
          `async/sync step time    ${out.async_sync_step_time_ratio.toFixed(2)}`,
          ...(['local', 'template'] as const).map(
            (k) =>
              `simulator batching      ${k === 'local' ? 'local model' : 'template   '} ${sim[k].batchedPerS.toFixed(0)} vs ${sim[k].unbatchedPerS.toFixed(0)} searches/s (batch 1): ${sim[k].speedup.toFixed(2)}x, mean batch ${sim[k].meanBatch.toFixed(1)}`,
          ),
          ...allreduce.map(
            (a) =>
              `all-reduce W=${a.world}          ${(a.bytes / 2 ** 20).toFixed(0)} MiB in ${a.ms.toFixed(1)} ms: algbw ${a.algbw_gb_per_s.toFixed(2)} GB/s, busbw ${a.busbw_gb_per_s.toFixed(2)} GB/s vs raw TCP ${a.raw_tcp_gb_per_s.toFixed(2)} GB/s (${a.busbw_vs_tcp.toFixed(2)}x)`,
          ),
        ];
        if (out.cluster_vs_local) {
          for (const [k, v] of Object.entries(out.cluster_vs_local)) {
            lines.push(
              `${k.padEnd(8)} (same config) ${v.trajectories_per_s.toFixed(2)} trajectories/s, idle ${v.learner_idle_ratio.toFixed(2)}, weight sync ${v.weight_sync_s.toFixed(3)} s (${v.weight_sync_bulk_rollouts} of the rollouts over the bulk path), all-reduce ${(v.allreduce_bytes / 1024).toFixed(0)} KiB busbw ${v.allreduce_busbw_gb_per_s.toFixed(4)} GB/s = ${v.allreduce_busbw_vs_tcp.toFixed(4)}x raw TCP; nodes ${v.nodes.join(', ')}`,
            );
          }
        }
        process.stdout.write(lines.join('\n') + '\n'); // lint-allow-console
      }
      return 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});
