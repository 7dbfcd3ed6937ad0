import test from 'ava';
import { startDashboard, DashboardConfigError, type ClusterSnapshot } from '@cohort/dashboard';

// Bound beyond loopback, the dashboard's data needs the cluster token; on loopback it stays open.

const source = {
  snapshot: async (): Promise<ClusterSnapshot> => ({ cluster: 'c', head: null, nodes: [], actors: [], placementGroups: [], pending: [], time: Date.now() }),
  actorLogs: async () => [],
};

test('bound to 0.0.0.0, /api/* and /metrics need the token (bearer, header, or the cookie /?token= sets); the page itself is public', async (t) => {
  const token = 'dash-token-123';
  const dash = await startDashboard(source, { host: '0.0.0.0', port: 0, token });
  t.teardown(() => dash.close());
  const url = `http://127.0.0.1:${dash.port}`;
  for (const p of ['/api/cluster', '/api/training', '/api/actors/x/logs', '/metrics']) {
    const r = await fetch(url + p);
    t.is(r.status, 401, p);
    t.regex(((await r.json()) as { error: string }).error, /needs the cluster token: send "Authorization: Bearer TOKEN"/);
  }
  t.is((await fetch(`${url}/api/training/run1`, { method: 'POST', body: '{}' })).status, 401, 'posts too');
  t.is((await fetch(`${url}/api/cluster`, { headers: { authorization: 'Bearer wrong-token' } })).status, 401);
  t.is((await fetch(`${url}/api/cluster`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  t.is((await fetch(`${url}/metrics`, { headers: { 'x-cohort-token': token } })).status, 200);
  t.is((await fetch(`${url}/`)).status, 200, 'the page loads without the token');
  const login = await fetch(`${url}/?token=${token}`, { redirect: 'manual' });
  t.is(login.status, 303);
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  t.regex(login.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
  t.is((await fetch(`${url}/api/cluster`, { headers: { cookie } })).status, 200, 'the browser cookie opens the API');
  t.is((await fetch(`${url}/?token=nope`, { redirect: 'manual' })).status, 401);
});

test('a dashboard bound beyond loopback without a token does not start; on loopback no token is asked', async (t) => {
  await t.throwsAsync(startDashboard(source, { host: '0.0.0.0', port: 0 }), { instanceOf: DashboardConfigError, message: /binds 0.0.0.0, which other machines reach: give it the cluster token .* or bind it to 127.0.0.1/ });
  const local = await startDashboard(source, { port: 0, token: 'unused-here' });
  t.teardown(() => local.close());
  t.is((await fetch(`${local.url}/api/cluster`)).status, 200);
});
