import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { curriculumNoiseP } from '@cohort/zerosearch';
import { Trainer, findLatestCheckpoint, loadTrainConfig, readCheckpoint } from '../../actors/src/index.js';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

test('a tiny end-to-end run across worker processes: metrics per step, curriculum p, versions, checkpoint, report, exact resume', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'tiny', seed: 3, totalSteps: 3, algorithm: 'grpo', extra: 'curriculum: { mode: curriculum, ps: 0.1, pe: 0.5, base: 4 }\n' });
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

test('async mode across worker processes: the next step rolls out while the learners train, staleness stays within the bound', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-async-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'tiny-async', seed: 5, totalSteps: 3, algorithm: 'grpo', extra: 'mode: { kind: async, maxStaleness: 2, correction: importance }\n' });
  const { config, sha256 } = await loadTrainConfig(file);
  const { runDir } = await new Trainer({ config, configSha256: sha256, logger: pino({ level: 'silent' }) }).run();
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => l.step), [0, 1, 2]);
  t.deepEqual(lines.map((l) => l.policyVersion), [2, 4, 6]);
  t.true(lines.every((l) => l.trajectories === 4), 'no trajectory lost');
  // Step 0 is on-policy; later steps were generated one step behind (2 updates), within maxStaleness.
  t.is(lines[0].staleness.maxLag, 0);
  t.true(lines.slice(1).every((l) => l.staleness.maxLag === 2 && l.staleness.dropped === 0), JSON.stringify(lines.map((l) => l.staleness)));
});
