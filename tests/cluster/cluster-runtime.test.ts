import test from 'ava';
import { ActorDiedError } from '@cohort/runtime';
import { ClusterAuthError, actorEventSubject, connect, logSubject, pidAlive, startClusterHead, startClusterNode, readClusterStatus, type ClusterNode } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { withNats, until, client } from './helpers/nats.js';

const TOKEN = 'cluster-runtime-token';

test('connect() gives the local API over a head and two node agents: spread placement, GPU ids, calls, status, node loss → restart elsewhere or ActorDiedError', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const svc = await startClusterHead({ cluster: 'crt', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 1200, restartBackoffMs: 50, logLevel: 'info' });
  t.teardown(() => svc.stop({ killActors: true }));
  // a tool listening on NATS: actor lifecycle events and actor log lines
  const watcher = await client(t, url, TOKEN, 'watcher');
  const events: Array<{ type: string; name?: string }> = [];
  const logs: Array<{ actor: string; node: string; msg: string; level: string }> = [];
  watcher.subscribe(actorEventSubject('crt'), { callback: (_e, m) => void events.push(m.json()) });
  watcher.subscribe(logSubject('crt'), { callback: (_e, m) => void logs.push(m.json()) });
  await watcher.flush();
  const nodes: ClusterNode[] = [];
  for (const id of ['n1', 'n2']) {
    const n = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: id, resources: { CPU: 2, GPU: 2 }, heartbeatMs: 200 });
    nodes.push(n);
    t.teardown(() => n.stop());
  }
  t.true(await until(() => svc.controlPlane.nodeIds().length === 2));

  // a driver without the cluster token is refused before it can do anything
  await t.throwsAsync(connect(url, { token: 'not-the-token', runtime: { logLevel: 'silent' } }), { instanceOf: ClusterAuthError, message: /refused by the cluster/ });
  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  t.is(rt.clusterInfo.cluster, 'crt');
  const seen: string[] = [];
  rt.onActorEvent((e) => seen.push(`${e.type}:${e.name}`));
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'a', resources: { GPU: 1 }, spread: true, maxRestarts: 1 });
  const b = await rt.spawn(ProbeActor, ['b'], { name: 'b', resources: { GPU: 1 }, spread: true, maxRestarts: 0 });
  const wa = await a.where();
  const wb = await b.where();
  t.not(wa.node, wb.node, 'spread puts them on different nodes');
  t.deepEqual([wa.cuda, wb.cuda], ['0', '0']);
  t.is(await a.add(2), 2);
  t.deepEqual(await b.echo({ x: [1, 2] }), { x: [1, 2] });
  await a.shout('hello from a');
  t.true(await until(() => logs.some((l) => l.actor === 'a' && l.msg === 'hello from a')), 'the log line reached NATS');
  t.deepEqual(logs.find((l) => l.msg === 'hello from a')?.node, wa.node);
  t.true(await until(() => ['a', 'b'].every((n) => events.some((e) => e.type === 'alive' && e.name === n))));
  const byName = await rt.getActor<InstanceType<typeof import('./fixtures/actors.js').Probe>>('b');
  t.is((await byName.where()).node, wb.node);

  t.true(await until(async () => (await readClusterStatus(svc.head.store, 'crt')).actors.filter((x) => x.state === 'ALIVE').length === 2));
  const st = await readClusterStatus(svc.head.store, 'crt');
  t.is(st.nodes.length, 2);
  t.deepEqual(st.actors.map((x) => [x.name, x.state, x.node]).sort(), [['a', 'ALIVE', wa.node], ['b', 'ALIVE', wb.node]]);
  t.is(st.nodes.find((n) => n.id === wa.node)?.resources.used.GPU, 1);

  // a STRICT_SPREAD placement group takes one bundle on each agent; an actor placed in bundle 1 runs on that bundle's node
  const pg = await rt.createPlacementGroup({ bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD', name: 'pair' });
  const ready = await pg.ready();
  t.is(new Set(ready.bundleNodes).size, 2);
  const inPg = await rt.spawn(ProbeActor, ['pg'], { name: 'in-pg', placementGroup: pg.id, bundleIndex: 1, resources: { CPU: 1 } });
  t.is((await inPg.where()).node, ready.bundleNodes![1]);
  t.true(await until(async () => (await svc.head.store.placementGroups.get(pg.id))?.value.state === 'created'));
  await pg.remove();
  await t.throwsAsync(inPg.where(), { instanceOf: ActorDiedError, message: /placement group .* was removed/ });
  t.true(await until(async () => (await svc.head.store.placementGroups.get(pg.id))?.value.state === 'removed'));

  // an impossible demand stays pending with a reason (nodes may join later)
  const big = await rt.spawn(ProbeActor, ['big'], { name: 'big', resources: { GPU: 3 } });
  t.true(await until(async () => (await rt.pending()).some((p) => p.kind === 'actor' && /GPU/.test(p.reason))));
  await big.$kill();

  // lose the node of `b` (no restarts left): calls to it fail with a typed ActorDiedError
  const victimNode = nodes.find((n) => n.nodeId === wb.node)!;
  const pids = victimNode.workerPids();
  t.true(pids.length >= 1);
  // simulate a crash of the agent: stop heartbeating without a leave, and its workers die with it
  await victimNode.agent.nc.close();
  await victimNode.stop();
  t.true(await until(() => pids.every((p) => !pidAlive(p))));
  const err = await t.throwsAsync(b.where(), { instanceOf: ActorDiedError });
  t.regex(err!.message, new RegExp(`node ${wb.node} was lost|worker process`));
  t.true(await until(async () => (await readClusterStatus(svc.head.store, 'crt')).nodes.find((n) => n.id === wb.node)?.alive === false));
  t.true(await until(() => seen.includes('died:b')), 'the driver observes the death through onActorEvent');
  t.true(seen.includes('alive:a'));
  // `a` still answers (it lives on the surviving node)
  t.is(await a.add(1), 3);
});

test('an actor with restarts left moves to a surviving node when its node dies', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const svc = await startClusterHead({ cluster: 'mv', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 1200, restartBackoffMs: 50 });
  t.teardown(() => svc.stop({ killActors: true }));
  const n1 = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'm1', resources: { CPU: 1, GPU: 1 }, heartbeatMs: 200 });
  t.teardown(() => n1.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));
  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const p = await rt.spawn(ProbeActor, ['p'], { name: 'p', resources: { GPU: 1 }, maxRestarts: 2 });
  const w1 = await p.where();
  t.is(w1.node, 'm1');
  const n2 = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'm2', resources: { CPU: 1, GPU: 1 }, heartbeatMs: 200 });
  t.teardown(() => n2.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 2));
  await n1.agent.nc.close();
  await n1.stop();
  t.true(await until(async () => {
    try {
      return (await p.where()).node === 'm2';
    } catch {
      return false;
    }
  }, 20_000, 200));
  const w2 = await p.where();
  t.is(w2.incarnation, 1, 'the constructor re-ran once');
  t.is(w2.cuda, '0');

  // a detached actor outlives the driver that spawned it; an owned one does not
  const keeper = await rt.spawn(ProbeActor, ['k'], { name: 'keeper', lifetime: 'detached', resources: { CPU: 0.1 } });
  t.is(await keeper.add(7), 7);
  await rt.shutdown();
  t.true(await until(async () => (await svc.head.store.actors.get(p.$id))?.value.state === 'DEAD'), 'the owned actor ended with its driver');
  const rt2 = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt2.shutdown());
  const again = await rt2.getActor<import('./fixtures/actors.js').Probe>('keeper');
  t.is(await again.add(1), 8);
});

test('a nats-server restart: head, agents and driver reconnect; actors keep running; no node is declared dead; new spawns work', async (t) => {
  const n = await withNats(t, { token: TOKEN });
  const url = n.server().url;
  const svc = await startClusterHead({ cluster: 'nr', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 1000 });
  t.teardown(() => svc.stop({ killActors: true }));
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'r1', resources: { CPU: 2 }, heartbeatMs: 200 });
  t.teardown(() => node.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));
  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const p = await rt.spawn(ProbeActor, ['p'], { name: 'p', resources: { CPU: 1 } });
  t.is(await p.add(1), 1);
  const dead: string[] = [];
  svc.head.onNodeDead((id) => void dead.push(id));
  await n.server().stop();
  await new Promise((r) => setTimeout(r, 1500)); // longer than the node timeout
  await n.restart();
  t.is(await p.add(1), 2, 'the data plane does not go through NATS');
  t.true(await until(async () => (await svc.head.store.nodes.get('r1').catch(() => undefined))?.value.state === 'alive'));
  const q = await rt.spawn(ProbeActor, ['q'], { name: 'q', resources: { CPU: 1 } });
  t.is((await q.where()).node, 'r1');
  t.true(await until(async () => (await svc.head.store.actors.get(q.$id).catch(() => undefined))?.value.state === 'ALIVE'));
  await new Promise((r) => setTimeout(r, 1200));
  t.deepEqual(dead, []);
  t.true(svc.head.monitor.isAlive('r1'));
});
