import { spawn } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { tempDir, until } from './helpers.js';

const COHORT = path.resolve('cli/bin/cohort.mjs');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [COHORT, ...args], { env: { ...process.env, COHORT_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('cohort start --head serves the dashboard; cohort status --json reports its dashboard_url', async (t) => {
  const dir = tempDir(t);
  const head = spawn(process.execPath, [COHORT, 'start', '--head', '--cluster', 'hp', '--nats-dir', path.join(dir, 'nats'), '--dashboard-port', '0'], {
    env: { ...process.env, COHORT_LOG_LEVEL: 'silent', COHORT_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => head.on('close', (code) => r(code)));
  t.teardown(async () => {
    head.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    head.kill('SIGKILL');
  });
  let out = '';
  head.stdout.on('data', (d) => (out += d));
  t.true(await until(() => /cohort dashboard: http:\/\/127\.0\.0\.1:\d+/.test(out), 40_000), out);
  const natsUrl = /cohort head ready: cluster hp at (nats:\/\/\S+)/.exec(out)![1];
  const dashUrl = /cohort dashboard: (http:\/\/\S+)/.exec(out)![1];
  const st = await run(['status', '--json', '--address', natsUrl, '--token-file', path.join(dir, 'token')]);
  t.is(st.code, 0, st.err);
  t.is((JSON.parse(st.out) as { dashboard_url: string }).dashboard_url, dashUrl);
  t.regex(await (await fetch(`${dashUrl}/metrics`)).text(), /^cohort_up\{cluster="hp"\} 1$/m);
  t.is(((await (await fetch(`${dashUrl}/api/cluster`)).json()) as { cluster: string }).cluster, 'hp');
  const bad = await run(['start', '--head', '--dashboard-port', 'eighty']);
  t.is(bad.code, 2);
  t.regex(bad.err, /--dashboard-port: expected a port number/);
  head.kill('SIGTERM');
  t.is(await exited, 0);
});
