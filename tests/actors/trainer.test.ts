import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { curriculumNoiseP } from '@cohort/zerosearch';
import { Trainer, findLatestCheckpoint, loadTrainConfig, readCheckpoint } from '../../actors/src/index.js';

test('a tiny end-to-end run across worker processes: metrics per step, curriculum p, versions, checkpoint, report, exact resume', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tiny.yaml');
  writeFileSync(
    file,
    `run: { name: tiny, seed: 3, outDir: ${JSON.stringify(path.join(dir, 'runs'))}, totalSteps: 3 }
world: { kind: synthetic, size: tiny }
policy:
  model: { config: { vocab_size: 320, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512 } }
simulator: { backend: template, batching: { maxBatch: 8, maxWaitMs: 5 } }
layout:
  gpus: { kind: logical, count: 3 }
  simulator: { bundles: 1, cpusPerBundle: 0.5 }
  rl: { bundles: 2, cpusPerBundle: 0.5 }
algorithm: { name: grpo }
optimizer: { lr: 1.0e-3, warmupRatio: 0 }
curriculum: { mode: curriculum, ps: 0.1, pe: 0.5, base: 4 }
batch: { promptsPerStep: 2, samplesPerPrompt: 2, miniBatch: 2, microBatch: 2 }
rollout: { maxTurns: 1, topk: 3, maxNewTokensPerTurn: 4, observationTokenCap: 32, contextWindow: 400 }
warmStart: { sftSteps: 1, lr: 1.0e-3, batchSize: 2, cacheDir: ${JSON.stringify(path.join(dir, 'cache'))} }
checkpoint: { every: 2, keep: 0 }
eval:
  splits:
    - { name: single-hop, kind: single-hop, maxQuestions: 2 }
    - { name: two-hop, kind: multi-hop, maxQuestions: 2 }
`,
  );
  const { config, sha256 } = await loadTrainConfig(file);
  const stages = new Set<string>();
  const { report, runDir } = await new Trainer({ config, configSha256: sha256, onProgress: (p) => stages.add(p.stage), logger: pino({ level: 'silent' }) }).run();
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => l.step), [0, 1, 2]);
  // Curriculum: p per step from Eq. 1 with m = totalSteps.
  lines.forEach((l, i) => t.true(Math.abs(l.noiseP - curriculumNoiseP(i, 3, 0.1, 0.5, 4)) < 1e-9, `step ${i} p ${l.noiseP}`));
  // Two mini-batches of 2 per step (4 trajectories): the version advances by 2 each step, and
  // sync mode saw no stale token (rollouts always had the learners' current weights).
  t.deepEqual(lines.map((l) => l.policyVersion), [2, 4, 6]);
  t.true(lines.every((l) => l.trajectories === 4 && l.staleness.maxLag === 0));
  for (const k of ['generate', 'search', 'oldLogprob', 'ref', 'update', 'allreduce', 'weightSync', 'total']) t.true(lines[0].timings[k] >= 0, k);
  const ck = readCheckpoint(findLatestCheckpoint(path.join(runDir, 'checkpoints'))!, { configSha256: sha256 });
  t.is(ck.manifest.step, 3);
  t.is(ck.manifest.policyVersion, 6);
  t.is(ck.manifest.curriculumStep, 3);
  t.true(ck.readFile('policy').byteLength > 0);
  const onDisk = JSON.parse(readFileSync(path.join(runDir, 'report.json'), 'utf8'));
  for (const k of ['em_before', 'em_after', 'em_twohop_before', 'em_twohop_after', 'wall_s']) t.is(typeof onDisk[k], 'number', k);
  t.is(report!.seed, 3);
  t.true(['warm-start', 'eval-before', 'rl', 'eval-after'].every((s) => stages.has(s)));

  // Resume from the step-2 checkpoint: the re-run step 3 gives bit-identical policy and optimizer state.
  const ckDir = path.join(runDir, 'checkpoints');
  const sha = (f: string) => createHash('sha256').update(readFileSync(path.join(ckDir, 'step-000003', f))).digest('hex');
  const uninterrupted = [sha('policy.safetensors'), sha('optimizer.safetensors')];
  rmSync(path.join(ckDir, 'step-000003'), { recursive: true });
  writeFileSync(path.join(ckDir, 'latest'), 'step-000002\n');
  await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }), resume: true }).run();
  t.deepEqual([sha('policy.safetensors'), sha('optimizer.safetensors')], uninterrupted);
});
