import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { connect } from '@cohort/cluster';
import { startClusterDashboard } from '@cohort/dashboard';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';
import { ChattyActor } from './fixtures/actors.js';
import { launchChromium } from './browser.js';
import { localCluster, tempDir, until } from './helpers.js';

const SCREENSHOT_COPY = path.resolve('docs/img/dashboard.png');
const COHORT = path.resolve('cli/bin/cohort.mjs');
const STEPS = 6;

/**
 * The tiny training config with a periodic evaluation every 2 steps on 2
 * questions per split, and no evaluation before/after (only the live view matters here).
 */
function trainConfig(dir: string): string {
  const file = writeTinyTrainConfig(dir, { name: 'live-run', seed: 3, totalSteps: STEPS, algorithm: 'reinforce' });
  const yaml = readFileSync(file, 'utf8');
  if (!/^eval:\n/m.test(yaml)) throw new Error('tiny config has no eval block to extend');
  writeFileSync(file, yaml.replace(/^eval:\n/m, 'eval:\n  every: 2\n  sampleSize: 2\n  before: false\n  after: false\n'));
  return file;
}

/** `cohort train` as a real process (its own worker processes); resolves with its exit code and output. */
function train(args: string[]) {
  const child = spawn(process.execPath, [COHORT, 'train', ...args], { env: { ...process.env, NO_COLOR: '1', COHORT_ADDRESS: '', COHORT_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const kill = setTimeout(() => child.kill('SIGKILL'), 150_000);
  const done = new Promise<{ code: number | null; out: string }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
  return { child, done };
}

test('headless chromium: the page shows the nodes of a running local cluster, and the training charts update live from a real `cohort train --address` run', async (t) => {
  const dir = tempDir(t);
  const c = await localCluster(t, 'dashweb', [
    { id: 'gpu-node-1', resources: { CPU: 2, GPU: 2 } },
    { id: 'gpu-node-2', resources: { CPU: 2, GPU: 2 } },
  ]);
  const dash = await startClusterDashboard(c.nc, c.store, c.cluster, { port: 0, pollMs: 200 });
  t.teardown(() => dash.close());
  const rt = await connect(c.url, { token: c.token, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const actor = await rt.spawn(ChattyActor, [], { name: 'chatty-0', resources: { GPU: 1 } });
  await actor.say('rollout worker up');

  const browser = await launchChromium(t, path.join(dir, 'profile'));
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dash.url);

  // cluster view: both nodes, and the actor on a GPU
  await page.waitForSelector('[data-node="gpu-node-1"]', { timeout: 15_000 });
  await page.waitForSelector('[data-node="gpu-node-2"]');
  await page.waitForSelector('.gpu.busy', { timeout: 15_000 });
  t.regex((await page.textContent('.gpu.busy')) ?? '', /chatty-0/);
  await page.waitForSelector('#actors tr[data-name="chatty-0"] td.ALIVE', { timeout: 15_000 });
  await page.waitForFunction('/rollout worker up/.test(document.querySelector(\'#actors tr[data-name="chatty-0"] td.last-log\').textContent)', undefined, { timeout: 15_000 });
  // log tail on click
  await page.click('#actors tr[data-name="chatty-0"]');
  await page.waitForFunction('/rollout worker up/.test(document.getElementById("log-lines").textContent)', undefined, { timeout: 15_000 });
  t.is(await page.getAttribute('#chart-reward', 'data-points'), '0');

  // a real training run, publishing each step to this cluster over NATS (not through ./runs: its outDir is elsewhere)
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, c.token);
  const run = train([trainConfig(dir), '--address', c.url, '--token-file', tokenFile]);
  t.teardown(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  const exited = run.done.then((r) => {
    if (r.code !== 0) t.log(r.out);
    return r;
  });
  const points = async () => Number(await page.getAttribute('#chart-reward', 'data-points'));
  const first = await Promise.race([page.waitForFunction('Number(document.getElementById("chart-reward").getAttribute("data-points")) > 0', undefined, { timeout: 120_000 }).then(() => 'step' as const), exited.then(() => 'exited' as const)]);
  t.is(first, 'step', 'a step reached the page before the run ended');
  const early = await points();
  const stillRunning = run.child.exitCode === null;
  const canvasEarly = await page.$eval('#chart-reward canvas', (cv) => (cv as unknown as { toDataURL(): string }).toDataURL());
  await page.waitForSelector(`#chart-reward[data-points="${STEPS}"]`, { timeout: 120_000 });
  t.log(`the chart first showed ${early} of ${STEPS} steps`);
  t.true(stillRunning && early < STEPS, `the chart had ${early} of ${STEPS} points while the run was still going`);
  for (const id of ['length', 'turns', 'noise', 'timings', 'simbatch']) t.is(await page.getAttribute(`#chart-${id}`, 'data-points'), String(STEPS), id);
  const canvasLate = await page.$eval('#chart-reward canvas', (cv) => (cv as unknown as { toDataURL(): string }).toDataURL());
  t.not(canvasLate, canvasEarly, 'the reward chart was redrawn as steps arrived');
  t.regex((await page.textContent('#train-summary')) ?? '', new RegExp(`run live-run · step ${STEPS - 1} · reward -?[\\d.]+ · dev EM [\\d.]+% on 4 questions \\(step ${STEPS - 1}\\)`));
  t.regex((await page.textContent('#em-note')) ?? '', /EM points: dev EM, 4 questions sampled of \d+ per evaluation \(the final test EM is in report.json/);
  // uPlot's legends carry every series the training view promises
  const legends = (await page.textContent('#charts')) ?? '';
  for (const s of ['reward', 'periodic EM %', 'periodic EM single-hop %', 'periodic EM multi-hop %', 'response length', 'turns', 'searches', 'p', 'noisy share', 'generate', 'weightSync', 'eval', 'total', 'mean', 'max']) t.true(legends.includes(s), s);

  const r = await exited;
  t.is(r.code, 0, r.out);
  t.regex(r.out, /no evaluation configured/);
  // what the page drew is what the trainer wrote: same steps, rewards and EM
  const written = readFileSync(path.join(dir, 'runs', 'live-run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(written.length, STEPS);
  const shown = ((await (await fetch(`${dash.url}/api/training`)).json()) as { runs: Record<string, Array<Record<string, unknown>>> }).runs['live-run'];
  t.deepEqual(shown.map((s) => [s.step, s.reward, s.em]), written.map((s) => [s.step, s.reward, s.em]));
  // periodic evaluation after steps 1, 3, 5 (eval.every 2) with EM by question type and its time in the split
  t.deepEqual(written.filter((s) => typeof s.em === 'number').map((s) => s.step), [1, 3, 5]);
  for (const s of written.filter((x) => typeof x.em === 'number')) {
    t.deepEqual(Object.keys(s.emByType as object).sort(), ['multi-hop', 'single-hop']);
    t.is(s.evalQuestions, 4);
    t.is(s.evalSplit, 'dev');
    t.true((s.timings as Record<string, number>).eval > 0);
  }

  // /metrics: cluster, actor and training gauges (the latter from the published steps), all cohort_
  const prom = await (await fetch(`${dash.url}/metrics`)).text();
  const names = new Set([...prom.matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => m[1]));
  t.true([...names].every((n) => n.startsWith('cohort_')), [...names].join(' '));
  for (const n of ['cohort_nodes', 'cohort_node_resource_used', 'cohort_actor_alive', 'cohort_actor_restarts']) t.true(names.has(n), n);
  t.regex(prom, new RegExp(`^cohort_train_step\\{run="live-run"\\} ${STEPS - 1}$`, 'm'));
  t.regex(prom, new RegExp(`^cohort_train_reward\\{run="live-run"\\} ${String(written.at(-1)!.reward).replace(/[.+-]/g, '\\$&')}$`, 'm'));
  t.regex(prom, /^cohort_train_em_percent\{run="live-run"\} [\d.]+$/m);
  t.regex(prom, /^cohort_train_em_by_type_percent\{run="live-run",type="multi-hop"\} [\d.]+$/m);
  t.regex(prom, /^cohort_train_step_seconds\{run="live-run",phase="eval"\} [\d.e-]+$/m);
  t.regex(prom, /^cohort_train_simulator_batch_mean\{run="live-run"\} [\d.]+$/m);
  t.deepEqual(errors, []);

  const shot = path.join(dir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.true(statSync(shot).size > 10_000);
  if (process.env.COHORT_UPDATE_SCREENSHOT || !existsSync(SCREENSHOT_COPY)) {
    mkdirSync(path.dirname(SCREENSHOT_COPY), { recursive: true });
    copyFileSync(shot, SCREENSHOT_COPY);
  }
  await until(() => run.child.exitCode !== null);
});
