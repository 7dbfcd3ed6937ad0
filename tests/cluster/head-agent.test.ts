import test from 'ava';
import { ClusterHead, NodeAgent, ClusterAuthError, readClusterStatus, discoverCluster } from '@cohort/cluster';
import { withNats, client, until, tempDir } from './helpers/nats.js';

const TOKEN = 'head-agent-token-1';

test('agents join through the head, show in status with resources, and leave cleanly', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const head = await ClusterHead.start({ cluster: 'ha', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 100, timeoutMs: 600 });
  t.teardown(() => head.stop());
  const a = await NodeAgent.start({ address: url, auth: { token: TOKEN }, nodeId: 'gpu-a', resources: { CPU: 4, GPU: 2 }, labels: { role: 'trainer' } });
  t.teardown(() => a.stop());
  t.is(a.info.cluster, 'ha', 'the cluster name is discovered from the head');
  t.true(await until(async () => (await head.store.nodes.get('gpu-a'))?.value.state === 'alive'));
  await head.store.actors.put('act1', { id: 'act1', name: 'policy', className: 'Policy', state: 'ALIVE', nodeId: 'gpu-a', resources: { GPU: 1, CPU: 1 }, updatedAt: Date.now() });
  const s = await readClusterStatus(head.store, 'ha');
  t.deepEqual(s.nodes.map((n) => ({ id: n.id, alive: n.alive, total: n.resources.total, used: n.resources.used, free: n.resources.free })), [
    { id: 'gpu-a', alive: true, total: { CPU: 4, GPU: 2 }, used: { GPU: 1, CPU: 1 }, free: { CPU: 3, GPU: 1 } },
  ]);
  t.deepEqual(s.actors.map((x) => [x.name, x.state, x.node]), [['policy', 'ALIVE', 'gpu-a']]);
  await a.stop();
  t.true(await until(async () => (await head.store.nodes.get('gpu-a'))?.value.state === 'left'));
  t.true(await until(async () => (await head.store.actors.get('act1'))?.value.state === 'DEAD'));
  const after = await head.store.actors.get('act1');
  t.regex(after?.value.reason ?? '', /node gpu-a left/);
});

test('an agent without the cluster token is refused with a clear error', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const err = await t.throwsAsync(NodeAgent.start({ address: server().url, nodeId: 'intruder', resources: { CPU: 1 } }));
  t.true(err instanceof ClusterAuthError);
  t.regex(err!.message, /refused by the cluster/);
});

test('a silent node is marked dead, its actors typed DEAD with the cause, and dead-node hooks run', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const head = await ClusterHead.start({ cluster: 'd', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 100, timeoutMs: 500 });
  t.teardown(() => head.stop());
  const dead: string[] = [];
  head.onNodeDead((id) => void dead.push(id));
  const nc = await client(t, url, TOKEN);
  const a = await NodeAgent.start({ address: url, auth: { token: TOKEN }, nodeId: 'n1', resources: { CPU: 1 } });
  t.true(await until(async () => (await head.store.nodes.get('n1'))?.value.state === 'alive'));
  await head.store.actors.put('x', { id: 'x', className: 'X', state: 'ALIVE', nodeId: 'n1', resources: {}, updatedAt: 0 });
  // simulate a crash: the connection drops without a leave message
  await a.nc.close();
  t.true(await until(() => dead.length === 1));
  t.true(await until(async () => (await head.store.actors.get('x'))?.value.state === 'DEAD'));
  const n = await head.store.nodes.get('n1');
  t.is(n?.value.state, 'dead');
  t.regex(n?.value.reason ?? '', /no heartbeat for \d+ ms \(timeout 500 ms\)/);
  t.regex((await head.store.actors.get('x'))?.value.reason ?? '', /node n1 died/);
  t.false(nc.isClosed());
});

test('a restarted head recovers the node table from KV without disturbing live nodes; a node that died meanwhile is detected', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const head1 = await ClusterHead.start({ cluster: 'r', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 100, timeoutMs: 2000 });
  const live = await NodeAgent.start({ address: url, auth: { token: TOKEN }, nodeId: 'live', resources: { CPU: 2 } });
  t.teardown(() => live.stop());
  const doomed = await NodeAgent.start({ address: url, auth: { token: TOKEN }, nodeId: 'doomed', resources: { CPU: 2 } });
  t.true(await until(async () => (await head1.store.nodes.list()).size === 2));
  await head1.stop();
  await doomed.nc.close(); // dies while there is no head
  const head2 = await ClusterHead.start({ cluster: 'r', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 100, timeoutMs: 2000 });
  t.teardown(() => head2.stop());
  t.is(head2.epoch, 2);
  t.true(head2.monitor.isAlive('live'));
  t.true(await until(async () => (await head2.store.nodes.get('doomed'))?.value.state === 'dead'));
  await new Promise((r) => setTimeout(r, 2200));
  t.is((await head2.store.nodes.get('live'))?.value.state, 'alive');
  t.is((await discoverCluster(live.nc)).epoch, 2);
});

test('a head with no NATS address starts a managed, token-protected nats-server and stops it with itself', async (t) => {
  const dir = tempDir(t);
  const head = await ClusterHead.start({ cluster: 'm', managedNats: { dir }, auth: { token: TOKEN } });
  t.teardown(() => head.stop());
  t.regex(head.natsUrl, /^nats:\/\/127\.0\.0\.1:\d+$/);
  await t.throwsAsync(NodeAgent.start({ address: head.natsUrl, nodeId: 'x', resources: { CPU: 1 } }), { instanceOf: ClusterAuthError });
  const a = await NodeAgent.start({ address: head.natsUrl, auth: { token: TOKEN }, nodeId: 'ok', resources: { CPU: 1 } });
  await a.stop();
  await head.stop();
  await t.throwsAsync(NodeAgent.start({ address: head.natsUrl, auth: { token: TOKEN }, nodeId: 'late', resources: { CPU: 1 } }));
});
