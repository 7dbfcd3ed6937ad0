import test from 'ava';
import net from 'node:net';
import { advertisedHost, connect, startClusterHead, startClusterNode, validateClusterConfig } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { withNats, until } from './helpers/nats.js';
import { isLoopback, listeningAddresses } from './helpers/sockets.js';

const TOKEN = 'addressing-token-1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

test('by default nothing listens beyond loopback; the head serves on a fixed grpcPort and comes back there after a restart; agents and workers advertise advertiseHost', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const grpcPort = await freePort();
  const headOpts = { cluster: 'addr', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 3000, grpcPort };
  let svc = await startClusterHead(headOpts);
  t.teardown(() => svc.stop({ killActors: true }));
  t.is(svc.grpcAddress, `127.0.0.1:${grpcPort}`);
  // bind stays loopback; the advertised host differs (what the ssh launcher does with bind 0.0.0.0 + --advertise HOST)
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'adv', resources: { CPU: 2 }, heartbeatMs: 200, advertiseHost: 'localhost' });
  t.teardown(() => node.stop());
  t.regex(node.grpcAddress, /^localhost:\d+$/);
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));

  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'addr-a', lifetime: 'detached' });
  const b = await rt.spawn(ProbeActor, ['b'], { name: 'addr-b', lifetime: 'detached' });
  t.is(await a.add(1), 1);
  const bPid = (await b.where()).pid; // both alive before the head restarts
  const info = await a.$info();
  t.regex(info!.address!, /^localhost:\d+$/, 'the worker advertises its agent\'s advertiseHost');
  const workerPid = (await a.where()).pid;

  // every listening socket of this process (head, agent, driver), the worker and nats-server is on loopback
  const here = listeningAddresses(process.pid);
  t.true(here.includes(`127.0.0.1:${grpcPort}`), here.join(' '));
  const worker = listeningAddresses(workerPid);
  t.true(worker.length >= 2, `worker listens on its gRPC and bulk ports: ${worker.join(' ')}`);
  const nats = listeningAddresses(server().pid);
  for (const addr of [...here, ...worker, ...nats]) t.true(isLoopback(addr), `${addr} is loopback`);

  // the head restarts on the same fixed port: the worker's control-plane channel re-dials it (a lookup from inside the actor)
  await svc.stop({ killActors: false });
  svc = await startClusterHead(headOpts);
  t.is(svc.grpcAddress, `127.0.0.1:${grpcPort}`);
  t.is(svc.head.epoch, 2);
  t.deepEqual(await a.whereIs('addr-b'), { node: 'adv', pid: bPid });
  t.is(await a.add(1), 2, 'the actor kept its state through the head restart');
});

test('a wildcard bind advertises the hostname unless told; config head.grpcPort is validated; ssh with NATS creds alone is refused (open data plane)', (t) => {
  t.is(advertisedHost('127.0.0.1'), '127.0.0.1');
  t.is(advertisedHost('0.0.0.0', '10.0.0.5'), '10.0.0.5');
  t.not(advertisedHost('0.0.0.0'), '0.0.0.0');
  const base = { clusterName: 'c', provider: { type: 'local' }, nodeTypes: { n: {} } };
  t.is(validateClusterConfig({ ...base, head: { grpcPort: 50051 } }).head.grpcPort, 50051);
  t.is(validateClusterConfig(base).head.grpcPort, undefined);
  const e1 = t.throws(() => validateClusterConfig({ ...base, head: { grpcPort: 70000 } }));
  t.regex(e1!.message, /head\.grpcPort: .*65535/);
  const e2 = t.throws(() => validateClusterConfig({ ...base, head: { grpcPort: 4222, nats: { port: 4222 } } }));
  t.regex(e2!.message, /head\.grpcPort: expected a port other than head\.nats\.port/);
  // over ssh, NATS credentials alone would leave the gRPC data plane open: a token or TLS is required beside them
  const ssh = { clusterName: 'c', provider: { type: 'ssh', hosts: ['10.0.0.1'], user: 'u' }, bind: '0.0.0.0', nodeTypes: { n: {} } };
  const e3 = t.throws(() => validateClusterConfig({ ...ssh, security: { natsCreds: '/etc/cohort/c.creds' } }));
  t.regex(e3!.message, /security: expected a token source .* or tls beside natsCreds/);
  t.notThrows(() => validateClusterConfig({ ...ssh, security: { natsCreds: '/etc/cohort/c.creds', tls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' } } }));
});

test('a head restarted on another address is re-found by workers (through their agent, which follows NATS discovery) and by drivers', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const headOpts = { cluster: 'moved', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 3000 };
  let svc = await startClusterHead(headOpts);
  t.teardown(() => svc.stop({ killActors: true }));
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'mv', resources: { CPU: 2 }, heartbeatMs: 200 });
  t.teardown(() => node.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));
  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'mv-a', lifetime: 'detached' });
  const b = await rt.spawn(ProbeActor, ['b'], { name: 'mv-b', lifetime: 'detached' });
  const bPid = (await b.where()).pid;
  t.is((await a.whereIs('mv-b')).pid, bPid);
  const first = svc.grpcAddress;
  await svc.stop({ killActors: false });
  // occupy the old port (closing every connection at once) so the new head cannot come back on it
  const blocker = net.createServer((s) => s.destroy()).listen(Number(first.split(':')[1]), '127.0.0.1');
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  svc = await startClusterHead(headOpts);
  t.not(svc.grpcAddress, first);
  t.deepEqual(await a.whereIs('mv-b'), { node: 'mv', pid: bPid }, 'the worker found the new head');
  t.is((await rt.getActor('mv-b')).$id, b.$id, 'the driver found it too');
  t.is(await a.add(3), 3);
});
