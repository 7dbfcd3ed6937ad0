// The current cluster: `cohort up` / `cohort start --head` record the cluster
// they started; status, list, logs, down, `train --address auto` and
// `connect()` use it when given no address, say which cluster they used, and
// say clearly when it is gone. Real CLI processes, real nats-server.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ClusterGoneError,
  connectTarget,
  currentClusterFile,
  forgetCurrentCluster,
  pidAlive,
  readCurrentCluster,
  readLocalState,
  recordCurrentCluster,
  resolveClusterTarget,
  type ClusterStatus,
} from '@cohort/cluster';
import { tempDir, until, withNats } from './helpers/nats.js';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

function cli(file: string) {
  const env = { ...process.env, COHORT_CURRENT_CLUSTER: file, COHORT_TOKEN: '', COHORT_ADDRESS: '', COHORT_LOG_LEVEL: 'warn' };
  return {
    env,
    ok: (args: string[]) => run(process.execPath, [bin, ...args], { env, timeout: 60_000 }),
    fail: async (args: string[]) => {
      try {
        await run(process.execPath, [bin, ...args], { env, timeout: 60_000 });
      } catch (err) {
        return err as { code: number; stderr: string; stdout: string };
      }
      throw new Error(`cohort ${args.join(' ')} succeeded; expected a failure`);
    },
  };
}

test('the record: written atomically, read back, forgotten only when it names the cluster; a damaged file says to remove it', (t) => {
  const dir = tempDir(t);
  const env = { COHORT_CURRENT_CLUSTER: path.join(dir, 'sub', 'current.json') };
  t.is(currentClusterFile(env), env.COHORT_CURRENT_CLUSTER);
  t.is(currentClusterFile({ XDG_STATE_HOME: '/x/state' }), '/x/state/cohort/current-cluster.json');
  t.regex(currentClusterFile({}), /\.cohort\/current-cluster\.json$/);
  t.is(readCurrentCluster(env), undefined);
  recordCurrentCluster({ cluster: 'a', address: 'nats://127.0.0.1:1', startedBy: 'up-local', config: '/c/a.yaml', pids: [process.pid] }, env);
  const rec = readCurrentCluster(env)!;
  t.like(rec, { cluster: 'a', address: 'nats://127.0.0.1:1', startedBy: 'up-local', config: '/c/a.yaml', host: hostname() });
  t.is(statSync(env.COHORT_CURRENT_CLUSTER).mode & 0o777, 0o600);
  t.false(forgetCurrentCluster({ config: '/c/other.yaml' }, env));
  t.false(forgetCurrentCluster({ cluster: 'a', address: 'nats://127.0.0.1:2' }, env));
  t.true(forgetCurrentCluster({ config: '/c/a.yaml' }, env));
  t.false(existsSync(env.COHORT_CURRENT_CLUSTER));
  writeFileSync(env.COHORT_CURRENT_CLUSTER, '{"cluster": 3}');
  t.throws(() => readCurrentCluster(env), { message: /is not a Cohort current-cluster record \(cluster: .*\); remove it/ });
});


test('resolveClusterTarget: flags and COHORT_ADDRESS win over the record; `auto` and no flags use it; dead pids or a silent address mean gone', async (t) => {
  const dir = tempDir(t);
  const env = { COHORT_CURRENT_CLUSTER: path.join(dir, 'current.json') };
  t.throws(() => resolveClusterTarget({ env }), { message: /no cluster address and no current cluster: start one with `cohort up CONFIG`/ });
  t.throws(() => resolveClusterTarget({ address: 'auto', env }), { message: /--address auto: no current cluster is recorded in .*current\.json/ });
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'recorded-token-123\n');
  const { server } = await withNats(t);
  recordCurrentCluster({ cluster: 'rc', address: server().url, startedBy: 'start-head', tokenFile, pids: [process.pid] }, env);
  const viaRecord = resolveClusterTarget({ env });
  t.like(viaRecord, { url: server().url, source: 'current', cluster: 'rc', auth: { token: 'recorded-token-123' } });
  t.like(resolveClusterTarget({ address: 'auto', env }), { url: server().url, source: 'current' });
  t.like(resolveClusterTarget({ address: 'nats://127.0.0.1:9', env }), { url: 'nats://127.0.0.1:9', source: 'address', current: undefined });
  t.like(resolveClusterTarget({ env: { ...env, COHORT_ADDRESS: 'nats://127.0.0.1:8', COHORT_TOKEN: 'envtoken-1' } }), { url: 'nats://127.0.0.1:8', source: 'env', auth: { token: 'envtoken-1' } });
  t.like(resolveClusterTarget({ env: { ...env, COHORT_TOKEN: 'envtoken-1' } }), { source: 'current', auth: { token: 'envtoken-1' } }, 'COHORT_TOKEN beats the token file');
  const nc = await connectTarget(viaRecord, 'test', env);
  await nc.close();
  // the address no longer answers
  const port = server().port;
  await server().stop(2000);
  const gone = await t.throwsAsync(connectTarget(resolveClusterTarget({ env }), 'test', env));
  t.true(gone instanceof ClusterGoneError);
  t.regex(gone!.message, new RegExp(`the current cluster "rc" \\(nats://127\\.0\\.0\\.1:${port}, recorded in .*current\\.json\\) is gone: nothing answers at .*; start it again with \`cohort up CONFIG\` or \`cohort start --head\``));
  // its processes on this host are dead: known without the network
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.once('exit', r));
  recordCurrentCluster({ cluster: 'rc', address: 'nats://127.0.0.1:1', startedBy: 'up-local', config: path.join(dir, 'c.yaml'), pids: [dead.pid!] }, env);
  t.throws(() => resolveClusterTarget({ env }), { instanceOf: ClusterGoneError, message: new RegExp(`is gone: its processes \\(pid ${dead.pid}\\) are no longer running; start it again with \`cohort up ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/c\\.yaml\``) });
});

test('cohort up records the cluster: status, list and down need no flags and say which cluster they used; afterwards status says there is none', async (t) => {
  const dir = tempDir(t);
  const current = path.join(dir, 'current-cluster.json');
  const c = cli(current);
  const cfg = path.join(dir, 'cluster.yaml');
  writeFileSync(cfg, `clusterName: cur\nprovider: { type: local, stateDir: ${path.join(dir, 'state')} }\nnodeTypes:\n  cpu:\n    count: 1\n    resources: { CPU: 1 }\n    workerPool: { prestart: 0 }\nmembership: { heartbeatMs: 200, timeoutMs: 1500 }\n`);
  t.teardown(() => {
    for (const p of readLocalStateSafe(path.join(dir, 'state'))?.processes ?? []) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  await c.ok(['up', cfg]);
  const rec = readCurrentCluster({ COHORT_CURRENT_CLUSTER: current })!;
  t.like(rec, { cluster: 'cur', startedBy: 'up-local', config: cfg, stateDir: path.join(dir, 'state'), tokenFile: path.join(dir, 'state', 'token') });
  const [status, nodes] = await Promise.all([c.ok(['status', '--json']), c.ok(['list', 'nodes'])]);
  const s = JSON.parse(status.stdout) as ClusterStatus;
  t.is(s.cluster, 'cur');
  t.deepEqual(s.nodes.map((n) => [n.id, n.alive]), [['cur-cpu-0', true]]);
  t.regex(status.stderr, new RegExp(`cohort status: using cluster "cur" at nats://127\\.0\\.0\\.1:\\d+ \\(the current cluster: started by \`cohort up ${cfg}\` at .*, recorded in ${current}\\)`));
  t.regex(nodes.stdout, /^cur-cpu-0\talive/);
  t.regex(nodes.stderr, /cohort list: using cluster "cur"/);
  // an explicit address still wins (and says nothing about the current cluster)
  const other = await c.fail(['status', '--address', 'nats://127.0.0.1:1']);
  t.is(other.code, 3);
  t.notRegex(other.stderr, /current cluster/);
  // down without CONFIG stops the current cluster and forgets it
  const pids = readLocalStateSafe(path.join(dir, 'state'))!.processes.map((p) => p.pid);
  const down = await c.ok(['down']);
  t.regex(down.stderr, /cohort down: using cluster "cur"/);
  t.regex(down.stdout, /cluster cur stopped \(3 processes\)/);
  t.true(await until(() => pids.every((p) => !pidAlive(p)), 10_000));
  t.false(existsSync(current));
  const none = await c.fail(['status']);
  t.is(none.code, 1);
  t.regex(none.stderr, /no cluster address and no current cluster: start one with `cohort up CONFIG`/);
});

test('cohort start --head records itself and forgets on a clean stop; a recorded cluster that died says it is gone (exit 3); down stops a recorded head', async (t) => {
  const dir = tempDir(t);
  const current = path.join(dir, 'current-cluster.json');
  const c = cli(current);
  const startHead = () => {
    const head = spawn(process.execPath, [bin, 'start', '--head', '--cluster', 'hd', '--nats-dir', path.join(dir, 'nats'), '--dashboard-port', 'off'], { env: c.env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (head.exitCode === null) head.kill('SIGKILL');
    });
    let out = '';
    head.stdout.on('data', (d: Buffer) => (out += d));
    head.stderr.on('data', (d: Buffer) => (out += d));
    return { head, ready: () => until(() => /this is now the current cluster/.test(out), 30_000) };
  };
  const h1 = startHead();
  t.true(await h1.ready());
  t.like(readCurrentCluster({ COHORT_CURRENT_CLUSTER: current }), { cluster: 'hd', startedBy: 'start-head', pids: [h1.head.pid], tokenFile: path.join(dir, 'token') });
  const s = JSON.parse((await c.ok(['status', '--json'])).stdout) as ClusterStatus;
  t.is(s.cluster, 'hd');
  h1.head.kill('SIGTERM');
  await new Promise((r) => h1.head.once('exit', r));
  t.false(existsSync(current), 'a clean stop forgets the record');

  // a head killed with -9 leaves its record behind: the next command says the cluster is gone
  const h2 = startHead();
  t.true(await h2.ready());
  h2.head.kill('SIGKILL');
  await new Promise((r) => h2.head.once('exit', r));
  const gone = await c.fail(['status', '--json']);
  t.is(gone.code, 3);
  t.regex(gone.stderr, /the current cluster "hd" \(nats:\/\/127\.0\.0\.1:\d+, recorded in .*\) is gone: its processes \(pid \d+\) are no longer running; start it again with `cohort up CONFIG` or `cohort start --head`/);
  const trainGone = await c.fail(['train', 'configs/zerosearch/local.yaml', '--address', 'auto']);
  t.is(trainGone.code, 3);
  t.regex(trainGone.stderr, /is gone/);
  // the managed nats-server of the killed head may outlive it: stop it
  for (const f of readdirSync(path.join(dir, 'nats'))) {
    const natsPid = Number(/^nats-server_(\d+)\.ports$/.exec(f)?.[1] ?? 0);
    if (natsPid && pidAlive(natsPid)) process.kill(natsPid, 'SIGKILL');
  }

  // `cohort down` with no CONFIG stops a head recorded by `cohort start --head`
  const h3 = startHead();
  t.true(await h3.ready());
  const down = await c.ok(['down']);
  t.regex(down.stdout, new RegExp(`cluster hd: stopped the head \\(pid ${h3.head.pid}\\)`));
  t.true(await until(() => h3.head.exitCode !== null || h3.head.signalCode !== null, 10_000));
  t.false(existsSync(current));
});

function readLocalStateSafe(dir: string) {
  try {
    return readLocalState(dir);
  } catch {
    return undefined;
  }
}
