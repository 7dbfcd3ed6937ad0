// The shipped base policy (issue 12 item 6): `cohort warm-start` re-makes a
// short version through the same command the shipped one came from, and its
// MANIFEST.json records that command, the config hash and each file's sha256.
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fromScratchOverrides, loadTrainConfig, verifyBasePolicy } from '../../actors/src/index.js';
import { Tokenizer } from '../../engine/src/index.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const bin = path.join(ROOT, 'cli/bin/cohort.mjs');
const LOCAL = 'configs/zerosearch/local.yaml';
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('--from-scratch overrides: the fromScratch architecture and world tokenizer, warm start on', async (t) => {
  const shipped = (await loadTrainConfig(path.join(ROOT, LOCAL))).config;
  t.true('path' in shipped.policy.model, 'local.yaml loads the shipped policy');
  t.false(shipped.warmStart.enabled);
  const scratch = (await loadTrainConfig(path.join(ROOT, LOCAL), { overrides: fromScratchOverrides(shipped) })).config;
  t.true('config' in scratch.policy.model);
  t.is('config' in scratch.policy.model ? scratch.policy.model.config.hidden_size : 0, shipped.policy.fromScratch!.config.hidden_size);
  t.deepEqual(scratch.policy.tokenizer, { kind: 'world' });
  t.true(scratch.warmStart.enabled);
  t.is(scratch.warmStart.sftSteps, shipped.warmStart.sftSteps);
});

test('cohort warm-start re-makes a short base policy; the manifest names the command, config hash and sha256 of each file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-warm-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'policy');
  const sets = [`warmStart.sftSteps=3`, `warmStart.cacheDir=${path.join(dir, 'cache')}`, `run.outDir=${path.join(dir, 'runs')}`, 'eval.splits=[{name: single-hop, kind: single-hop, maxQuestions: 2}, {name: two-hop, kind: multi-hop, maxQuestions: 2}]'];
  const argv = ['warm-start', LOCAL, '--out', out, ...sets.flatMap((s) => ['--set', s]), '--json'];
  const { stdout } = await run(process.execPath, [bin, ...argv], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 });
  const printed = JSON.parse(stdout) as Record<string, unknown>;
  const m = verifyBasePolicy(out);
  t.deepEqual(printed, JSON.parse(JSON.stringify(m)));
  t.true(m.command.startsWith(`cohort warm-start ${LOCAL} --out ${out} --set warmStart.sftSteps=3 `));
  t.regex(m.command, /--set 'eval\.splits=\[\{name: single-hop/);
  // the config hash is the one `cohort train --from-scratch` with the same --set would record
  const base = await loadTrainConfig(path.join(ROOT, LOCAL), { overrides: sets });
  const scratch = await loadTrainConfig(path.join(ROOT, LOCAL), { overrides: [...sets, ...fromScratchOverrides(base.config)] });
  t.is(m.configSha256, scratch.sha256);
  t.deepEqual(m.overrides, [...sets, ...fromScratchOverrides(base.config)]);
  t.is(m.warmStart.sftSteps, 3);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) t.is(m.sha256[f], sha(path.join(out, f)), f);
  const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as { hidden_size: number; vocab_size: number };
  t.is(cfg.hidden_size, 128);
  t.true(cfg.vocab_size <= 2048);
  // the special tokens come along: the loaded tokenizer has the bos/eos the warm start trained with
  const tok = Tokenizer.fromFile(path.join(out, 'tokenizer.json'));
  t.true(tok.bosTokenId !== undefined && tok.eosTokenId !== undefined);
  // judged on dev questions only: 2 per eval split
  t.deepEqual(m.dev.map((d) => [d.split, d.questions]), [['single-hop', 2], ['two-hop', 2]]);
  t.true(m.dev_em >= 0 && m.dev_em <= 100);
  // a changed file no longer matches its manifest
  appendFileSync(path.join(out, 'tokenizer.json'), ' ');
  t.throws(() => verifyBasePolicy(out), { message: /tokenizer\.json: sha256 .* is not the manifest's/ });
});

test('the shipped base policy matches its manifest, made by the documented command with local.yaml\'s warm start', async (t) => {
  const dir = path.join(ROOT, 'models/zerosearch-local/policy');
  if (!existsSync(path.join(dir, 'MANIFEST.json'))) return t.fail(`${dir} has no MANIFEST.json; make it with: cohort warm-start ${LOCAL} --out models/zerosearch-local/policy`);
  const m = verifyBasePolicy(dir);
  t.is(m.command, `cohort warm-start ${LOCAL} --out models/zerosearch-local/policy`);
  const local = (await loadTrainConfig(path.join(ROOT, LOCAL))).config;
  t.deepEqual(m.warmStart, { sftSteps: local.warmStart.sftSteps, lr: local.warmStart.lr, batchSize: local.warmStart.batchSize, demoShare: local.warmStart.demoShare });
  t.is(m.seed, local.run.seed);
});
