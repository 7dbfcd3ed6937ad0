// scripts/ensure.mjs (npm start / npm test's install step): the "missing"
// paths, simulated with the same override variables the code uses and a stub
// apt-get on PATH that records its arguments (nothing is really installed).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain .mjs script without types
import { decide, findExecutable, missing, requirements, staleNpmPackages } from '../../scripts/ensure.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'scripts', 'ensure.mjs');
const isRoot = process.getuid?.() === 0;

function tmp(t: { teardown(f: () => void): void }): string {
  const d = mkdtempSync(path.join(tmpdir(), 'cohort-ensure-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A stub apt-get: logs each call; `install` creates the programs named in STUB_CREATES (unless STUB_FAIL). */
function stubApt(dir: string): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(
    path.join(bin, 'apt-get'),
    `#!/bin/sh
echo "$*" >> "${dir}/apt.log"
[ -n "$STUB_FAIL" ] && { echo "E: Unable to locate package $4" >&2; exit 100; }
if [ "$1" = install ]; then for f in $STUB_CREATES; do printf '#!/bin/sh\\n' > "$f"; chmod +x "$f"; done; fi
exit 0
`,
  );
  chmodSync(path.join(bin, 'apt-get'), 0o755);
  return bin;
}

function runEnsure(env: NodeJS.ProcessEnv, args = ['test', '--no-npm']) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { env, encoding: 'utf8' });
}

test('decide: nothing missing, install as root with apt-get, else one line naming the packages', (t) => {
  const reqs = requirements('test', { COHORT_NATS_SERVER: '/x/nats-server', COHORT_CHROMIUM: '/x/chromium', COHORT_SSHD: '/x/sshd' });
  t.deepEqual(requirements('start'), []);
  t.is(decide([], { isRoot: false, aptGet: false, allowInstall: true }).action, 'none');
  const miss = reqs.filter((r: { name: string }) => r.name !== 'ssh');
  t.deepEqual(decide(miss, { isRoot: true, aptGet: true, allowInstall: true }), { action: 'install', pkgs: ['nats-server', 'chromium', 'openssh-server', 'openssh-client'] });
  const user = decide(miss.slice(0, 2), { isRoot: false, aptGet: true, allowInstall: true });
  t.is(user.action, 'fail');
  t.is(
    user.message,
    'cohort: missing nats-server (the cluster tests, looked for /x/nats-server), chromium (the dashboard browser test, looked for /x/chromium); sudo apt-get install -y nats-server chromium, then run the command again',
  );
  t.regex(decide(miss.slice(1, 2), { isRoot: true, aptGet: false, allowInstall: true }).message, /install the Debian\/Ubuntu packages chromium or their equivalents/);
  t.is(decide(miss, { isRoot: true, aptGet: true, allowInstall: false }).action, 'fail');
  t.false(decide(miss.slice(1, 2), { isRoot: true, aptGet: true, allowInstall: false }).message.includes('sudo'));
});

test('findExecutable / missing: explicit paths and PATH look-ups', (t) => {
  const d = tmp(t);
  const f = path.join(d, 'prog');
  writeFileSync(f, '#!/bin/sh\n');
  t.is(findExecutable(f), undefined); // not executable yet
  chmodSync(f, 0o755);
  t.is(findExecutable(f), f);
  t.is(findExecutable('prog', { PATH: `/nonexistent:${d}` }), f);
  t.is(findExecutable('prog', { PATH: '' }), undefined);
  t.deepEqual(
    missing([{ name: 'a', bin: f }, { name: 'b', bin: path.join(d, 'none') }], {}).map((r: { name: string }) => r.name),
    ['b'],
  );
});

test('missing nats-server and chromium: installed through apt-get (update, then install), then found', async (t) => {
  const d = tmp(t);
  const bin = stubApt(d);
  const nats = path.join(d, 'nats-server');
  const chromium = path.join(d, 'chromium');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, COHORT_NATS_SERVER: nats, COHORT_CHROMIUM: chromium, COHORT_SSHD: process.execPath, STUB_CREATES: `${nats} ${chromium}`, COHORT_ENSURE: '' };
  // ssh and ssh-keygen come from the real PATH here; make sure the machine has them so only the two stubs are missing
  if (!findExecutable('ssh') || !findExecutable('ssh-keygen')) return t.pass('no ssh client on this machine (ensure installs it before this test in npm test)');
  const r = runEnsure(env);
  if (!isRoot) {
    t.is(r.status, 1);
    t.regex(r.stderr, /sudo apt-get install -y nats-server chromium, then run the command again/);
    t.false(existsSync(path.join(d, 'apt.log')));
    return;
  }
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /installing nats-server chromium from Debian \(apt-get\), needed by the cluster tests, the dashboard browser test/);
  t.deepEqual(readFileSync(path.join(d, 'apt.log'), 'utf8').trim().split('\n'), ['update -qq', 'install -y -qq --no-install-recommends nats-server chromium']);
  // second run: nothing missing, apt-get not called again
  t.is(runEnsure(env).status, 0);
  t.is(readFileSync(path.join(d, 'apt.log'), 'utf8').trim().split('\n').length, 2);
});

test('apt-get fails, or installing is not allowed: exit 1 with one line naming what to install', (t) => {
  const d = tmp(t);
  const bin = stubApt(d);
  const sshd = path.join(d, 'sshd');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, COHORT_SSHD: sshd, STUB_FAIL: '1', STUB_CREATES: '' };
  const failed = runEnsure(env);
  t.is(failed.status, 1);
  if (isRoot) t.regex(failed.stderr, /E: Unable to locate package[\s\S]*cohort: apt-get could not install openssh-server.*install them by hand/);
  const aptCalls = () => (existsSync(path.join(d, 'apt.log')) ? readFileSync(path.join(d, 'apt.log'), 'utf8').trim().split('\n').length : 0);
  const before = aptCalls();
  const check = runEnsure({ ...env, COHORT_ENSURE: 'check', STUB_FAIL: '' });
  t.is(check.status, 1);
  const lines = check.stderr.trim().split('\n');
  t.is(lines.length, 1);
  t.is(lines[0], `cohort: missing sshd (the ssh launcher test, looked for ${sshd}); ${isRoot ? '' : 'sudo '}apt-get install -y openssh-server, then run the command again`);
  t.is(aptCalls(), before, 'COHORT_ENSURE=check never calls apt-get');
  // `npm start` needs no system package
  t.is(runEnsure({ ...env, COHORT_ENSURE: 'check' }, ['start', '--no-npm']).status, 0);
  t.is(runEnsure(env, ['bogus']).status, 2);
});

test('staleNpmPackages: up to date here; a lockfile entry node_modules lacks or holds at another version is listed', (t) => {
  t.deepEqual(staleNpmPackages(ROOT), []);
  const d = tmp(t);
  const lock = {
    packages: {
      '': { name: 'x' },
      'node_modules/a': { version: '1.0.0' },
      'node_modules/b': { version: '2.0.0' },
      'node_modules/c': { version: '3.0.0', optional: true },
      'node_modules/d': { version: '1.0.0' },
    },
  };
  writeFileSync(path.join(d, 'package-lock.json'), JSON.stringify(lock));
  t.deepEqual(staleNpmPackages(d), ['node_modules']);
  for (const p of ['a', 'b']) mkdirSync(path.join(d, 'node_modules', p), { recursive: true });
  writeFileSync(path.join(d, 'node_modules', '.package-lock.json'), JSON.stringify({ packages: { 'node_modules/a': { version: '1.0.0' }, 'node_modules/b': { version: '1.9.0' }, 'node_modules/d': { version: '1.0.0' } } }));
  t.deepEqual(staleNpmPackages(d), ['node_modules/b', 'node_modules/d']);
});
