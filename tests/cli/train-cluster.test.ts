import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClusterStateStore, connectCluster, pidAlive, readClusterStatus, readLocalState, type ClusterStatus } from '@cohort/cluster';
import { stepMetricsSchema, type StepMetrics, type TrainPlan } from '../../actors/src/index.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const bin = path.join(ROOT, 'cli/bin/cohort.mjs');
const CLUSTER = path.join(ROOT, 'configs/cluster/local-8gpu.yaml');
const SMOKE = path.join(ROOT, 'configs/zerosearch/cluster-smoke.yaml');
const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, COHORT_TOKEN: '', COHORT_ADDRESS: '', COHORT_LOG_LEVEL: 'warn', NO_COLOR: '1', ...extra });
const cohort = (args: string[], cwd = ROOT) => run(process.execPath, [bin, ...args], { cwd, env: env(), timeout: 120_000, maxBuffer: 16 << 20 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RUN = 'zerosearch-cluster-smoke';

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * The issue-11 cluster test, as one run (test time matters): `cohort up` of
 * configs/cluster/local-8gpu.yaml (two agents × 4 logical GPUs), then
 * `cohort train configs/zerosearch/cluster-smoke.yaml --address` as a real
 * process. While it runs: `cohort status --json` shows the planned placement;
 * then kill -9 of a simulator worker, a learner worker, a reference worker and
 * the whole simulator agent (a spare agent labelled role=simulator takes its
 * placement group). An agent of the elastic type started mid-run gets its
 * share of rollouts and a simulator at the next step; kill -9 of it takes the
 * share away. The run must complete with every step once, each with the
 * configured trajectories, and the learners bit-identical after each recovery.
 */
test('cohort train cluster-smoke --address on a two-agent cluster: planned placement; kill -9 of a simulator, a learner, a reference worker and a whole agent cost nothing; an agent joining mid-run grows the rollout pool, killing it shrinks it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-train-cluster-'));
  const stateDir = path.join(dir, 'state');
  const started: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
    await cohort(['down', CLUSTER, '--state-dir', stateDir]).catch(() => undefined);
    const st = (() => {
      try {
        return readLocalState(stateDir);
      } catch {
        return undefined;
      }
    })();
    for (const p of st?.processes ?? []) if (pidAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const t0 = Date.now();
  await cohort(['up', CLUSTER, '--state-dir', stateDir, '--json']);
  const state = readLocalState(stateDir)!;
  const tokenFile = path.join(stateDir, 'token');
  const cliStatus = async (): Promise<ClusterStatus> => JSON.parse((await cohort(['status', '--address', state.natsUrl, '--token-file', tokenFile, '--json'])).stdout) as ClusterStatus;
  // `cohort status --json` (a real CLI process) for the placement; the kills read the same KV tables in-process (fast enough to land between steps).
  const reader = await connectCluster({ url: state.natsUrl, token: readFileSync(tokenFile, 'utf8').trim(), name: 'test reader' });
  t.teardown(() => reader.close().catch(() => undefined));
  const store = await ClusterStateStore.open(reader, { cluster: 'local-8gpu' });
  const status = () => readClusterStatus(store, 'local-8gpu');
  const plan = (JSON.parse((await cohort(['train', SMOKE, '--dry-run', '--json'])).stdout) as { plan: TrainPlan }).plan;

  let stderr = '';
  const train = spawn(process.execPath, [bin, 'train', SMOKE, '--address', state.natsUrl, '--token-file', tokenFile, '--log-level', 'warn'], { cwd: dir, env: env() });
  started.push(train);
  train.stderr!.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => train.on('exit', (code) => resolve(code)));
  const runDir = path.join(dir, 'runs', 'zerosearch-cluster-smoke');
  const lines = (): StepMetrics[] => (existsSync(path.join(runDir, 'metrics.jsonl')) ? readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as StepMetrics) : []);
  const afterStep = (n: number) => until(`step ${n}`, async () => (lines().length > n ? true : train.exitCode !== null ? Promise.reject(new Error(`cohort train exited (${train.exitCode}) early:\n${stderr.slice(-3000)}`)) : undefined));
  const kill9 = async (name: string): Promise<void> => {
    const st = await status();
    const a = st.actors.find((x) => x.name === `${RUN}/${name}` && x.state === 'ALIVE');
    if (!a?.pid) throw new Error(`no live ${name} with a pid in cohort status: ${JSON.stringify(st.actors.filter((x) => x.name === `${RUN}/${name}`))}; train exit ${train.exitCode}, steps ${lines().length}:\n${stderr.slice(-4000)}`);
    process.kill(a.pid, 'SIGKILL');
  };

  await afterStep(0);
  const tRun = Date.now();
  // Placement, from `cohort status --json` while the run goes on.
  const s = await cliStatus();
  // Actors are named <run>/<actor>; below by their name within the run.
  const live = s.actors.filter((a) => a.state === 'ALIVE').map((a) => ({ ...a, name: a.name.slice(RUN.length + 1) }));
  t.true(s.actors.filter((a) => a.state === 'ALIVE').every((a) => a.name.startsWith(`${RUN}/`)));
  const simNode = 'local-8gpu-simulator-0';
  const rlNode = 'local-8gpu-trainer-0';
  const sims = live.filter((a) => a.name.startsWith('simulator-'));
  t.is(sims.length, 4);
  t.true(sims.every((a) => a.node === simNode), 'simulators on the agent labelled role=simulator');
  t.deepEqual(sims.map((a) => a.gpuIds[0]).sort(), [0, 1, 2, 3], 'each simulator on its own GPU');
  for (let b = 0; b < 4; b++) {
    const on = live.filter((a) => /^(learner|rollout|reference)-/.test(a.name) && a.name.endsWith(`-${b}`));
    t.deepEqual(on.map((a) => a.name.split('-')[0]).sort(), ['learner', 'reference', 'rollout'], `RL bundle ${b}`);
    t.true(on.every((a) => a.node === rlNode && a.gpuIds.length === 1 && a.gpuIds[0] === on[0].gpuIds[0]), `learner, rollout and reference of bundle ${b} share one GPU`);
  }
  t.deepEqual([...new Set(live.map((a) => a.node))].sort(), [simNode, rlNode].sort(), 'the job spans both agents');
  // Plan = spawn: every planned actor runs in the planned group and bundle; the groups as planned.
  const groups = new Map(s.placementGroups.filter((g) => g.state === 'created').map((g) => [g.id, g]));
  for (const p of plan.actors) {
    const a = live.find((x) => x.name === p.name);
    t.truthy(a, p.name);
    const g = groups.get(a!.placementGroup!);
    t.is(g?.name, p.group, `${p.name} group`);
    t.is(a!.bundle, p.bundle, `${p.name} bundle`);
  }
  t.is(live.length, plan.actors.length);
  for (const pg of plan.groups) {
    const g = [...groups.values()].find((x) => x.name === pg.name)!;
    t.deepEqual([g.strategy, g.bundles, g.labels], [pg.strategy, pg.bundles, pg.labels], pg.name);
  }

  // A spare agent for the simulators, and an agent of the elastic type (it joins mid-run).
  const agentProc = (type: string, id: string) => {
    const c = spawn(process.execPath, [bin, 'start', '--address', state.natsUrl, '--token-file', tokenFile, '--config', CLUSTER, '--node-type', type, '--node-id', id], { cwd: dir, env: env(), stdio: 'ignore' });
    started.push(c);
    return c;
  };
  agentProc('simulator', 'spare-simulator');
  const elastic = agentProc('rollout', 'elastic-0');
  // Each kill right after a step's line: the next step calls every role, so each kill is met mid-run.
  const next = async () => afterStep(lines().length);
  await kill9('simulator-1');
  await next();
  await kill9('learner-1');
  await next();
  await kill9('reference-2');
  await next();
  // The elastic agent gets its share at a step boundary: 2 more rollouts (weights over the bulk path: another node) and a simulator.
  const grown = await until('the elastic share', () => lines().find((l) => l.pool?.rollouts === 6));
  t.deepEqual([grown.pool, grown.transfer!.weightSyncBulk], [{ rollouts: 6, simulators: 5, joined: ['elastic-0'] }, 2]);
  t.is(Object.entries(grown.nodes!).filter(([, node]) => node === 'elastic-0').length, 3);
  // kill -9 of that whole agent: its share leaves the pool, its prompts are redone by the fixed rollouts.
  elastic.kill('SIGKILL');
  const shrunk = await until('the pool shrinking', () => lines().find((l) => l.step > grown.step && l.pool?.rollouts === 4));
  t.deepEqual(shrunk.pool, { rollouts: 4, simulators: 4, left: ['elastic-0'] });
  await until('the spare agent', async () => (await status()).nodes.some((n) => n.id === 'spare-simulator' && n.alive) || undefined);
  t.true(lines().length < 13, `steps left for the agent kill (${lines().length} done)`);
  process.kill(state.processes.find((p) => p.id === simNode)!.pid, 'SIGKILL');
  t.is(await exited, 0, stderr.slice(-3000));
  const runS = (Date.now() - tRun) / 1000;
  const ls = lines();
  for (const l of ls) t.true(stepMetricsSchema.safeParse(l).success);
  t.deepEqual(ls.map((l) => l.step), [...Array(14).keys()], 'every step once');
  t.true(ls.every((l) => l.trajectories === 8), `trajectories per step ${ls.map((l) => l.trajectories)}`);
  t.deepEqual(ls.map((l) => l.policyVersion), ls.map((_, i) => 2 * (i + 1)), 'two updates a step, none lost or repeated');
  const events = ls.flatMap((l) => (l.recovery?.events ?? []).map((e) => ({ ...e, step: l.step })));
  t.log(events.map((e) => `step ${e.step}: ${e.kind} ${e.role} ${e.actor}${e.node ? ` on ${e.node}` : ''} ${e.seconds.toFixed(2)} s`).join('\n'));
  t.true(events.some((e) => e.kind === 'restarted' && e.actor === 'simulator-1'), 'the simulator restarted');
  t.true(events.some((e) => e.kind === 'replaced' && e.actor === 'learner-1' && e.node === rlNode), 'the learner was replaced from a peer');
  t.true(events.some((e) => e.kind === 'restarted' && e.actor === 'reference-2'), 'the reference restarted');
  t.true(events.some((e) => e.kind === 'restarted' && e.role === 'simulator' && e.node === simNode && /lost/.test(e.detail ?? '')), 'the simulators of the lost agent restarted elsewhere');
  for (const l of ls.filter((x) => x.recovery)) {
    const sums = l.recovery!.learnerChecksums!;
    t.is(sums.length, 4);
    t.true(sums.every((x) => x === sums[0]), `step ${l.step}: learners bit-identical after recovery (${sums})`);
  }
  const last = ls.at(-1)!;
  t.true(Object.entries(last.nodes!).filter(([n]) => n.startsWith('simulator-')).every(([, node]) => node === 'spare-simulator'), JSON.stringify(last.nodes));
  t.true(ls.every((l) => l.transfer!.weightSyncBytes > 0 && l.transfer!.allreduceBytes > 0));
  // The report has the shape a local run writes.
  const report = JSON.parse(readFileSync(path.join(runDir, 'report.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['em_before', 'em_after', 'em_twohop_before', 'em_twohop_after', 'wall_s']) t.is(typeof report[k], 'number', k);
  t.log(`cluster up ${((tRun - t0) / 1000).toFixed(0)} s to step 0; steps 1-13 with the kills ${runS.toFixed(0)} s`);
});
