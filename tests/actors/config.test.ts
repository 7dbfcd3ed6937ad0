import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, getAlgorithm, loadTrainConfig, parseTrainConfig } from '../../actors/src/core.js';

const root = new URL('../../', import.meta.url).pathname;
const localYaml = readFileSync(path.join(root, 'configs/zerosearch/local.yaml'), 'utf8');

function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

test('both shipped configs load and the 8-GPU one carries the reference defaults', async (t) => {
  const local = await loadTrainConfig(path.join(root, 'configs/zerosearch/local.yaml'));
  const big = (await loadTrainConfig(path.join(root, 'configs/zerosearch/8gpu.yaml'))).config;
  t.is(local.config.layout.gpus.kind, 'logical');
  t.regex(local.sha256, /^[0-9a-f]{64}$/);
  t.is(big.layout.simulator.bundles, 4);
  t.is(big.layout.rl.bundles, 4);
  t.is(big.algorithm.name, 'reinforce');
  t.deepEqual(
    [big.batch.promptsPerStep, big.batch.samplesPerPrompt, big.batch.miniBatch, big.run.totalSteps, big.checkpoint.every],
    [64, 5, 256, 203, 50],
  );
  t.deepEqual([big.rollout.maxTurns, big.rollout.topk, big.rollout.maxNewTokensPerTurn, big.rollout.observationTokenCap, big.rollout.contextWindow], [5, 5, 500, 2048, 4096]);
  t.is(big.algorithm.params.kl.estimator, 'k3');
  t.is(big.algorithm.params.kl.coef, 0.001);
  t.is(big.optimizer.lr, 1e-6);
  t.deepEqual(big.curriculum, { mode: 'curriculum', ps: 0, pe: 0.5, base: 4 });
  t.is(big.simulator.backend, 'openai');
});

test('defaults fill in omitted sections', (t) => {
  const minimal = `
run: { name: mini }
world: { kind: synthetic }
policy: { model: { config: { hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1 } } }
simulator: { backend: template }
layout: { gpus: { kind: logical, count: 2 }, simulator: { bundles: 1 }, rl: { bundles: 1 } }
eval: { splits: [{ name: a, kind: single-hop }] }
`;
  const c = parseTrainConfig(minimal);
  t.is(c.algorithm.name, 'reinforce');
  t.is(c.algorithm.params.clipRatio, 0.2);
  t.is(c.algorithm.params.entropyCoef, 0.001);
  t.deepEqual(c.mode, { kind: 'sync' });
  t.is(c.rollout.temperature, 1);
  t.is(c.rollout.topP, 0.95);
  t.is(c.optimizer.weightDecay, 0.01);
  t.is(c.optimizer.gradClip, 1);
  t.is(c.layout.rl.shares.learner, 0.5);
});

test('bad values name the key path, the line, what was expected and what was found', (t) => {
  const bad = localYaml
    .replace('clipRatio: 0.2', 'clipRatio: -0.2')
    .replace('kind: sync', 'kind: asynch')
    .replace('promptsPerStep: 8', 'promptsPerStep: "8"');
  const err = problemsOf(() => parseTrainConfig(bad, 'bad.yaml'));
  const byPath = new Map(err.problems.map((p) => [p.path, p]));
  const clip = byPath.get('algorithm.params.clipRatio');
  t.truthy(clip);
  t.regex(clip!.message, /expected a value > 0, found number -0\.2/);
  t.is(bad.split('\n')[clip!.line! - 1].trim(), 'clipRatio: -0.2');
  t.regex(byPath.get('mode.kind')!.message, /expected one of "sync" \| "async", found "asynch"/);
  t.regex(byPath.get('batch.promptsPerStep')!.message, /expected number, found "8"/);
  t.regex(err.message, /bad\.yaml/);
});

test('unknown keys are rejected with a did-you-mean hint', (t) => {
  const bad = localYaml.replace('topP: 0.95', 'topP: 0.95\n  topK: 3').replace('  seed: 7', '  seed: 7\n  sede: 8');
  const err = problemsOf(() => parseTrainConfig(bad));
  const topK = err.problems.find((p) => p.path === 'rollout.topK');
  t.truthy(topK);
  t.regex(topK!.message, /unknown key "topK"; did you mean "topk"\?/);
  t.regex(err.problems.find((p) => p.path === 'run.sede')!.message, /did you mean "seed"/);
});

test('a missing required section and YAML syntax errors are reported', (t) => {
  const noEval = localYaml.replace(/\neval:[\s\S]*$/, '\n');
  const err = problemsOf(() => parseTrainConfig(noEval));
  t.regex(err.problems.find((p) => p.path === 'eval')!.message, /required key is missing/);
  const syn = problemsOf(() => parseTrainConfig('run: [1\n'));
  t.regex(syn.problems[0].message, /YAML syntax/);
});

test('cross-field checks: mini-batch size, GPU shares, bundle count, curriculum base', (t) => {
  const bad = localYaml
    .replace(/miniBatch: \d+/, 'miniBatch: 512')
    .replace('shares: { learner: 0.5, rollout: 0.3, reference: 0.2, critic: 0 }', 'shares: { learner: 0.6, rollout: 0.3, reference: 0.2, critic: 0 }')
    .replace('count: 3', 'count: 2')
    .replace('base: 4', 'base: 1');
  const err = problemsOf(() => parseTrainConfig(bad));
  const msgs = err.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  t.regex(msgs, /batch\.miniBatch: miniBatch 512 is larger than promptsPerStep × samplesPerPrompt = \d+/);
  t.regex(msgs, /layout\.rl\.shares: .*sum to 1\.1/);
  t.regex(msgs, /layout\.gpus\.count: the bundles need 3 GPU\(s\) but layout\.gpus\.count is 2/);
  t.regex(msgs, /curriculum\.base: .*must not be 1/);
});

test('an openai simulator needs exactly one of addresses or managed, and managed tp×dp must match the bundle', (t) => {
  const big = readFileSync(path.join(root, 'configs/zerosearch/8gpu.yaml'), 'utf8');
  const both = big.replace('  managed:\n', '  addresses: ["http://127.0.0.1:6001/v1"]\n  managed:\n');
  t.regex(problemsOf(() => parseTrainConfig(both)).message, /exactly one of simulator\.addresses/);
  const tp = big.replace('    tp: 1\n', '    tp: 2\n');
  t.regex(problemsOf(() => parseTrainConfig(tp)).message, /tp × dp = 2 but each simulator bundle has 1 GPU/);
  const ph = big.replace('"{port}"', '"{prot}"');
  t.regex(problemsOf(() => parseTrainConfig(ph)).message, /unknown placeholder \{prot\}/);
});

test('algorithm fit: unknown names get a hint, GRPO needs n ≥ 2, PPO needs a critic share', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const e1 = await t.throwsAsync(loadTrainConfig(write('a.yaml', localYaml.replace('name: grpo', 'name: grop'))));
  t.regex(e1!.message, /unknown algorithm "grop" \(did you mean "grpo"\?\)/);
  const e2 = await t.throwsAsync(loadTrainConfig(write('b.yaml', localYaml.replace(/samplesPerPrompt: \d+/, 'samplesPerPrompt: 1').replace(/miniBatch: \d+/, 'miniBatch: 8'))));
  t.regex(e2!.message, /batch\.samplesPerPrompt: algorithm "grpo" needs at least 2 samples per prompt, found 1/);
  const e3 = await t.throwsAsync(loadTrainConfig(write('c.yaml', localYaml.replace('name: grpo', 'name: ppo'))));
  t.regex(e3!.message, /layout\.rl\.shares\.critic: algorithm "ppo" needs a CriticActor/);
});

test('a plug-in algorithm file listed in the config is loaded and chosen by name', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const plugin = path.join(root, 'actors/src/algorithms/examples/rloo.ts');
  const f = path.join(dir, 'rloo.yaml');
  writeFileSync(f, localYaml.replace('name: grpo', `name: rloo\n  plugins: [${JSON.stringify(path.relative(dir, plugin))}]`));
  const { config } = await loadTrainConfig(f);
  t.is(config.algorithm.name, 'rloo');
  t.is(getAlgorithm('rloo').minSamplesPerPrompt, 2);
  const missing = path.join(dir, 'missing.yaml');
  writeFileSync(missing, localYaml.replace('name: grpo', 'name: rloo\n  plugins: [./nope.ts]'));
  const err = await t.throwsAsync(loadTrainConfig(missing));
  t.regex(err!.message, /algorithm\.plugins: could not load algorithm plug-in "\.\/nope\.ts"/);
});
