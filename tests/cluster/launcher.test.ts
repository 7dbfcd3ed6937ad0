import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ActorDiedError } from '@cohort/runtime';
import { ClusterStateStore, connect, connectCluster, pidAlive, readClusterStatus, readLocalState, type ClusterStatus } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { tempDir, until } from './helpers/nats.js';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;
const cohort = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [bin, ...args], { env: { ...process.env, COHORT_TOKEN: '', COHORT_ADDRESS: '', COHORT_LOG_LEVEL: 'warn', ...env }, timeout: 90_000 });

const localConfig = `clusterName: lt
provider: { type: local }
nodeTypes:
  gpu:
    count: 2
    resources: { CPU: 1, GPU: 2, memory: 1Gi }
    labels: { role: trainer }
membership: { heartbeatMs: 200, timeoutMs: 1500 }
`;

test('cohort up (local) starts nats, a head and one process per agent; kill -9 of an agent is detected; a killed head restarts from KV; down stops everything', async (t) => {
  const dir = tempDir(t);
  const cfg = path.join(dir, 'cluster.yaml');
  writeFileSync(cfg, localConfig);
  const stateDir = path.join(dir, 'state');
  const extra: number[] = [];
  t.teardown(() => {
    // kill whatever is left, even when the test failed half way
    const st = (() => {
      try {
        return readLocalState(stateDir);
      } catch {
        return undefined;
      }
    })();
    for (const pid of [...(st?.processes.map((p) => p.pid) ?? []), ...extra]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const up = await cohort(['up', cfg, '--state-dir', stateDir, '--json']);
  const state = readLocalState(stateDir)!;
  t.deepEqual(JSON.parse(up.stdout).processes.map((p: { role: string }) => p.role), ['nats', 'head', 'agent', 'agent']);
  t.true(state.processes.every((p) => pidAlive(p.pid)));
  t.regex(state.natsUrl, /^nats:\/\/127\.0\.0\.1:\d+$/);
  t.is(readFileSync(path.join(stateDir, 'token'), 'utf8').trim().length, 48);

  // `cohort status --json` (a real CLI process) once; polling reads the same KV tables in-process (faster)
  const cliStatus = async (): Promise<ClusterStatus> => JSON.parse((await cohort(['status', '--config', cfg, '--state-dir', stateDir, '--json'])).stdout) as ClusterStatus;
  const tokenForReads = readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
  const reader = await connectCluster({ url: state.natsUrl, token: tokenForReads, name: 'test reader' });
  t.teardown(() => reader.close().catch(() => undefined));
  const store = await ClusterStateStore.open(reader, { cluster: 'lt' });
  const status = () => readClusterStatus(store, 'lt');
  // without the token, status is refused (run beside the first status call)
  const [s1, refused] = await Promise.all([cliStatus(), t.throwsAsync(cohort(['status', '--address', state.natsUrl, '--json']))]);
  t.deepEqual(s1.nodes.map((n) => [n.id, n.alive, n.resources.total]), [
    ['lt-gpu-0', true, { CPU: 1, GPU: 2, memory: 2 ** 30 }],
    ['lt-gpu-1', true, { CPU: 1, GPU: 2, memory: 2 ** 30 }],
  ]);
  t.deepEqual(s1.actors, []);

  t.regex((refused as unknown as { stderr: string }).stderr, /refused by the cluster .* no credentials were given/);

  // a driver connects with the token and runs actors on the agents' worker processes
  const token0 = readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
  const rt = await connect(state.natsUrl, { token: token0, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const mover = await rt.spawn(ProbeActor, ['mover'], { name: 'mover', resources: { GPU: 1 }, nodeAffinity: { nodeId: 'lt-gpu-1', soft: true }, maxRestarts: 1 });
  const pinned = await rt.spawn(ProbeActor, ['pinned'], { name: 'pinned', resources: { GPU: 1 }, nodeAffinity: { nodeId: 'lt-gpu-1' }, maxRestarts: 0 });
  t.is((await mover.where()).node, 'lt-gpu-1');
  t.is((await pinned.where()).node, 'lt-gpu-1');
  t.true(await until(async () => (await status()).actors.filter((a) => a.state === 'ALIVE').length === 2, 20_000, 200), 'until #1');
  const s2a = await status();
  t.deepEqual(s2a.actors.map((a) => [a.name, a.state, a.node]), [['mover', 'ALIVE', 'lt-gpu-1'], ['pinned', 'ALIVE', 'lt-gpu-1']]);
  t.deepEqual(s2a.nodes.find((n) => n.id === 'lt-gpu-1')?.resources.used, { GPU: 2 });

  // kill -9 that agent: the head declares it dead within the timeout; its workers die with it;
  // the actor with a restart left moves to the other node, the other fails with ActorDiedError
  const victim = state.processes.find((p) => p.id === 'lt-gpu-1')!;
  process.kill(victim.pid, 'SIGKILL');
  t.true(await until(async () => (await status()).nodes.find((n) => n.id === 'lt-gpu-1')?.alive === false, 20_000, 300), 'until #2');
  await t.throwsAsync(pinned.where(), { instanceOf: ActorDiedError, message: /pinned.*died/ });
  t.true(await until(async () => {
    try {
      return (await mover.where()).node === 'lt-gpu-0';
    } catch {
      return false;
    }
  }, 20_000, 200));
  const s2b = await status();
  t.deepEqual(s2b.actors.map((a) => [a.name, a.state, a.node]), [['mover', 'ALIVE', 'lt-gpu-0'], ['pinned', 'DEAD', 'lt-gpu-1']]);

  // a demand no node can meet waits, and `cohort status` says why
  await rt.spawn(ProbeActor, ['big'], { name: 'big', resources: { GPU: 4 } });
  t.true(await until(async () => (await status()).pending.some((p) => p.name === 'big'), 10_000, 200), 'until pending');

  // kill -9 the head; start another on the same NATS: it reads the tables back
  const head = state.processes.find((p) => p.role === 'head')!;
  process.kill(head.pid, 'SIGKILL');
  const token = readFileSync(path.join(stateDir, 'token'), 'utf8').trim();
  const head2 = spawn(process.execPath, [bin, 'start', '--head', '--address', state.natsUrl, '--config', cfg], { env: { ...process.env, COHORT_TOKEN: token, COHORT_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  extra.push(head2.pid!);
  let out = '';
  head2.stdout.on('data', (d: Buffer) => (out += d.toString()));
  t.true(await until(() => /cohort head ready: cluster lt .*\(epoch 2,/.test(out), 30_000), 'until #3');
  const [s2, listedOut] = await Promise.all([cliStatus(), cohort(['list', 'nodes', '--config', cfg, '--state-dir', stateDir, '--json'])]);
  t.is(s2.head?.epoch, 2);
  t.deepEqual(s2.nodes.map((n) => [n.id, n.alive]), [['lt-gpu-0', true], ['lt-gpu-1', false]]);
  // the actor directory survived the head restart, and the worker kept running through it
  t.deepEqual(s2.actors.map((a) => [a.name, a.state, a.node]), [['big', 'PENDING', null], ['mover', 'ALIVE', 'lt-gpu-0'], ['pinned', 'DEAD', 'lt-gpu-1']]);
  t.regex(s2.pending.find((p) => p.name === 'big')?.reason ?? '', /GPU/);
  const listed = JSON.parse(listedOut.stdout) as Array<{ id: string; alive: boolean }>;
  t.deepEqual(listed.map((x) => [x.id, x.alive]), [['lt-gpu-0', true], ['lt-gpu-1', false]]);
  t.is(await mover.add(5), 5);
  // the driver finds the new head by itself: lookups and spawns go there
  const again = await rt.getActor<import('./fixtures/actors.js').Probe>('mover');
  t.is((await again.where()).node, 'lt-gpu-0');
  const fresh = await rt.spawn(ProbeActor, ['fresh'], { name: 'fresh', resources: { GPU: 1 } });
  t.is((await fresh.where()).node, 'lt-gpu-0');
  t.deepEqual((await fresh.where()).cuda, '1', 'GPU 0 of lt-gpu-0 is still held by the adopted actor');
  // the driver leaves: the actors it owns end, recovered ones included (it re-introduced itself to the new head)
  await rt.shutdown();
  t.true(await until(async () => (await status()).actors.every((a) => a.state === 'DEAD'), 15_000, 200), 'until owned actors end');
  head2.kill('SIGTERM');

  const down = JSON.parse((await cohort(['down', cfg, '--state-dir', stateDir, '--json'])).stdout) as { stopped: Array<{ role: string }> };
  t.deepEqual(down.stopped.map((p) => p.role).sort(), ['agent', 'agent', 'head', 'nats']);
  t.true(await until(() => state.processes.every((p) => !pidAlive(p.pid))), 'until #4');
  t.is(readLocalState(stateDir), undefined);
});

test('cohort up --dry-run (ssh) prints setup on every host, then the head, then the agents; the token never appears', async (t) => {
  const dir = tempDir(t);
  const cfg = path.join(dir, 'ssh.yaml');
  writeFileSync(cfg, readFileSync(new URL('../../configs/cluster/zerosearch-8gpu.yaml', import.meta.url), 'utf8'));
  const [{ stdout }, down] = await Promise.all([cohort(['up', cfg, '--dry-run'], { COHORT_TOKEN: 'super-secret-token-42' }), cohort(['down', cfg, '--dry-run'])]);
  t.notRegex(stdout, /super-secret-token-42/);
  const labels = [...stdout.matchAll(/^# (.+?) on (\S+)/gm)].map((m) => `${m[1]}@${m[2]}`);
  t.deepEqual(labels, ['setup 1/2@10.0.0.11', 'setup 2/2@10.0.0.11', 'setup 1/2@10.0.0.12', 'setup 2/2@10.0.0.12', 'head@10.0.0.11', 'agent zerosearch-trainer-0@10.0.0.11', 'agent zerosearch-rollout-0@10.0.0.12']);
  const cmds = stdout.split('\n').filter((l) => l.startsWith('ssh '));
  t.is(cmds.length, 7);
  t.true(cmds.every((c) => /ubuntu@10\.0\.0\.1[12] -- /.test(c) && /-i \S+\/\.ssh\/id_ed25519/.test(c)), cmds[0]);
  t.regex(cmds[4], /start --head --no-record --config \S+ --bind 0\.0\.0\.0 --advertise 10\.0\.0\.11 /);
  t.regex(cmds[6], /start --address nats:\/\/10\.0\.0\.11:4222 .*--bind 0\.0\.0\.0 --advertise 10\.0\.0\.12 --node-type rollout --node-id zerosearch-rollout-0/);
  t.deepEqual([...down.stdout.matchAll(/^# (.+?) on (\S+)/gm)].map((m) => `${m[1]}@${m[2]}`), ['stop agents@10.0.0.11', 'stop agents@10.0.0.12', 'stop head@10.0.0.11']);
});

test('CLI errors name the problem: bad config key, unknown node type, agent without address', async (t) => {
  const dir = tempDir(t);
  const cfg = path.join(dir, 'bad.yaml');
  writeFileSync(cfg, localConfig.replace('count: 2', 'count: 2\n    cuont: 3'));
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, localConfig);
  // independent CLI processes: run them side by side
  const [e1, e2, e3, e4] = (await Promise.all([
    t.throwsAsync(cohort(['up', cfg])),
    t.throwsAsync(cohort(['start', '--address', 'nats://127.0.0.1:1', '--config', good, '--node-type', 'tpu'])),
    t.throwsAsync(cohort(['start'])),
    t.throwsAsync(cohort(['list', 'jobs', '--address', 'nats://127.0.0.1:1'])),
  ])) as unknown as Array<{ code: number; stderr: string }>;
  t.is(e1.code, 2); // an invalid config exits 2 in every command (issue 16)
  t.regex(e1.stderr, /nodeTypes\.gpu: unknown key "cuont"; known keys: resources, labels, count/);
  t.is(e2.code, 2);
  t.regex(e2.stderr, /"tpu" is not in .*known types: gpu/);
  t.regex(e3.stderr, /give --head .* or --address/);
  t.regex(e4.stderr, /expected one of actors, nodes, placement-groups, found "jobs"/);
});
