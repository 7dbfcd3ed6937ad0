import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function gpuCheck(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('bash', [path.join(ROOT, 'scripts/gpu-check.sh'), ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

test('gpu-check.sh without an NVIDIA GPU: one clear line, a JSON summary, exit 2, nothing run', async (t) => {
  const r = await gpuCheck([], { NVIDIA_SMI: '/nonexistent/nvidia-smi' });
  t.is(r.code, 2);
  t.is(r.stderr.trim(), 'gpu-check: no NVIDIA GPU found (/nonexistent/nvidia-smi not found on PATH); nothing was run: run this script on a machine with an NVIDIA GPU');
  t.deepEqual(JSON.parse(r.stdout), { ok: false, gpu: null, reason: '/nonexistent/nvidia-smi not found on PATH' });
  // An nvidia-smi that cannot reach the driver is no GPU either.
  const dir = mkdtempSync(path.join(tmpdir(), 'smi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'nvidia-smi'), "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n");
  chmodSync(path.join(dir, 'nvidia-smi'), 0o755);
  const f = await gpuCheck([], { NVIDIA_SMI: path.join(dir, 'nvidia-smi') });
  t.is(f.code, 2);
  t.regex(f.stderr, /no NVIDIA GPU found \(.*nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver\.\)/);
});

test('gpu-check.sh --dry-run with a GPU listed: the provider, the test / bench / train plan, and a valid physical tiny config', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'smi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'nvidia-smi'), '#!/bin/sh\nprintf "0, NVIDIA H100 80GB HBM3, 81559\\n"\n');
  chmodSync(path.join(dir, 'nvidia-smi'), 0o755);
  const r = await gpuCheck(['--dry-run'], { NVIDIA_SMI: path.join(dir, 'nvidia-smi') });
  t.is(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  t.deepEqual(plan.gpus, [{ index: 0, name: 'NVIDIA H100 80GB HBM3', memory_mib: 81559 }]);
  // No CUDA binaries here: the bundled WebGPU provider is the one checked.
  t.is(plan.provider, plan.providers.find((p: { name: string }) => p.name === 'cuda').available ? 'cuda' : 'webgpu');
  t.is(plan.tests.env.COHORT_EXECUTION_PROVIDERS, `${plan.provider},cpu`);
  t.deepEqual(plan.bench, ['cpu', plan.provider].map((ep) => `bench engine --json --new-tokens 64 --ep ${ep}`));
  t.true(plan.train_config.valid, plan.train_config.error);
  t.deepEqual(plan.train_config.gpus, { kind: 'physical', count: 1 });
  t.deepEqual(plan.train_config.devices, { default: [plan.provider, 'cpu'] });
});
