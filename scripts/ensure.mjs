#!/usr/bin/env node
// Installs what `npm start` (the main job) or `npm test` (every test) needs on
// this machine, before they run (package.json's prestart / pretest hooks call it):
//   - the npm packages of package-lock.json (`npm ci`, with onnxruntime-node's
//     CUDA download skipped) when node_modules is missing or out of date;
//   - for the tests, the Debian packages nats-server, chromium, openssh-server
//     and openssh-client when one is missing: installed with apt-get when this
//     runs as root on a machine with apt-get, else one line says what to install.
// Fast (a few ms) when everything is there. Node built-ins only: it runs
// before node_modules exists.
//
// Usage: node scripts/ensure.mjs start|test [--no-npm]
//   COHORT_ENSURE=check   report what is missing without installing anything
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The system programs each target needs: where the code looks for each one
 * (the same override variable and default path as the code that runs it), and
 * the Debian package that provides it.
 */
export function requirements(target, env = process.env) {
  if (target === 'start') return [];
  return [
    { name: 'nats-server', why: 'the cluster tests', bin: env.COHORT_NATS_SERVER || '/usr/sbin/nats-server', pkg: 'nats-server' },
    { name: 'chromium', why: 'the dashboard browser test', bin: env.COHORT_CHROMIUM || '/usr/bin/chromium', pkg: 'chromium' },
    { name: 'sshd', why: 'the ssh launcher test', bin: env.COHORT_SSHD || '/usr/sbin/sshd', pkg: 'openssh-server' },
    { name: 'ssh', why: 'the ssh launcher test', bin: 'ssh', pkg: 'openssh-client' },
    { name: 'ssh-keygen', why: 'the ssh launcher test', bin: 'ssh-keygen', pkg: 'openssh-client' },
  ];
}

/** True when `bin` (a path, or a bare name looked up on PATH) is an executable file. */
export function findExecutable(bin, env = process.env) {
  const candidates = bin.includes('/') ? [bin] : (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The requirements not found on this machine. */
export function missing(reqs, env = process.env) {
  return reqs.filter((r) => !findExecutable(r.bin, env));
}

/**
 * What to do about the missing programs: nothing, install the Debian packages
 * (root and apt-get present, installing allowed), or stop with one line that
 * says what to install.
 */
export function decide(miss, { isRoot, aptGet, allowInstall }) {
  if (miss.length === 0) return { action: 'none' };
  const pkgs = [...new Set(miss.map((r) => r.pkg))];
  if (isRoot && aptGet && allowInstall) return { action: 'install', pkgs };
  const what = miss.map((r) => `${r.name} (${r.why}, looked for ${r.bin})`).join(', ');
  const how = aptGet ? `${isRoot ? '' : 'sudo '}apt-get install -y ${pkgs.join(' ')}` : `install the Debian/Ubuntu packages ${pkgs.join(' ')} or their equivalents`;
  return { action: 'fail', pkgs, message: `cohort: missing ${what}; ${how}, then run the command again` };
}

/**
 * The non-optional packages of package-lock.json that node_modules lacks or
 * holds at another version (compared with npm's own record of what it
 * installed, node_modules/.package-lock.json). Empty when up to date.
 */
export function staleNpmPackages(root = ROOT) {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const hiddenFile = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(hiddenFile)) return ['node_modules'];
  const installed = JSON.parse(readFileSync(hiddenFile, 'utf8')).packages ?? {};
  const stale = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    if (!key.includes('node_modules/') || entry.optional) continue;
    const have = installed[key];
    if (!have || have.version !== entry.version || !existsSync(path.join(root, key))) stale.push(key);
  }
  return stale;
}

function say(line) {
  process.stderr.write(`cohort: ${line}\n`);
}

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function tail(s, n = 30) {
  return s.trimEnd().split('\n').slice(-n).join('\n');
}

function ensureNpm(env) {
  const stale = staleNpmPackages();
  if (stale.length === 0) return true;
  say(`installing the npm packages (npm ci: ${stale[0] === 'node_modules' ? 'no node_modules yet' : `${stale.length} missing or out of date, e.g. ${stale[0]}`})`);
  // onnxruntime-node's install step would download CUDA binaries; the CPU and WebGPU providers ship in the package.
  const r = run('npm', ['ci', '--no-audit', '--no-fund'], { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' });
  if (!r.ok) {
    process.stderr.write(tail(r.out) + '\n');
    say('npm ci failed (output above)');
    return false;
  }
  return true;
}

function ensureSystem(target, env) {
  const reqs = requirements(target, env);
  const miss = missing(reqs, env);
  const aptGet = findExecutable('apt-get', env);
  const d = decide(miss, { isRoot: process.getuid?.() === 0, aptGet: Boolean(aptGet), allowInstall: env.COHORT_ENSURE !== 'check' });
  if (d.action === 'none') return true;
  if (d.action === 'fail') {
    say(d.message.replace(/^cohort: /, ''));
    return false;
  }
  say(`installing ${d.pkgs.join(' ')} from Debian (apt-get), needed by ${[...new Set(miss.map((r) => r.why))].join(', ')}`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const up = run(aptGet, ['update', '-qq'], aptEnv);
  const inst = up.ok ? run(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...d.pkgs], aptEnv) : up;
  const still = missing(reqs, env);
  if (!inst.ok || still.length) {
    process.stderr.write(tail(inst.out) + '\n');
    say(`apt-get could not install ${d.pkgs.join(' ')}${still.length ? ` (still missing: ${still.map((r) => r.bin).join(', ')})` : ''}; install them by hand and run the command again`);
    return false;
  }
  return true;
}

export function main(argv = process.argv.slice(2), env = process.env) {
  const target = argv.find((a) => !a.startsWith('--'));
  if (target !== 'start' && target !== 'test') {
    say('usage: node scripts/ensure.mjs start|test [--no-npm]');
    return 2;
  }
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    say(`Node ${process.versions.node} is too old: Cohort needs Node 20 or newer`);
    return 1;
  }
  if (!argv.includes('--no-npm') && !ensureNpm(env)) return 1;
  return ensureSystem(target, env) ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main();
