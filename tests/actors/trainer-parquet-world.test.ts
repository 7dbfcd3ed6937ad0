import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { CausalLM, Tokenizer, parseModelConfig } from '@cohort/engine';
import { makeDataset, toQARow, writeQAParquet, ZEROSEARCH_TAGS } from '@cohort/zerosearch';
import { Trainer, loadTrainConfig, pickPort, prepareWorld, evalItems } from '../../actors/src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Search-R1-style files written by the test: train/eval parquet from a tiny
 * world, a wiki-18-style corpus.jsonl, and a Hugging Face-layout policy
 * directory (config.json, model.safetensors, tokenizer.json).
 */
async function writeFiles(dir: string): Promise<{ single: number; multi: number }> {
  const ds = makeDataset({ size: 'tiny', seed: 11 });
  mkdirSync(path.join(dir, 'data/eval'), { recursive: true });
  await writeQAParquet(path.join(dir, 'data/train.parquet'), ds.train.slice(0, 30).map(toQARow));
  const single = ds.test.filter((q) => q.hops === 1).slice(0, 5);
  const multi = ds.test.filter((q) => q.hops === 2).slice(0, 5);
  await writeQAParquet(path.join(dir, 'data/eval/nq.parquet'), single.map(toQARow));
  // As in the reference files: no hops column, the data source says multi-hop.
  await writeQAParquet(
    path.join(dir, 'data/eval/hotpotqa.parquet'),
    multi.map((q, i) => {
      const r = toQARow(q, i);
      return { ...r, data_source: 'hotpotqa', extra_info: { split: 'test', index: i } };
    }),
  );
  writeFileSync(path.join(dir, 'data/corpus.jsonl'), ds.corpus.map((d) => JSON.stringify({ id: d.id, contents: `"${d.title}"\n${d.text}` })).join('\n') + '\n');
  const model = path.join(dir, 'models/tiny-qwen');
  mkdirSync(model, { recursive: true });
  const tok = Tokenizer.train([...ds.corpus.map((d) => `${d.title} ${d.text}`), ...ds.train.map((q) => q.question)], { vocabSize: 320, addedTokens: [...ZEROSEARCH_TAGS] });
  tok.save(path.join(model, 'tokenizer.json'));
  const cfg = parseModelConfig({ model_type: 'qwen2', vocab_size: tok.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, tie_word_embeddings: true });
  CausalLM.random(cfg, { seed: 4 }).save(model);
  return { single: single.length, multi: multi.length };
}

test('parquet world + HF policy dir + managed simulator: files on disk run through the Trainer', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-parquet-world-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const counts = await writeFiles(dir);
  const port = await pickPort(0);
  const serve = [process.execPath, path.join(ROOT, 'cli/bin/cohort.mjs'), 'sim', 'serve', '--backend', 'world', '--size', 'tiny', '--seed', '11', '--port', '{port}', '--name', '{model}'];
  const file = path.join(dir, 'parquet.yaml');
  writeFileSync(
    file,
    `run: { name: pq, seed: 2, outDir: runs, totalSteps: 1 }
world:
  kind: parquet
  train: [data/train.parquet]
  eval: { nq: data/eval/nq.parquet, hotpotqa: data/eval/hotpotqa.parquet, unused: data/eval/missing.parquet }
  corpus: data/corpus.jsonl
policy:
  model: { path: models/tiny-qwen }
  tokenizer: { kind: huggingface, path: models/tiny-qwen/tokenizer.json }
simulator:
  backend: openai
  model: world-sim
  maxTokens: 64
  batching: { maxBatch: 8, maxWaitMs: 5 }
  managed: { command: ${JSON.stringify(serve)}, basePort: ${port}, startupTimeoutS: 60 }
layout:
  gpus: { kind: logical, count: 3 }
  simulator: { bundles: 1, cpusPerBundle: 0.5 }
  rl: { bundles: 2, cpusPerBundle: 0.5 }
algorithm: { name: grpo }
optimizer: { lr: 1.0e-3, warmupRatio: 0 }
batch: { promptsPerStep: 2, samplesPerPrompt: 2, miniBatch: 4, microBatch: 4 }
rollout: { maxTurns: 1, topk: 3, maxNewTokensPerTurn: 4, observationTokenCap: 32, contextWindow: 400 }
warmStart: { sftSteps: 2, lr: 1.0e-3, batchSize: 2, cacheDir: cache }
checkpoint: { every: 0 }
eval:
  after: false
  splits:
    - { name: nq, kind: single-hop }
    - { name: hotpotqa, kind: multi-hop, maxQuestions: 3 }
`,
  );
  const { config, sha256 } = await loadTrainConfig(file);

  // The world: train questions, each eval split from its own file (hops from the data source), the corpus.
  const world = await prepareWorld(config, 0, dir);
  t.is(world.train.length, 30);
  t.is(evalItems(world, config.eval.splits[0]).length, counts.single);
  const hot = evalItems(world, config.eval.splits[1]);
  t.is(hot.length, 3);
  t.true(hot.every((q) => q.hops === 2));
  t.true(world.corpus.length > 10 && world.corpus.every((d) => d.title.length > 0 && !d.text.startsWith('"')));

  const { report, runDir } = await new Trainer({ config, configSha256: sha256, cwd: dir, logger: pino({ level: 'silent' }) }).run();
  t.deepEqual(report!.splits.before.map((s) => [s.split, s.questions]), [['nq', counts.single], ['hotpotqa', 3]]);
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trajectories: number });
  t.is(lines.length, 1);
  t.is(lines[0].trajectories, 4);
  // The warm start began from the HF checkpoint (its weights fingerprint is part of the cache key) and was cached.
  t.is(readdirSync(path.join(dir, 'cache')).filter((d) => existsSync(path.join(dir, 'cache', d, 'model.safetensors'))).length, 1);
  // The managed server was stopped with the run.
  await t.throwsAsync(fetch(`http://127.0.0.1:${port}/health`));

  // A split without a file is named with the fix.
  const bad = { ...config, eval: { ...config.eval, splits: [...config.eval.splits, { name: 'triviaqa', kind: 'single-hop' as const }] } };
  await t.throwsAsync(prepareWorld(bad, 0, dir), { message: /eval split\(s\) "triviaqa" have no file in world.eval/ });
});

test('cohort train configs/zerosearch/8gpu.yaml --dry-run: the 8-GPU plan (managed sglang per simulator bundle, colocated RL actors), missing inputs listed, nothing started', async (t) => {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [path.join(ROOT, 'cli/bin/cohort.mjs'), 'train', 'configs/zerosearch/8gpu.yaml', '--dry-run', '--json'], { cwd: ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
  // Qwen2.5-3B at float32 with the reference's context does not fit an 80 GiB GPU: refused (exit 1), the knob named.
  t.is(out.code, 1, out.stderr);
  t.regex(out.stderr, /the layout does not fit in GPU memory: 4 GPU\(s\) do not fit: GPU 4 \(learner-0, rollout-0, reference-0\).*lower rollout.contextWindow to \d+/);
  const doc = JSON.parse(out.stdout) as { params: number; gpus: import('../../actors/src/index.js').GpuMemory[]; plan: import('../../actors/src/index.js').TrainPlan };
  t.deepEqual(Object.keys(doc).sort(), ['gpus', 'params', 'plan']);
  t.is(doc.params, 3_085_938_688);
  t.is(doc.gpus.length, 8);
  const g4 = doc.gpus[4];
  t.deepEqual(Object.keys(g4), ['gpu', 'roles', 'weights_bytes', 'grads_bytes', 'optimizer_bytes', 'activations_bytes', 'kv_cache_bytes', 'total_bytes', 'capacity_bytes', 'fits']);
  t.deepEqual(g4.roles, ['learner-0', 'rollout-0', 'reference-0']);
  t.is(g4.grads_bytes, 4 * 3_085_938_688); // 12.34 GB: the float32 weights of one copy
  t.is(g4.weights_bytes, 3 * 4 * 3_085_938_688); // learner, rollout and reference each hold a copy
  t.is(g4.optimizer_bytes, 8 * 3_085_938_688); // 24.69 GB of AdamW m and v
  t.is(g4.capacity_bytes, 80 * 2 ** 30);
  t.false(g4.fits);
  t.is(doc.gpus[0].fits, null, 'a server-managed simulator GPU is not planned');
  const plan = doc.plan;
  t.deepEqual(plan.gpus, { kind: 'physical', count: 8, used: 8 });
  const sims = plan.actors.filter((a) => a.role === 'simulator');
  t.is(sims.length, 4);
  sims.forEach((a, i) => {
    t.is(a.gpu, 1);
    t.true(a.backend!.includes(`--port ${6001 + i}`) && a.backend!.includes('--model-path models/SearchSimulation_14B'), a.backend);
  });
  // Each RL GPU: learner + rollout + reference, shares summing to the bundle's one GPU.
  for (let b = 0; b < 4; b++) {
    const on = plan.actors.filter((a) => a.role !== 'simulator' && a.bundle === b);
    t.deepEqual(on.map((a) => a.role).sort(), ['learner', 'reference', 'rollout']);
    t.true(Math.abs(on.reduce((s, a) => s + a.gpu, 0) - 1) < 1e-9);
    t.true(on.reduce((s, a) => s + a.cpu, 0) <= 4);
  }
  t.is(plan.trajectoriesPerStep, 320);
  t.true(plan.missing.some((m) => m.startsWith('world.train:')));
  t.true(plan.missing.some((m) => m.startsWith('policy weights:')));
});
