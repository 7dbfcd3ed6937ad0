import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { connect } from '@cohort/cluster';
import { openTrainingPublisher, parseDashboardPort, publishTrainingStep, requestActorLogs, requestDashboardInfo, startClusterDashboard, startDashboard, startHeadDashboard, type ClusterSnapshot, type LogLine } from '@cohort/dashboard';
import { ChattyActor } from './fixtures/actors.js';
import { localCluster, tempDir, until } from './helpers.js';

function step(n: number, over: Record<string, unknown> = {}) {
  return {
    step: n,
    time: new Date(1_700_000_000_000 + n * 1000).toISOString(),
    policyVersion: n,
    trajectories: 8,
    reward: 0.1 * n,
    rewardStd: 0.2,
    responseLength: 40 + n,
    turns: 1.5,
    searches: 1 + n / 10,
    answeredShare: 1,
    noiseP: 0.25 + 0.05 * n,
    noisyShare: 0.3,
    timings: { generate: 1.5, search: 0.5, oldLogprob: 0.2, ref: 0.2, update: 0.8, allreduce: 0, weightSync: 0.1, total: 3.3 },
    simulatorBatch: { mean: 3.5, max: 6, batches: 4 },
    idleRatio: 0.1,
    ...over,
  };
}

/** Reads server-sent events from `url` until `done(events)` or the deadline. */
async function sse(url: string, done: (events: Array<{ event: string; data: string }>) => boolean, timeoutMs = 15_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events: Array<{ event: string; data: string }> = [];
  try {
    const res = await fetch(url, { signal: ac.signal });
    const reader = res.body!.getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (ev && data !== undefined) events.push({ event: ev, data });
      }
      if (done(events)) break;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

test('the head dashboard over a real cluster: nodes with GPU holders, actors, log tail, /metrics with cohort_ gauges, training steps over NATS and SSE', async (t) => {
  const c = await localCluster(t, 'dash1', [
    { id: 'n1', resources: { CPU: 2, GPU: 2 } },
    { id: 'n2', resources: { CPU: 2, GPU: 1 } },
  ]);
  const dash = await startClusterDashboard(c.nc, c.store, c.cluster, { port: 0, pollMs: 100 });
  t.teardown(() => dash.close());
  t.regex(dash.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const rt = await connect(c.url, { token: c.token, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const chatty = await rt.spawn(ChattyActor, [], { name: 'chatty', resources: { GPU: 1 }, maxRestarts: 2 });
  const node = await chatty.say('hello from the actor');

  const snap = async () => (await (await fetch(`${dash.url}/api/cluster`)).json()) as ClusterSnapshot;
  t.true(await until(async () => (await snap()).actors.some((a) => a.name === 'chatty' && a.state === 'ALIVE')));
  const s = await snap();
  t.deepEqual(s.nodes.map((n) => n.id), ['n1', 'n2']);
  const holder = s.nodes.find((n) => n.id === node)!;
  t.is(holder.gpus.filter((g) => g.holders.includes('chatty')).length, 1, 'the actor holds one GPU of its node');
  t.is(holder.resources.used.GPU, 1);
  t.is(s.nodes.find((n) => n.id !== node)!.gpus.flatMap((g) => g.holders).length, 0);
  const a = s.actors.find((x) => x.name === 'chatty')!;
  t.is(a.node, node);
  t.is(a.restarts, 0);

  // log tail: the agent publishes the worker's lines; the dashboard keeps them by actor name (or id)
  const logs = async (who: string) => ((await (await fetch(`${dash.url}/api/actors/${who}/logs?lines=50`)).json()) as { lines: LogLine[] }).lines;
  t.true(await until(async () => (await logs('chatty')).some((l) => l.msg === 'hello from the actor')));
  t.true((await logs(a.id)).some((l) => l.msg === 'hello from the actor' && l.node === node));
  const bad = await fetch(`${dash.url}/api/actors/chatty/logs?lines=-1`);
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as { error: string }).error, /expected an integer/);

  // Prometheus text
  const prom = await (await fetch(`${dash.url}/metrics`)).text();
  t.regex(prom, /^# TYPE cohort_node_alive gauge$/m);
  t.regex(prom, /^cohort_node_alive\{cluster="dash1",node="n1"\} 1$/m);
  t.regex(prom, new RegExp(`^cohort_node_resource_used\\{cluster="dash1",node="${node}",resource="GPU"\\} 1$`, 'm'));
  t.regex(prom, /^cohort_actors\{cluster="dash1",state="ALIVE"\} 1$/m);
  t.regex(prom, /^cohort_actor_restarts\{cluster="dash1",actor="chatty",class="Chatty",node="n\d"\} 0$/m);
  for (const line of prom.split('\n').filter((l) => l && !l.startsWith('#'))) t.regex(line, /^cohort_[a-z_]+(\{[^}]*\})? -?[\d.e+-]+$/, line);

  // live training: an SSE client sees steps a trainer publishes on NATS
  const events = sse(`${dash.url}/api/events`, (ev) => ev.filter((e) => e.event === 'step').length >= 3 && ev.some((e) => e.event === 'cluster'));
  t.true(await until(() => dash.clients() === 1));
  // a trainer elsewhere opens its own connection with the cluster's address and token
  const publisher = await openTrainingPublisher(c.url, { token: c.token });
  t.teardown(() => publisher.close());
  t.is(publisher.cluster, 'dash1');
  for (let i = 0; i < 3; i++) publisher.publish('run-a', step(i));
  const got = await events;
  t.is(got[0].event, 'training');
  t.truthy(got.find((e) => e.event === 'cluster'));
  t.deepEqual(got.filter((e) => e.event === 'step').map((e) => (JSON.parse(e.data) as { step: { step: number } }).step.step), [0, 1, 2]);
  const prom2 = await (await fetch(`${dash.url}/metrics`)).text();
  t.regex(prom2, /^cohort_train_step\{run="run-a"\} 2$/m);
  t.regex(prom2, /^cohort_train_reward\{run="run-a"\} 0\.2$/m);
  t.regex(prom2, /^cohort_train_step_seconds\{run="run-a",phase="generate"\} 1\.5$/m);
  t.regex(prom2, /^cohort_train_simulator_batch_max\{run="run-a"\} 6$/m);
  t.throws(() => publishTrainingStep(c.nc, c.cluster, 'run-a', { reward: 1 }), { message: /step: .*expected/ });

  // the CLI's way in, over NATS: where the dashboard is, and an actor's past lines
  t.deepEqual(await requestDashboardInfo(c.nc, c.cluster), { url: dash.url, metricsUrl: `${dash.url}/metrics` });
  t.true((await requestActorLogs(c.nc, c.cluster, 'chatty', 5))!.some((l) => l.msg === 'hello from the actor'));
  t.is(await requestDashboardInfo(c.nc, 'no-such-cluster', 300), undefined);

  // what the head runs: follows runs/<run>/metrics.jsonl as a trainer appends to it
  const runs = tempDir(t);
  mkdirSync(path.join(runs, 'local-run'));
  const mfile = path.join(runs, 'local-run', 'metrics.jsonl');
  writeFileSync(mfile, JSON.stringify(step(0)) + '\n' + JSON.stringify(step(1)) + '\n');
  const head = await startHeadDashboard({ nc: c.nc, store: c.store, cluster: c.cluster }, { port: 0, runsDir: runs });
  t.teardown(() => head?.close());
  t.true(await until(() => head!.training.steps('local-run').length === 2));
  appendFileSync(mfile, JSON.stringify(step(2)) + '\n' + JSON.stringify(step(3)).slice(0, 20));
  t.true(await until(() => head!.training.steps('local-run').length === 3), 'a half-written line waits for its end');
  t.is(await startHeadDashboard({ nc: c.nc, store: c.store, cluster: c.cluster }, { port: 'off' }), undefined);
  await t.throwsAsync(startHeadDashboard({ nc: c.nc, store: c.store, cluster: c.cluster }, { port: head!.port }), { message: /in use; pick another/ });
  t.is(parseDashboardPort('off'), 'off');
  t.throws(() => parseDashboardPort('80x'), { message: /--dashboard-port: expected a port number 0–65535.*or "off", found "80x"/ });
});

test('POSTed step metrics are validated with a message naming the field; options are checked', async (t) => {
  const source = {
    snapshot: async (): Promise<ClusterSnapshot> => ({ cluster: 'none', head: null, nodes: [], actors: [], placementGroups: [], pending: [], time: Date.now() }),
    actorLogs: async () => [],
  };
  const dash = await startDashboard(source, { port: 0 });
  t.teardown(() => dash.close());
  const post = (run: string, body: string) => fetch(`${dash.url}/api/training/${run}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const ok = await post('r1', JSON.stringify([step(1), step(2)]));
  t.is(ok.status, 200);
  t.deepEqual(dash.training.steps('r1').map((s) => s.step), [1, 2]);
  const badField = await post('r1', JSON.stringify(step(3, { noiseP: 2 })));
  t.is(badField.status, 400);
  t.regex(((await badField.json()) as { error: string }).error, /noiseP/);
  t.is((await post('r1', 'not json')).status, 400);
  t.is((await post('bad name', JSON.stringify(step(1)))).status, 400);
  // a restarted run replaces the steps it writes again
  t.is((await post('r1', JSON.stringify(step(2, { reward: 9 })))).status, 200);
  t.deepEqual(dash.training.steps('r1').map((s) => [s.step, s.reward]), [[1, 0.1], [2, 9]]);
  t.is((await fetch(`${dash.url}/nope`)).status, 404);
  const page = await (await fetch(`${dash.url}/`)).text();
  t.regex(page, /<script src="\/static\/uplot.js">/);
  t.regex(await (await fetch(`${dash.url}/static/uplot.js`)).text(), /uPlot/);
  await t.throwsAsync(startDashboard(source, { port: 70000 }), { message: /dashboard option port/ });
  await t.throwsAsync(startDashboard(source, { prot: 1 } as never), { message: 'unknown dashboard option "prot"; known options: host, port, pollMs, title, acceptPosts, token' });
  await t.throwsAsync(startDashboard(source, { port: dash.port }), { message: /is in use; pick another/ });
});
