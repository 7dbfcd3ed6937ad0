import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, readClusterStatus, startClusterHead, startClusterNode, type ClusterStatus } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { withNats, until } from './helpers/nats.js';

const TOKEN = 'head-restart-token-1';
const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

test('head restart: workers re-register through their agent; running actors keep serving and show up in `cohort status --json` of the new head, even where the stored directory was stale', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const headOpts = { cluster: 'hr', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 3000 };
  let svc = await startClusterHead(headOpts);
  t.teardown(() => svc.stop({ killActors: true }));
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'hr-1', resources: { CPU: 4 }, heartbeatMs: 200, workerPool: { prestart: 0 } });
  t.teardown(() => node.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));

  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'hr-a', lifetime: 'detached' });
  const b = await rt.spawn(ProbeActor, ['b'], { name: 'hr-b', lifetime: 'detached', process: 'shared' });
  t.is(await a.add(1), 1);
  t.is(await b.add(5), 5);
  const [wa, wb] = [await a.where(), await b.where()];
  const pidsBefore = node.workerPids().sort();
  const store = svc.head.store;
  t.true(await until(async () => (await store.actors.get(a.$id))?.value.state === 'ALIVE' && (await store.actors.get(b.$id))?.value.state === 'ALIVE'));

  // Make the stored directory stale, as if the head died before its last writes:
  // a's entry still says it is starting (no address), b's entry is gone.
  const storedA = (await store.actors.get(a.$id))!.value;
  await store.actors.put(a.$id, { ...storedA, state: 'PENDING', address: undefined, pid: undefined });
  await store.actors.delete(b.$id);

  await svc.stop({ killActors: false });
  svc = await startClusterHead(headOpts);
  t.is(svc.head.epoch, 2);

  // the same workers keep serving, with their state: nothing was restarted or started twice
  t.is(await a.add(1), 2);
  t.is(await b.add(1), 6);
  t.is((await a.where()).pid, wa.pid);
  t.is((await b.where()).pid, wb.pid);
  t.deepEqual(node.workerPids().sort(), pidsBefore);
  // the new head's directory has them (by name too), with the addresses the workers reported
  const infoA = await svc.controlPlane.getActor({ name: 'hr-a' });
  t.is(infoA?.state, 'alive');
  t.is(infoA?.pid, wa.pid);
  t.is((await svc.controlPlane.getActor({ name: 'hr-b' }))?.state, 'alive');
  t.is(await (await rt.getActor<InstanceType<typeof import('./fixtures/actors.js').Probe>>('hr-b')).add(0), 6);

  // and `cohort status --json` (a real CLI process) of the new head lists both as ALIVE on their node
  t.true(await until(async () => (await readClusterStatus(svc.head.store, 'hr')).actors.filter((x) => x.state === 'ALIVE').length === 2, 10_000, 100));
  const { stdout } = await run(process.execPath, [bin, 'status', '--address', url, '--json'], { env: { ...process.env, COHORT_TOKEN: TOKEN, COHORT_LOG_LEVEL: 'warn' }, timeout: 60_000 });
  const status = JSON.parse(stdout) as ClusterStatus;
  const byName = new Map(status.actors.map((x) => [x.name, x]));
  t.is(byName.get('hr-a')?.state, 'ALIVE');
  t.is(byName.get('hr-a')?.node, 'hr-1');
  t.is(byName.get('hr-b')?.state, 'ALIVE');
  t.is(byName.get('hr-b')?.node, 'hr-1');
});
