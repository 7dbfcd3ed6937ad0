import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { init } from '@cohort/runtime';
import type { SearchRequest } from '@cohort/zerosearch';
import { SIMULATOR_MAX_CONCURRENCY, SimulatorActorClass, SimulatorPool, Trainer, loadTrainConfig, prepareLocalSimulator, prepareWorld, simulatorBackends } from '../../actors/src/index.js';

function writeConfig(dir: string): string {
  const file = path.join(dir, 'local-sim.yaml');
  writeFileSync(
    file,
    `run: { name: local-sim, seed: 4, outDir: runs, totalSteps: 1 }
world: { kind: synthetic, size: tiny, simPairs: 40 }
policy:
  model: { config: { vocab_size: 320, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512 } }
simulator:
  backend: local
  maxTokens: 12
  batching: { maxBatch: 8, maxWaitMs: 20 }
  model: { config: { vocab_size: 320, hidden_size: 16, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 } }
  tune: { steps: 3, lr: 1.0e-3, batchSize: 2 }
layout:
  gpus: { kind: logical, count: 3 }
  simulator: { bundles: 1, cpusPerBundle: 0.5 }
  rl: { bundles: 2, cpusPerBundle: 0.5 }
algorithm: { name: grpo }
optimizer: { lr: 1.0e-3, warmupRatio: 0 }
batch: { promptsPerStep: 2, samplesPerPrompt: 2, miniBatch: 4, microBatch: 4 }
rollout: { maxTurns: 1, topk: 3, maxNewTokensPerTurn: 4, observationTokenCap: 32, contextWindow: 400 }
warmStart: { sftSteps: 1, lr: 1.0e-3, batchSize: 2, cacheDir: cache/warm-start }
checkpoint: { every: 0 }
eval: { after: false, splits: [{ name: single-hop, kind: single-hop, maxQuestions: 1 }] }
`,
  );
  return file;
}

test('local simulator: tuned on the world pairs once (cached by content hash), served with dynamic batching, wired into the Trainer', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-local-sim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config, sha256 } = await loadTrainConfig(writeConfig(dir));
  const ds = await prepareWorld(config, 0, dir);
  const cacheDir = path.join(dir, 'cache/simulator');
  const steps: number[] = [];
  const first = await prepareLocalSimulator(config, ds, cacheDir, dir, (s) => steps.push(s));
  t.false(first.cached);
  t.deepEqual(steps, [1, 2, 3]);
  t.is(first.report!.steps, 3);
  t.true(Number.isFinite(first.report!.lastLoss));
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tune.json']) t.true(existsSync(path.join(first.dir, f)), f);
  const again = await prepareLocalSimulator(config, ds, cacheDir, dir, () => t.fail('a cached simulator is not tuned again'));
  t.true(again.cached);
  t.is(again.dir, first.dir);

  // The tuned model served by a SimulatorActor in a worker process: concurrent searches share batches.
  const rt = await init({ logLevel: 'silent', resources: { CPU: 2, GPU: 1 } });
  try {
    const [backend] = simulatorBackends(config, dir, first);
    t.is(backend.kind, 'local');
    const actor = await rt.spawn(SimulatorActorClass, [{ index: 0, backend, maxTokens: 12, seed: 1, batching: { maxBatch: 8, maxWaitMs: 20 } }], { resources: { CPU: 0.5, GPU: 1 }, maxConcurrency: SIMULATOR_MAX_CONCURRENCY });
    const pool = new SimulatorPool([actor]);
    const requests: SearchRequest[] = ds.train.slice(0, 8).map((q, i) => ({ query: q.steps[0].query, question: q.question, goldenAnswers: q.goldenAnswers, mode: i % 2 ? 'noisy' : 'useful' }));
    const results = (await Promise.all(requests.map((r) => pool.search([r])))).flat();
    t.is(results.length, 8);
    results.forEach((r, i) => {
      t.is(r.error, undefined);
      t.is(r.mode, requests[i].mode);
      t.is(r.query, requests[i].query);
    });
    const st = await actor.stats();
    t.is(st.requests, 8);
    t.true(st.maxBatch > 1 && st.batches < 8, `batched: ${st.batches} batches, max ${st.maxBatch}`);
  } finally {
    await rt.shutdown();
  }

  // The Trainer finds the same tuned simulator in its cache (warmStart.cacheDir's parent/simulator) and runs.
  const { report } = await new Trainer({ config, configSha256: sha256, cwd: dir, logger: pino({ level: 'silent' }) }).run();
  t.true(report!.stages.simulator >= 0);
  t.deepEqual(readdirSync(cacheDir), [path.basename(first.dir)]);
});
