import test from 'ava';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startNatsServer, connectCluster, ClusterAuthError, ClusterUnreachableError, pidAlive } from '@cohort/cluster';
import { withNats, tempDir, client, until } from './helpers/nats.js';

test('starts a real nats-server on a random loopback port with JetStream on disk, and stops it', async (t) => {
  const dir = tempDir(t);
  const s = await startNatsServer({ dir });
  t.teardown(() => s.stop());
  t.regex(s.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  t.true(s.port > 0);
  const nc = await client(t, s.url);
  const got = new Promise<string>((resolve) => nc.subscribe('x', { callback: (_e, m) => resolve(m.string()) }));
  nc.publish('x', 'hello');
  t.is(await got, 'hello');
  t.true(existsSync(path.join(dir, 'jetstream')));
  await nc.close();
  await s.stop();
  t.false(pidAlive(s.pid));
});

test('a token-protected server refuses a client without the token, and one with a wrong token, with a clear error', async (t) => {
  const { server } = await withNats(t, { token: 'sekrit-token-1' });
  const url = server().url;
  const none = await t.throwsAsync(connectCluster({ url, timeoutMs: 3000, reconnect: false }));
  t.true(none instanceof ClusterAuthError);
  t.regex(none!.message, /no credentials were given/);
  t.regex(none!.message, /--token/);
  const wrong = await t.throwsAsync(connectCluster({ url, token: 'wrong-token-x', timeoutMs: 3000, reconnect: false }));
  t.true(wrong instanceof ClusterAuthError);
  t.regex(wrong!.message, /token given was not accepted/);
  const ok = await client(t, url, 'sekrit-token-1');
  t.false(ok.isClosed());
});

test('user/password auth refuses a wrong password', async (t) => {
  const { server } = await withNats(t, { user: 'cohort', password: 'pw-123456' });
  const err = await t.throwsAsync(connectCluster({ url: server().url, user: 'cohort', password: 'nope', timeoutMs: 3000, reconnect: false }));
  t.true(err instanceof ClusterAuthError);
  const nc = await connectCluster({ url: server().url, user: 'cohort', password: 'pw-123456' });
  await nc.close();
  t.pass();
});

test('no server at the address is a ClusterUnreachableError that says how to start one', async (t) => {
  const { server } = await withNats(t);
  const url = server().url;
  await server().stop();
  const err = await t.throwsAsync(connectCluster({ url, timeoutMs: 1500, reconnect: false }));
  t.true(err instanceof ClusterUnreachableError, String(err));
  t.regex(err!.message, /cohort start --head/);
});

test('a restarted server comes back on the same port and clients reconnect by themselves', async (t) => {
  const n = await withNats(t);
  const nc = await client(t, n.server().url);
  const port = n.server().port;
  const s2 = await n.restart();
  t.is(s2.port, port);
  const got = new Promise<string>((resolve) => nc.subscribe('after', { callback: (_e, m) => resolve(m.string()) }));
  t.true(await until(async () => {
    nc.publish('after', 'back');
    await nc.flush().catch(() => undefined);
    return Promise.race([got.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 100))]);
  }));
  t.is(await got, 'back');
});

test('bad options are refused before starting anything', async (t) => {
  const dir = tempDir(t);
  await t.throwsAsync(startNatsServer({ dir, token: 'abcdefgh', user: 'u', password: 'p' }), { message: /either token or user\/password/ });
  await t.throwsAsync(startNatsServer({ dir, bin: '/nonexistent/nats-server' }), { message: /COHORT_NATS_SERVER/ });
});
