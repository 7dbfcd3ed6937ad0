import test from 'ava';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { init } from '@cohort/runtime';
import { ClusterAuthError, connect, dataPlaneExtras, startClusterHead, startClusterNode } from '@cohort/cluster';
import { ProbeActor } from './fixtures/actors.js';
import { withNats, until, tempDir } from './helpers/nats.js';
import { listeningAddresses } from './helpers/sockets.js';

const TOKEN = 'data-plane-token-1';

/** Dials a bulk port over plain TCP with a handshake naming `token`: was the socket kept open or closed? */
const bulkAttempt = (port: number, token: string) =>
  new Promise<'closed' | 'open'>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      const id = Buffer.from(`no-such-channel\n${token}`);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(id.length);
      s.write(Buffer.concat([len, id]));
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, 1500);
    s.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    s.on('error', () => undefined);
    s.resume(); // read what the server sends (a refusal record) so its close is seen
  });

test('actor calls over the gRPC data plane need the cluster token: workers, head and drivers refuse a process without it or with a wrong one', async (t) => {
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const svc = await startClusterHead({ cluster: 'dps', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 2000 });
  t.teardown(() => svc.stop({ killActors: true }));
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'dp1', resources: { CPU: 2 }, heartbeatMs: 200 });
  t.teardown(() => node.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));

  // the right token: a driver spawns an actor (the worker registers with the head using the token it got from its agent) and calls it
  const rt = await connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'dp-a' });
  t.is(await a.add(2), 2);
  t.deepEqual(await a.echo(new Float32Array(40_000)), new Float32Array(40_000), 'a payload above the bulk threshold takes the token-checked bulk socket');
  const info = await a.$info();
  t.truthy(info?.address);

  // processes without the token, or with a wrong one, calling the actor's worker or the head directly
  const bare = await init({ resources: { CPU: 1 }, logLevel: 'silent' });
  t.teardown(() => bare.shutdown());
  const missing = await t.throwsAsync(bare.endpoint.request(info!.address!, 'obj.get', 'x'));
  t.regex(missing!.message, /UNAUTHENTICATED: cluster token missing/);
  t.regex(missing!.message, /COHORT_TOKEN or --token-file/);
  const wrong = await init({ resources: { CPU: 1 }, logLevel: 'silent', endpoint: dataPlaneExtras({ token: 'not-the-token' }) });
  t.teardown(() => wrong.shutdown());
  t.regex((await t.throwsAsync(wrong.endpoint.request(info!.address!, 'obj.get', 'x')))!.message, /cluster token rejected/);
  t.regex((await t.throwsAsync(wrong.endpoint.request(svc.grpcAddress, 'cp.listActors', [])))!.message, /cluster token rejected/);
  t.regex((await t.throwsAsync(bare.endpoint.request(node.grpcAddress, 'agent.kill', { pid: 1 })))!.message, /cluster token missing/);

  // a driver that passes NATS but sends a wrong data-plane token is refused with a typed error
  await t.throwsAsync(connect(url, { token: TOKEN, dataPlaneToken: 'not-the-token', runtime: { logLevel: 'silent' } }), { instanceOf: ClusterAuthError, message: /refused by the data plane .*cluster token rejected/ });
  // the actor was untouched by all of this
  t.is(await a.add(1), 3);
});

test('the bulk socket refuses a connection whose handshake lacks the cluster token and keeps one that has it', async (t) => {
  const rt = await init({ resources: { CPU: 1 }, logLevel: 'silent', endpoint: dataPlaneExtras({ token: TOKEN }) });
  t.teardown(() => rt.shutdown());
  const port = rt.endpoint.bulkPort;
  const attempt = (token: string) => bulkAttempt(port, token);
  t.is(await attempt('wrong'), 'closed');
  t.is(await attempt(''), 'closed');
  t.is(await attempt(TOKEN), 'open');
});

test('with security.tls the data plane is mutual TLS end to end (head, agent, its workers, driver); a peer with the token but no certificate is refused', async (t) => {
  const dir = tempDir(t);
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: 'ignore' });
  sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=cohort-test-ca');
  sh("openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj /CN=localhost && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext.cnf && openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 1 -extfile ext.cnf");
  const tls = { cert: path.join(dir, 'node.pem'), key: path.join(dir, 'node.key'), ca: path.join(dir, 'ca.pem') };
  const { server } = await withNats(t, { token: TOKEN });
  const url = server().url;
  const svc = await startClusterHead({ cluster: 'tls', natsUrl: url, auth: { token: TOKEN }, heartbeatMs: 200, timeoutMs: 2000, tls });
  t.teardown(() => svc.stop({ killActors: true }));
  const node = await startClusterNode({ address: url, auth: { token: TOKEN }, nodeId: 'tls1', resources: { CPU: 2 }, heartbeatMs: 200, tls });
  t.teardown(() => node.stop());
  t.true(await until(() => svc.controlPlane.nodeIds().length === 1));
  // a driver without the cluster's TLS settings cannot reach the head's control API
  await t.throwsAsync(connect(url, { token: TOKEN, runtime: { logLevel: 'silent' } }));
  const rt = await connect(url, { token: TOKEN, tls, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ProbeActor, ['a'], { name: 'tls-a' });
  t.is(await a.add(5), 5);
  t.deepEqual(await a.echo(new Uint8Array(100_000).fill(7)), new Uint8Array(100_000).fill(7));
  const big = Float32Array.from({ length: 1 << 18 }, (_, i) => i * 0.5); // 1 MiB: the bulk path, under TLS
  t.deepEqual(await a.echo(big), big);
  const info = await a.$info();
  // the worker's bulk socket is TLS too: plain TCP with the right token is cut off, a client with the cluster certificate gets through
  const { pid } = await a.where();
  const grpcPort = info!.address!.slice(info!.address!.lastIndexOf(':') + 1);
  const bulkAddr = listeningAddresses(pid).find((x) => !x.endsWith(`:${grpcPort}`))!;
  const bulkPort = Number(bulkAddr.slice(bulkAddr.lastIndexOf(':') + 1));
  t.is(await bulkAttempt(bulkPort, TOKEN), 'closed', 'plain TCP to the bulk port is refused');
  const pem = { cert: readFileSync(tls.cert), key: readFileSync(tls.key), ca: readFileSync(tls.ca) };
  t.is(await new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: bulkPort, ...pem }, () => {
      resolve(s.authorized ? 'tls' : 'unauthorized');
      s.destroy();
    });
    s.on('error', (err) => resolve(`error: ${err.message}`));
  }), 'tls');
  t.is(await new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: bulkPort, ca: pem.ca }, () => s.write('x'));
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, 3000);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  }), 'refused', 'a TLS client without a certificate is refused');
  // the right token over plain TCP: the worker's TLS server refuses the connection
  const plain = await init({ resources: { CPU: 1 }, logLevel: 'silent', endpoint: dataPlaneExtras({ token: TOKEN }) });
  t.teardown(() => plain.shutdown());
  t.regex((await t.throwsAsync(plain.endpoint.request(info!.address!, 'obj.get', 'x')))!.message, /connection to .* failed/);
  t.is(await a.add(1), 6);
});
