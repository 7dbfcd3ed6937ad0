// The body of scripts/gpu-check.sh (run it through that script, which finds the GPU first).
// Prints progress to stderr and one JSON summary to stdout; exit 0 when every stage passed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'cli/bin/cohort.mjs');
const dryRun = process.argv.includes('--dry-run');
const log = (msg) => process.stderr.write(`gpu-check: ${msg}\n`);

const gpus = (process.env.GPU_CHECK_SMI_CSV ?? '')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => {
    const [index, name, mib] = l.split(',').map((s) => s.trim());
    return { index: Number(index), name, memory_mib: Number(mib) };
  });

const { installedProviders, Session, Graph, add } = await import('../engine/src/index.ts');
const { writeTinyTrainConfig } = await import('../tests/helpers/tiny-train-config.ts');

/** Runs a command, returning its exit code, stdout and the tail of stderr (bounded by timeoutMs). */
function run(cmd, args, { env = {}, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 137 : 1), stdout: out, stderrTail: err.trim().split('\n').slice(-5).join('\n'), seconds: +((performance.now() - t0) / 1000).toFixed(1) });
    });
  });
}

// 1. Which GPU provider: CUDA when its binaries are installed, else the bundled WebGPU; probe that a session starts on it.
const installed = installedProviders();
const provider = installed.find((p) => p.name === 'cuda')?.available ? 'cuda' : 'webgpu';
const tests = ['ops', 'autodiff', 'model', 'generate', 'loss', 'train', 'optim'].map((f) => `tests/engine/${f}.test.ts`);
const plan = {
  gpus,
  provider,
  providers: installed,
  tests: { env: { COHORT_EXECUTION_PROVIDERS: `${provider},cpu` }, files: tests },
  bench: ['cpu', provider].map((ep) => ['bench', 'engine', '--json', '--new-tokens', '64', '--ep', ep].join(' ')),
  train: 'the tiny config (tests/helpers/tiny-train-config.ts), 2 RL steps, layout.gpus physical x1, devices.default [' + provider + ', cpu]',
};
/** Writes the tiny config on a physical one-GPU layout with the provider (in `dir`); returns its path. */
function tinyGpuConfig(dir) {
  const file = writeTinyTrainConfig(dir, { name: 'gpu-check', seed: 1, totalSteps: 2, algorithm: 'grpo' });
  const cfg = YAML.parse(readFileSync(file, 'utf8'));
  cfg.layout = { gpus: { kind: 'physical', count: 1 }, simulator: { bundles: 1, gpusPerBundle: 0.1, cpusPerBundle: 0.5 }, rl: { bundles: 1, gpusPerBundle: 0.9, cpusPerBundle: 1, shares: { learner: 0.4, rollout: 0.3, reference: 0.2, critic: 0 } } };
  cfg.devices = { default: [provider, 'cpu'] };
  writeFileSync(file, YAML.stringify(cfg));
  return file;
}
if (dryRun) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gpu-check-'));
  let config;
  try {
    const { parseTrainConfig } = await import('../actors/src/index.ts');
    const c = parseTrainConfig(readFileSync(tinyGpuConfig(dir), 'utf8'));
    config = { valid: true, gpus: c.layout.gpus, devices: c.devices };
  } catch (err) {
    config = { valid: false, error: err.message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({ dry_run: true, ...plan, train_config: config }) + '\n');
  process.exit(0);
}
const summary = { ok: false, machine: { gpus, load: loadavg().map((x) => +x.toFixed(2)) }, provider, providers: installed, probe: null, tests: null, bench: null, train: null };
try {
  const g = new Graph('probe');
  g.output('y', add(g.input('x', 'float32', [2]), 1));
  const s = await Session.create(g, { executionProviders: [provider] });
  const r = await s.run({ x: new (await import('onnxruntime-node')).Tensor('float32', new Float32Array([1, 2]), [2]) });
  await s.release();
  summary.probe = { ok: r.y.data[0] === 2 && r.y.data[1] === 3 };
} catch (err) {
  summary.probe = { ok: false, error: err.message.split('\n')[0] };
}
log(`provider ${provider}: ${summary.probe.ok ? 'a session runs on it' : `does not start (${summary.probe.error})`}`);

// 2. The engine's numerical tests with the GPU provider first (CPU for ops it lacks).
log(`engine tests on ${provider},cpu …`);
const t = await run(process.execPath, [path.join(root, 'scripts/test.mjs'), ...tests], { env: { COHORT_EXECUTION_PROVIDERS: `${provider},cpu` }, timeoutMs: 420_000 });
const closing = /^(\d+) passed, (\d+) failed/m.exec(t.stdout);
summary.tests = {
  passed: closing ? Number(closing[1]) : 0,
  failed: closing ? Number(closing[2]) : null,
  failing: [...t.stdout.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]).slice(0, 20),
  seconds: t.seconds,
  ...(closing ? {} : { error: t.stderrTail }),
};

// 3. The engine bench on the CPU and on the GPU provider, same run.
const bench = {};
for (const ep of ['cpu', provider]) {
  log(`engine bench --ep ${ep} …`);
  const b = await run(process.execPath, [cli, 'bench', 'engine', '--json', '--new-tokens', '64', '--ep', ep], { timeoutMs: 420_000 });
  try {
    const j = JSON.parse(b.stdout.trim().split('\n').pop());
    bench[ep] = { gemm_gflops: j.gemm_gflops, train_step_s: j.train_step_s, train_tokens_per_s: j.train_tokens_per_s, gen_tokens_per_s_kv: j.gen_tokens_per_s_kv, gen_tokens_per_s_nokv: j.gen_tokens_per_s_nokv, seconds: b.seconds };
  } catch {
    bench[ep] = { error: b.stderrTail || `exit ${b.code}`, seconds: b.seconds };
  }
}
const ratio = (k) => (bench.cpu?.[k] && bench[provider]?.[k] ? +(bench[provider][k] / bench.cpu[k]).toFixed(2) : null);
summary.bench = { ...bench, [`${provider}_vs_cpu`]: { gemm: ratio('gemm_gflops'), train_tokens: ratio('train_tokens_per_s'), kv_decode_tokens: ratio('gen_tokens_per_s_kv') } };

// 4. A few RL steps of the tiny config on one physical GPU with the provider.
log('tiny training run on a physical-GPU layout …');
const dir = mkdtempSync(path.join(tmpdir(), 'gpu-check-'));
try {
  const file = tinyGpuConfig(dir);
  const r = await run(process.execPath, [cli, 'train', file, '--json'], { timeoutMs: 420_000 });
  let report = null;
  try {
    report = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    // no report: the error is in stderrTail
  }
  summary.train = { ok: r.code === 0, exit: r.code, seconds: r.seconds, ...(r.code === 0 ? { report: report ? Object.keys(report) : null } : { error: r.stderrTail }) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

summary.ok = !!(summary.probe.ok && summary.tests.failed === 0 && bench[provider]?.gemm_gflops && summary.train.ok);
process.stdout.write(JSON.stringify(summary) + '\n');
process.exit(summary.ok ? 0 : 1);
