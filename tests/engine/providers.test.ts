import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CausalLM, Session, TINY_CONFIG, checkProviders, providersFromEnv, deviceIdFor, deviceOutputLocations, generate, installedProviders, ProviderUnavailableError } from '../../engine/src/index.js';
import { Graph } from '../../engine/src/graph/graph.js';
import { add } from '../../engine/src/ops/elementwise.js';

const BACKENDS = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }];

test('installed providers: bundled ones, and CUDA only when its provider library sits next to the binding', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ort-bin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const without = installedProviders({ bindingDir: dir, backends: BACKENDS });
  t.deepEqual(without.map((p) => [p.name, p.available]), [['cpu', true], ['webgpu', true], ['cuda', false]]);
  t.regex(without[2].missing!, /libonnxruntime_providers_cuda.so is not installed next to onnxruntime-node's binding/);
  writeFileSync(path.join(dir, 'libonnxruntime_providers_cuda.so'), '');
  t.true(installedProviders({ bindingDir: dir, backends: BACKENDS })[2].available);
  // A build without webgpu (e.g. linux-arm64) says so.
  t.regex(installedProviders({ bindingDir: dir, backends: [{ name: 'cpu', bundled: true }] })[1].missing!, /has no 'webgpu' provider/);
  // This machine's onnxruntime-node: cpu and webgpu bundled; CUDA binaries were skipped at install.
  const here = installedProviders();
  t.true(here.find((p) => p.name === 'cpu')!.available);
  t.true(here.find((p) => p.name === 'webgpu')!.available);
});

test('a provider the installed onnxruntime-node lacks fails at once, in one line naming it and how to get it', async (t) => {
  const noCuda = installedProviders({ bindingDir: '/nonexistent', backends: BACKENDS });
  const err = t.throws(() => checkProviders(['cuda', 'cpu'], 'devices.learner', noCuda), { instanceOf: ProviderUnavailableError });
  t.regex(err!.message, /^devices.learner: execution provider 'cuda' is not available in the installed onnxruntime-node \(.*\); install onnxruntime-node's CUDA 12 binaries: run `npm ci` without skipping its install step/);
  t.false(err!.message.includes('\n'));
  t.notThrows(() => checkProviders(['webgpu', 'cpu'], 'x', noCuda));
  if (!installedProviders().find((p) => p.name === 'cuda')!.available) {
    const g = new Graph('g');
    g.output('y', add(g.input('x', 'float32', [2]), 1));
    await t.throwsAsync(Session.create(g, { executionProviders: ['cuda', 'cpu'] }), { message: /execution provider 'cuda' is not available in the installed onnxruntime-node/ });
  }
  t.throws(() => checkProviders(['cpu'], 'x', noCuda.filter((p) => p.name !== 'cpu')), { message: /unknown provider/ });
});

test('device id: CUDA sees only the granted GPU (ordinal 0) when CUDA_VISIBLE_DEVICES is set, else COHORT_DEVICE_ID; none for cpu / webgpu', (t) => {
  t.is(deviceIdFor('cuda', { CUDA_VISIBLE_DEVICES: '3', COHORT_DEVICE_ID: '3' }), 0);
  t.is(deviceIdFor('cuda', { COHORT_DEVICE_ID: '5' }), 5);
  t.is(deviceIdFor('cuda', { CUDA_VISIBLE_DEVICES: '', COHORT_DEVICE_ID: '2' }), 2);
  t.is(deviceIdFor('cuda', {}), 0);
  t.is(deviceIdFor('webgpu', { COHORT_DEVICE_ID: '5' }), undefined);
  t.is(deviceIdFor('cpu', { COHORT_DEVICE_ID: '5' }), undefined);
  t.throws(() => deviceIdFor('cuda', { COHORT_DEVICE_ID: 'gpu1' }), { message: /COHORT_DEVICE_ID must be a GPU ordinal/ });
});

test('KV cache on the device: chosen for webgpu (IO binding), not for cpu / cuda; the cpu path generates as before', async (t) => {
  const outs = ['logits', 'present_key.0', 'present_value.0'];
  t.deepEqual(deviceOutputLocations(['webgpu', 'cpu'], ['present_key.0', 'present_value.0'], outs), { logits: 'cpu', 'present_key.0': 'gpu-buffer', 'present_value.0': 'gpu-buffer' });
  t.is(deviceOutputLocations(['cpu'], ['present_key.0'], outs), undefined);
  t.is(deviceOutputLocations(['cuda', 'cpu'], ['present_key.0'], outs), undefined, "the node binding's IO binding is WebGPU-only");
  t.is(deviceOutputLocations(['webgpu'], [], outs), undefined);
  t.throws(() => deviceOutputLocations(['webgpu'], ['present_key.9'], outs), { message: /outputs the graph does not have: present_key.9/ });
  // On cpu the inference sessions were asked for device outputs but keep everything in CPU memory.
  const m = CausalLM.random(TINY_CONFIG, { seed: 2, executionProviders: ['cpu'] });
  t.teardown(() => m.release());
  const decode = await m.inferenceSession('decode');
  t.deepEqual(decode.options.deviceOutputs, m.presentNames);
  t.false(decode.keepsOnDevice('present_key.0'));
  const [a] = await generate(m, [[1, 2, 3]], { maxNewTokens: 4, temperature: 0 });
  const [b] = await generate(m, [[1, 2, 3]], { maxNewTokens: 4, temperature: 0, useCache: false });
  t.deepEqual(a.tokens, b.tokens);
});

test('COHORT_EXECUTION_PROVIDERS sets the providers of sessions that name none (how gpu-check runs the engine tests on a GPU)', (t) => {
  t.is(providersFromEnv({}), undefined);
  t.deepEqual(providersFromEnv({ COHORT_EXECUTION_PROVIDERS: 'webgpu, cpu' }), ['webgpu', 'cpu']);
  t.throws(() => providersFromEnv({ COHORT_EXECUTION_PROVIDERS: 'gpu' }), { message: /COHORT_EXECUTION_PROVIDERS must be a comma-separated list of distinct providers from cpu, webgpu, cuda, got "gpu"/ });
  t.throws(() => providersFromEnv({ COHORT_EXECUTION_PROVIDERS: 'cpu,cpu' }), { message: /distinct/ });
});
