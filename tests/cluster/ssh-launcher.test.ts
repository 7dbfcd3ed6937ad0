// The ssh provider of `cohort up` for real: the test starts its own sshd on a
// free loopback port (its own host key, an authorised key it makes, `-f
// /dev/null` and `-o` options so no system config is read; never port 22),
// then `cohort up` starts the head and two agents through it, `cohort status`
// sees them, a driver runs an actor on them, and `cohort down` removes every
// process (head, agents, nats-server, worker processes).
import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, pidAlive, readCurrentCluster, type ClusterStatus } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { tempDir, until } from './helpers/nats.js';

const run = promisify(execFile);
const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const bin = path.join(ROOT, 'cli', 'bin', 'cohort.mjs');
const SSHD = process.env.COHORT_SSHD || '/usr/sbin/sshd';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Every live descendant of `pid` (from /proc), the process itself included. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Starts sshd on a free loopback port; retried when another process took the port in between. */
async function startSshd(dir: string): Promise<{ port: number; proc: ChildProcess; log: () => string }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let log = '';
    const proc = spawn(
      SSHD,
      [
        '-D', '-e', '-f', '/dev/null', '-p', String(port), '-h', path.join(dir, 'host_key'),
        '-o', 'ListenAddress=127.0.0.1',
        '-o', `AuthorizedKeysFile=${path.join(dir, 'authorized_keys')}`,
        '-o', 'StrictModes=no', // the key file lives under /tmp (world-writable parent)
        '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no',
        '-o', 'PermitRootLogin=prohibit-password', '-o', 'UsePAM=no',
        '-o', `PidFile=${path.join(dir, 'sshd.pid')}`,
        '-o', 'MaxStartups=20',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const ok = await until(() => /Server listening on 127\.0\.0\.1 port/.test(log) || proc.exitCode !== null, 10_000);
    if (ok && proc.exitCode === null) return { port, proc, log: () => log };
    if (attempt >= 2) throw new Error(`sshd did not start: ${log}`);
  }
}

test('cohort up (ssh provider) through a real sshd on loopback: head and agents start, status sees them, an actor runs, down removes every process', async (t) => {
  if (!existsSync(SSHD)) return t.fail(`sshd not found at ${SSHD}: \`npm test\` installs openssh-server (scripts/ensure.mjs); or apt-get install -y openssh-server`);
  const dir = tempDir(t, 'cohort-ssh-');
  // sshd run as root needs its privilege-separation directory (Debian makes it at boot; containers lack it)
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'id.pub')));
  chmodSync(path.join(dir, 'authorized_keys'), 0o600);
  const sshd = await startSshd(dir);
  t.teardown(() => {
    sshd.proc.kill('SIGTERM');
  });
  writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  writeFileSync(path.join(dir, 'token'), 'ssh-launcher-token-0123456789\n', { mode: 0o600 });

  const natsPort = await freePort();
  const cluster = `ssh${process.pid}`;
  const config = (key: string) => `clusterName: ${cluster}
provider:
  type: ssh
  hosts: [127.0.0.1]
  user: ${userInfo().username}
  sshKey: ${path.join(dir, key)}
  sshPort: ${sshd.port}
  sshOptions: [BatchMode=yes, IdentitiesOnly=yes, 'UserKnownHostsFile=${path.join(dir, 'known_hosts')}', StrictHostKeyChecking=yes, LogLevel=ERROR]
  workdir: ${ROOT}
  cohortCommand: ${process.execPath} cli/bin/cohort.mjs
  stateDir: ${path.join(dir, 'run')}
bind: 127.0.0.1
head:
  nats: { port: ${natsPort} }
nodeTypes:
  cpu:
    count: 2
    resources: { CPU: 1 }
    workerPool: { prestart: 1 }
security: { tokenFile: ${path.join(dir, 'token')} }
membership: { heartbeatMs: 200, timeoutMs: 1500 }
`;
  const cfg = path.join(dir, 'cluster.yaml');
  writeFileSync(cfg, config('id'));
  const badCfg = path.join(dir, 'bad-key.yaml');
  writeFileSync(badCfg, config('other'));
  // the current-cluster record: this test file's own (tests/helpers/isolate-user-state.mjs), shared with connect() below
  const env = { ...process.env, COHORT_TOKEN: '', COHORT_ADDRESS: '', COHORT_LOG_LEVEL: 'warn' };
  const cohort = (args: string[]) => run(process.execPath, [bin, ...args], { env, timeout: 120_000 });

  // whatever is left at the end (a failed assertion half way) is killed: every process under the pid files, and those seen
  const started = new Set<number>();
  t.teardown(() => {
    const runDir = path.join(dir, 'run');
    const roots = existsSync(runDir) ? readdirSync(runDir).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(path.join(runDir, f), 'utf8').trim())) : [];
    for (const p of roots.filter((r) => r > 0 && pidAlive(r)).flatMap(processTree)) started.add(p);
    for (const p of started) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });

  // a key the host does not accept: up fails at the head step and says what ssh said
  const refused = await t.throwsAsync(cohort(['up', badCfg]));
  t.regex((refused as unknown as { stderr: string }).stderr, /head on 127\.0\.0\.1 failed \(exit 255\): .*Permission denied \(publickey\)/);

  const t0 = Date.now();
  const up = await cohort(['up', cfg]);
  const upSeconds = (Date.now() - t0) / 1000;
  t.regex(up.stdout, new RegExp(`cluster ${cluster} started on 127\\.0\\.0\\.1`));
  t.deepEqual([...up.stderr.matchAll(/cohort up: (.+) on 127\.0\.0\.1/g)].map((m) => m[1]), ['head', `agent ${cluster}-cpu-0`, `agent ${cluster}-cpu-1`]);
  const runDir = path.join(dir, 'run');
  const pidOf = (name: string) => Number(readFileSync(path.join(runDir, `${name}.pid`), 'utf8').trim());
  const roots = ['head', `agent-${cluster}-cpu-0`, `agent-${cluster}-cpu-1`].map(pidOf);
  for (const p of roots) started.add(p);
  t.true(roots.every(pidAlive));
  t.like(readCurrentCluster(env), { cluster, startedBy: 'up-ssh', config: cfg, address: `nats://127.0.0.1:${natsPort}`, tokenFile: path.join(dir, 'token') });

  // `cohort status` (no flags: the current cluster) sees the head and both agents
  let status: ClusterStatus | undefined;
  t.true(
    await until(async () => {
      status = JSON.parse((await cohort(['status', '--json'])).stdout) as ClusterStatus;
      return status.nodes.filter((n) => n.alive).length === 2;
    }, 20_000, 300),
    JSON.stringify(status),
  );
  t.is(status!.cluster, cluster);
  t.deepEqual(status!.nodes.map((n) => [n.id, n.alive, n.resources.total]), [
    [`${cluster}-cpu-0`, true, { CPU: 1 }],
    [`${cluster}-cpu-1`, true, { CPU: 1 }],
  ]);

  // a driver attaches to the current cluster (connect() with no address) and runs an actor on an ssh-started agent
  const rt = await connect('auto', { runtime: { logLevel: 'silent' } });
  const probe = await rt.spawn(ProbeActor, ['ssh'], { name: 'over-ssh', resources: { CPU: 1 }, nodeAffinity: { nodeId: `${cluster}-cpu-1` } });
  const where = await probe.where();
  t.is(where.node, `${cluster}-cpu-1`);
  t.is(await probe.add(41), 41);

  // every process the launch made: head, nats-server, agents and their worker processes
  const tree = roots.flatMap(processTree);
  t.true(tree.includes(where.pid), 'the actor runs in a worker under an ssh-started agent');
  await rt.shutdown();
  for (const p of tree) started.add(p);
  const commands = tree.map(cmdline);
  t.true(commands.some((c) => /nats-server/.test(c)), commands.join('\n'));
  t.true(tree.length >= 3 + 1 + 2, `head, nats, 2 agents and at least one worker each: ${commands.join('\n')}`);

  const down = await cohort(['down']);
  t.regex(down.stderr, new RegExp(`cohort down: using cluster "${cluster}"`));
  t.regex(down.stderr, /cohort down: stop agents on 127\.0\.0\.1\n.*cohort down: stop head on 127\.0\.0\.1/s);
  t.regex(down.stdout, new RegExp(`cluster ${cluster} stopped`));
  t.notRegex(down.stderr, /still running after/, 'agents and head left on SIGTERM, no SIGKILL needed');
  t.true(await until(() => tree.every((p) => !pidAlive(p)), 15_000, 100), `still running: ${tree.filter(pidAlive).map((p) => `${p} ${cmdline(p)}`).join('; ')}`);
  t.deepEqual(readdirSync(runDir).filter((f) => f.endsWith('.pid')), [], 'down removed the pid files');
  t.is(readCurrentCluster(env), undefined);
  t.log(`cohort up over ssh: ${upSeconds.toFixed(1)} s (head + 2 agents)`);
});
