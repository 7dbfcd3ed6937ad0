import test from 'ava';
import { MembershipMonitor, NodeHeartbeat, membershipSubjects, NodeEventSchema, type NodeEvent } from '@cohort/cluster';
import { withNats, client, until } from './helpers/nats.js';

const ann = (nodeId: string) => ({ nodeId, resources: { CPU: 2, GPU: 1 }, labels: {} });

test('joins, clean leaves and deaths are detected within the configured timeout', async (t) => {
  const { server } = await withNats(t);
  const head = await client(t, server().url, undefined, 'head');
  const mon = new MembershipMonitor(head, { cluster: 'm', timeoutMs: 600 });
  t.teardown(() => mon.stop());
  const joins: string[] = [];
  const leaves: string[] = [];
  const deaths: Array<{ id: string }> = [];
  mon.onJoin((n) => joins.push(n.nodeId));
  mon.onLeave((id) => leaves.push(id));
  mon.onDead((id) => deaths.push({ id }));
  const events: NodeEvent[] = [];
  head.subscribe(membershipSubjects('m').events, { callback: (_e, msg) => {
    events.push(NodeEventSchema.parse(msg.json()));
  } });
  mon.start();

  const a = await client(t, server().url, undefined, 'a');
  const b = await client(t, server().url, undefined, 'b');
  const hbA = new NodeHeartbeat(a, { cluster: 'm', node: ann('node-a'), intervalMs: 100 });
  const hbB = new NodeHeartbeat(b, { cluster: 'm', node: ann('node-b'), intervalMs: 100 });
  t.teardown(() => Promise.all([hbA.stop(false), hbB.stop(false)]));
  hbA.start();
  hbB.start();
  t.true(await until(() => joins.length === 2));
  t.deepEqual(joins.sort(), ['node-a', 'node-b']);
  t.deepEqual(mon.alive().map((n) => n.nodeId).sort(), ['node-a', 'node-b']);

  await hbA.stop(true, 'shutdown');
  t.true(await until(() => leaves.length === 1));
  t.deepEqual(leaves, ['node-a']);

  // node-b goes silent without a word (as a killed process would)
  await hbB.stop(false);
  t.true(await until(() => deaths.length === 1));
  t.is(deaths[0].id, 'node-b');
  t.false(mon.isAlive('node-b'));
  t.true(await until(() => events.length === 4));
  t.deepEqual(events.map((e) => `${e.type}:${e.nodeId}`).sort(), ['dead:node-b', 'join:node-a', 'join:node-b', 'leave:node-a']);
  // a node that comes back joins again
  hbB.start();
  t.true(await until(() => joins.length === 3));
});

test('a restarted head starts from the stored node table: silent nodes die, heartbeating ones stay', async (t) => {
  const { server } = await withNats(t);
  const head = await client(t, server().url, undefined, 'head');
  const a = await client(t, server().url, undefined, 'a');
  const hb = new NodeHeartbeat(a, { cluster: 'r', node: ann('live'), intervalMs: 100 });
  t.teardown(() => hb.stop(false));
  hb.start();
  const mon = new MembershipMonitor(head, { cluster: 'r', timeoutMs: 2000, known: [ann('live'), ann('gone')] });
  t.teardown(() => mon.stop());
  const dead: string[] = [];
  const joins: string[] = [];
  mon.onDead((id) => dead.push(id));
  mon.onJoin((n) => joins.push(n.nodeId));
  mon.start();
  t.true(await until(() => dead.length === 1));
  t.deepEqual(dead, ['gone']);
  await new Promise((r) => setTimeout(r, 2200));
  t.deepEqual(dead, ['gone']);
  t.deepEqual(joins, [], 'a known node is not re-announced as a join');
  t.true(mon.isAlive('live'));
});

test('a nats-server restart longer than the timeout does not kill the nodes', async (t) => {
  const n = await withNats(t);
  const head = await client(t, n.server().url, undefined, 'head');
  const a = await client(t, n.server().url, undefined, 'a');
  const hb = new NodeHeartbeat(a, { cluster: 'x', node: ann('n1'), intervalMs: 100 });
  t.teardown(() => hb.stop(false));
  hb.start();
  const mon = new MembershipMonitor(head, { cluster: 'x', timeoutMs: 800 });
  t.teardown(() => mon.stop());
  const dead: string[] = [];
  mon.onDead((id) => dead.push(id));
  mon.start();
  t.true(await until(() => mon.isAlive('n1')));
  await n.server().stop();
  await new Promise((r) => setTimeout(r, 1300));
  await n.restart();
  // after reconnecting, the node keeps heartbeating and stays alive past a full timeout
  t.true(await until(() => !head.isClosed() && mon.isAlive('n1')));
  await new Promise((r) => setTimeout(r, 1200));
  t.deepEqual(dead, []);
  t.true(mon.isAlive('n1'));
});

test('invalid heartbeats are dropped, not trusted', async (t) => {
  const { server } = await withNats(t);
  const head = await client(t, server().url, undefined, 'head');
  const mon = new MembershipMonitor(head, { cluster: 'v', timeoutMs: 500 });
  t.teardown(() => mon.stop());
  mon.start();
  const s = membershipSubjects('v');
  head.publish(s.heartbeat('evil'), 'not json');
  head.publish(s.heartbeat('evil'), JSON.stringify({ nodeId: 'evil node', resources: {}, seq: 0, sentAt: 0 }));
  head.publish(s.heartbeat('ok'), JSON.stringify({ nodeId: 'ok', resources: { CPU: 1 }, seq: 0, sentAt: 0 }));
  t.true(await until(() => mon.isAlive('ok')));
  t.deepEqual(mon.alive().map((x) => x.nodeId), ['ok']);
});

// serial: blocking the event loop would disturb the other tests of this file if they ran beside it
test.serial('a monitor whose own event loop was blocked longer than the timeout does not declare live nodes dead', async (t) => {
  const { server } = await withNats(t);
  const head = await client(t, server().url, undefined, 'head');
  const a = await client(t, server().url, undefined, 'a');
  const hb = new NodeHeartbeat(a, { cluster: 'stall', node: ann('n1'), intervalMs: 100 });
  t.teardown(() => hb.stop(false));
  hb.start();
  const mon = new MembershipMonitor(head, { cluster: 'stall', timeoutMs: 1000 });
  t.teardown(() => mon.stop());
  const dead: string[] = [];
  mon.onDead((id) => dead.push(id));
  mon.start();
  t.true(await until(() => mon.isAlive('n1')));
  const end = Date.now() + 2500;
  while (Date.now() < end) {
    /* block the event loop, as a busy head process would */
  }
  await new Promise((r) => setTimeout(r, 800));
  t.deepEqual(dead, []);
  t.true(mon.isAlive('n1'));
});
