import test from 'ava';
import { ClusterStateStore, StaleRevisionError, type NodeRecord } from '@cohort/cluster';
import { withNats, client, until } from './helpers/nats.js';

const node = (id: string, GPU = 4): NodeRecord => ({ id, state: 'alive', resources: { CPU: 8, GPU }, labels: { zone: 'a' }, joinedAt: Date.now() });

test('node table, actor directory and placement groups round-trip with revisions and validation', async (t) => {
  const { server } = await withNats(t);
  const nc = await client(t, server().url);
  const store = await ClusterStateStore.open(nc, { cluster: 'rt' });
  const r1 = await store.nodes.put('n1', node('n1'));
  const got = await store.nodes.get('n1');
  t.is(got?.revision, r1);
  t.deepEqual(got?.value.resources, { CPU: 8, GPU: 4 });
  // compare-and-set: a stale revision is refused
  const r2 = await store.nodes.update('n1', { ...node('n1'), state: 'dead' }, r1);
  await t.throwsAsync(store.nodes.update('n1', node('n1'), r1), { instanceOf: StaleRevisionError });
  t.is((await store.nodes.get('n1'))?.revision, r2);
  await t.throwsAsync(store.nodes.create('n1', node('n1')), { instanceOf: StaleRevisionError });
  // an invalid record never reaches the store
  await t.throwsAsync(store.nodes.put('n2', { ...node('n2'), state: 'zombie' } as never), { message: /state/ });
  await t.throwsAsync(store.nodes.put('bad key', node('bad key')), { message: /cannot be a key/ });
  await t.throwsAsync(store.nodes.put('n3', node('n4')), { message: /does not match key/ });
  await store.actors.put('a1', { id: 'a1', name: 'trainer', className: 'Trainer', state: 'ALIVE', nodeId: 'n1', resources: { GPU: 1 }, gpuIds: [0], updatedAt: Date.now() });
  await store.placementGroups.put('pg1', { id: 'pg1', strategy: 'STRICT_SPREAD', bundles: [{ GPU: 1 }, { GPU: 1 }], state: 'pending', updatedAt: Date.now() });
  t.deepEqual([...(await store.actors.list()).keys()], ['a1']);
  t.is((await store.placementGroups.get('pg1'))?.value.strategy, 'STRICT_SPREAD');
  await store.actors.delete('a1');
  t.is(await store.actors.get('a1'), undefined);
  t.is((await store.actors.list()).size, 0);
});

test('modify() is a retrying read-modify-write: concurrent increments are all kept', async (t) => {
  const { server } = await withNats(t);
  const nc = await client(t, server().url);
  const store = await ClusterStateStore.open(nc, { cluster: 'cas' });
  await store.actors.put('a', { id: 'a', className: 'C', state: 'ALIVE', resources: {}, restarts: 0, updatedAt: 0 });
  await Promise.all(Array.from({ length: 5 }, () => store.actors.modify('a', (cur) => ({ ...cur!, restarts: cur!.restarts + 1 }), 50)));
  t.is((await store.actors.get('a'))?.value.restarts, 5);
});

test('watch() sees updates and deletions', async (t) => {
  const { server } = await withNats(t);
  const nc = await client(t, server().url);
  const store = await ClusterStateStore.open(nc, { cluster: 'w' });
  const seen: string[] = [];
  const stop = await store.nodes.watch((id, v) => seen.push(`${id}:${v ? v.state : 'deleted'}`));
  t.teardown(stop);
  await store.nodes.put('n1', node('n1'));
  await store.nodes.put('n1', { ...node('n1'), state: 'left' });
  await store.nodes.delete('n1');
  t.true(await until(() => seen.length >= 3));
  t.deepEqual(seen, ['n1:alive', 'n1:left', 'n1:deleted']);
});

test('state survives a nats-server restart (JetStream on disk) and a new client reads it back', async (t) => {
  const n = await withNats(t, { token: 'state-token-1' });
  const nc = await client(t, n.server().url, 'state-token-1');
  const store = await ClusterStateStore.open(nc, { cluster: 'durable' });
  await store.nodes.put('n1', node('n1', 2));
  await store.actors.put('a1', { id: 'a1', className: 'Echo', state: 'ALIVE', nodeId: 'n1', resources: { CPU: 1 }, updatedAt: 1 });
  await n.restart();
  // the old client reconnects by itself and keeps working
  t.true(await until(async () => {
    try {
      await store.nodes.put('n2', node('n2', 1));
      return true;
    } catch {
      return false;
    }
  }));
  // a fresh client (a restarted head) reads everything back
  const nc2 = await client(t, n.server().url, 'state-token-1', 'head-2');
  const store2 = await ClusterStateStore.open(nc2, { cluster: 'durable' });
  const nodes = await store2.nodes.list();
  t.deepEqual([...nodes.keys()].sort(), ['n1', 'n2']);
  t.is(nodes.get('n1')?.value.resources.GPU, 2);
  t.is((await store2.actors.get('a1'))?.value.nodeId, 'n1');
});
