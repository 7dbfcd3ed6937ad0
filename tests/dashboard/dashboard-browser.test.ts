import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { connect } from '@cohort/cluster';
import { publishTrainingStep, startClusterDashboard } from '@cohort/dashboard';
import { ChattyActor } from './fixtures/actors.js';
import { launchChromium } from './browser.js';
import { localCluster, tempDir, until } from './helpers.js';

const SCREENSHOT_COPY = path.resolve('docs/img/dashboard.png');

function step(n: number) {
  return {
    step: n,
    reward: Math.tanh(n / 4),
    rewardStd: 0.3,
    em: n % 3 === 0 ? 10 + 2 * n : undefined,
    responseLength: 60 + 5 * Math.sin(n),
    turns: 1 + n / 8,
    searches: 0.5 + n / 8,
    noiseP: Math.min(0.75, 0.25 + n * 0.05),
    noisyShare: Math.min(0.75, 0.25 + n * 0.05),
    timings: { generate: 1.4, search: 0.6, oldLogprob: 0.2, ref: 0.2, update: 0.9, allreduce: 0.05, weightSync: 0.1, total: 3.5 },
    simulatorBatch: { mean: 3 + (n % 3), max: 6 + (n % 2), batches: 5 },
  };
}

test('headless chromium: the page shows the nodes and GPU holders of a running local cluster, and the training charts update as steps arrive', async (t) => {
  const dir = tempDir(t);
  const c = await localCluster(t, 'dashweb', [
    { id: 'gpu-node-1', resources: { CPU: 2, GPU: 2 } },
    { id: 'gpu-node-2', resources: { CPU: 2, GPU: 2 } },
  ]);
  const dash = await startClusterDashboard(c.nc, c.store, c.cluster, { port: 0, pollMs: 200 });
  t.teardown(() => dash.close());
  const rt = await connect(c.url, { token: c.token, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const actor = await rt.spawn(ChattyActor, [], { name: 'rollout-0', resources: { GPU: 1 } });
  await actor.say('rollout worker up');
  // an earlier part of the run is on record before the page opens
  for (let i = 0; i < 4; i++) publishTrainingStep(c.nc, c.cluster, 'zs-demo', step(i));
  await until(() => dash.training.steps('zs-demo').length === 4);

  const browser = await launchChromium(t, path.join(dir, 'profile'));
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(dash.url);

  // cluster view: both nodes, and the actor on a GPU
  await page.waitForSelector('[data-node="gpu-node-1"]', { timeout: 15_000 });
  await page.waitForSelector('[data-node="gpu-node-2"]');
  await page.waitForSelector('.gpu.busy', { timeout: 15_000 });
  t.regex((await page.textContent('.gpu.busy')) ?? '', /rollout-0/);
  await page.waitForSelector('#actors tr[data-name="rollout-0"] td.ALIVE', { timeout: 15_000 });
  await page.waitForFunction('/rollout worker up/.test(document.querySelector(\'#actors tr[data-name="rollout-0"] td.last-log\').textContent)', undefined, { timeout: 15_000 });
  // log tail on click
  await page.click('#actors tr[data-name="rollout-0"]');
  await page.waitForFunction('/rollout worker up/.test(document.getElementById("log-lines").textContent)', undefined, { timeout: 15_000 });

  // training view: history first, then live steps move every chart
  await page.waitForSelector('#chart-reward[data-points="4"]', { timeout: 15_000 });
  t.is(await page.getAttribute('#chart-timings', 'data-points'), '4');
  const pathBefore = await page.$eval('#chart-reward canvas', (c) => (c as unknown as { toDataURL(): string }).toDataURL());
  for (let i = 4; i < 12; i++) {
    publishTrainingStep(c.nc, c.cluster, 'zs-demo', step(i));
    await new Promise((r) => setTimeout(r, 40));
  }
  await page.waitForSelector('#chart-reward[data-points="12"]', { timeout: 15_000 });
  for (const id of ['length', 'turns', 'noise', 'timings', 'simbatch']) t.is(await page.getAttribute(`#chart-${id}`, 'data-points'), '12', id);
  t.regex((await page.textContent('#train-summary')) ?? '', /step 11/);
  const pathAfter = await page.$eval('#chart-reward canvas', (c) => (c as unknown as { toDataURL(): string }).toDataURL());
  t.not(pathAfter, pathBefore, 'the reward chart was redrawn');
  // uPlot's legend shows the series the charts carry
  t.regex((await page.textContent('#chart-timings')) ?? '', /weightSync/);
  t.deepEqual(errors, []);

  const shot = path.join(dir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.true(statSync(shot).size > 10_000);
  if (process.env.COHORT_UPDATE_SCREENSHOT || !existsSync(SCREENSHOT_COPY)) {
    mkdirSync(path.dirname(SCREENSHOT_COPY), { recursive: true });
    copyFileSync(shot, SCREENSHOT_COPY);
  }
});
