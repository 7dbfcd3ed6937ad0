// Each new algorithm trains two steps of configs/zerosearch/smoke.yaml through
// `cohort train --set algorithm.name=...`, as a user runs it; the staleness guard
// stops a run whose weight publishes silently do not take effect.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const bin = path.join(root, 'cli/bin/cohort.mjs');
const smoke = path.join(root, 'configs/zerosearch/smoke.yaml');
const cispo = path.join(root, 'actors/src/algorithms/examples/cispo.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'cohort-algos-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** `cohort train smoke.yaml --json` with run outputs and the warm-start cache (shared by the runs) in the test's directory. */
async function train(name: string, sets: string[], env: Record<string, string> = {}) {
  const args = [bin, 'train', smoke, '--json', ...[`run.name=${name}`, `run.outDir=${path.join(dir, 'runs')}`, `warmStart.cacheDir=${path.join(dir, 'cache')}`, 'run.totalSteps=2', ...sets].flatMap((s) => ['--set', s])];
  const { stdout } = await run(process.execPath, args, { env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  const lines = readFileSync(path.join(dir, 'runs', name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { report: JSON.parse(stdout), lines };
}

/** The checks every algorithm's run must pass: the report names it, two steps updated with finite losses, the guard saw no gap. */
function checkRun(t: import('ava').ExecutionContext, r: Awaited<ReturnType<typeof train>>, algorithm: string, terms: string[]) {
  t.is(r.report.algorithm, algorithm);
  t.is(r.report.steps, 2);
  t.deepEqual(r.lines.map((l) => l.step), [0, 1]);
  for (const l of r.lines) {
    t.truthy(l.loss, `step ${l.step} made an update`);
    for (const k of terms) t.true(Number.isFinite(l.loss.terms[k]), `step ${l.step}: loss term ${k} = ${l.loss.terms[k]}`);
    // Rollouts and learners hold the same weights: the gap is numerical noise (~0.002 measured).
    t.true(l.staleness.logprob_gap < 0.01, `step ${l.step}: logprob_gap ${l.staleness.logprob_gap}`);
  }
}

test.serial('drgrpo trains smoke.yaml through --set algorithm.name=drgrpo', async (t) => {
  checkRun(t, await train('drgrpo', ['algorithm.name=drgrpo']), 'drgrpo', ['pg_loss', 'kl_loss', 'clip_frac']);
});

test.serial('dapo trains smoke.yaml through --set algorithm.name=dapo', async (t) => {
  // The smoke policy scores 0 and its responses fill both turns (equal lengths, so the overlong
  // penalty is equal too): dynamic sampling would drop every group and make no update. With
  // filterGroups off the DAPO loss runs on the learners (its shaping and filtering have unit tests).
  const r = await train('dapo', ['algorithm.name=dapo', 'algorithm.params.filterGroups=false']);
  checkRun(t, r, 'dapo', ['pg_loss', 'clip_frac']);
  t.true(r.lines.every((l) => l.updateRows === 8));
});

test.serial('gspo trains smoke.yaml through --set algorithm.name=gspo', async (t) => {
  checkRun(t, await train('gspo', ['algorithm.name=gspo']), 'gspo', ['pg_loss', 'kl_loss', 'clip_frac']);
});

test.serial('truncated importance sampling: gspo in async mode (correction: importance) wraps its loss in TIS', async (t) => {
  const r = await train('gspo-tis', ['algorithm.name=gspo', 'mode={kind: async, maxStaleness: 2, correction: importance, importanceCap: 1.5}']);
  t.is(r.report.algorithm, 'gspo');
  for (const l of r.lines) {
    t.true(l.loss.terms.tis_weight > 0 && l.loss.terms.tis_weight <= 1.5, `tis_weight ${l.loss.terms.tis_weight}`);
    t.true(l.loss.terms.tis_capped_frac >= 0 && l.loss.terms.tis_capped_frac <= 1);
  }
  // Step 1 was generated a step behind (async): no token of the current version, so no gap to judge.
  t.is(r.lines[1].staleness.maxLag > 0, true);
});

test.serial('the staleness guard halts a run whose weight publishes silently keep the old weights', async (t) => {
  const sets = ['run.totalSteps=4', 'stalenessGuard.maxLogprobGap=0.01', 'stalenessGuard.haltAfter=2'];
  const err = (await t.throwsAsync(train('skipped-publish', sets, { COHORT_TEST_SKIP_WEIGHT_LOAD: '1' }))) as unknown as { code: number; stderr: string };
  t.not(err.code, 0);
  t.regex(err.stderr, /staleness guard: at step \d, the rollouts' log-probs of their sampled tokens differ from the learners' by [\d.e-]+ on average .* for 2 consecutive steps/);
  const lines = readFileSync(path.join(dir, 'runs', 'skipped-publish', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Step 0 generates with the warm-start weights everyone holds; later steps with weights the learners left behind.
  t.true(lines[0].staleness.logprob_gap < 0.01, `step 0 gap ${lines[0].staleness.logprob_gap}`);
  t.true(lines.length < 4, 'halted before the last step');
  // The same run with working publishes is not stopped.
  const ok = await train('working-publish', sets);
  t.is(ok.lines.length, 4);
  t.true(ok.lines.every((l) => l.staleness.logprob_gap < 0.01));
});

test.serial('a plug-in file trains smoke.yaml: its loss runs in the learner processes (its own metric comes back)', async (t) => {
  const r = await train('cispo', ['algorithm.name=cispo', `algorithm.plugins=[${JSON.stringify(cispo)}]`]);
  checkRun(t, r, 'cispo', ['pg_loss', 'cispo_capped_frac']);
});

test('cohort algorithms lists every algorithm with its parameters, plug-ins included', async (t) => {
  const { stdout } = await run(process.execPath, [bin, 'algorithms', '--json', '--plugin', path.relative(root, cispo)], { cwd: root });
  const list = JSON.parse(stdout) as { name: string; reference?: string; policyLoss: string; params: { key: string; default?: unknown; description?: string }[] }[];
  t.deepEqual(list.map((a) => a.name), ['cispo', 'dapo', 'drgrpo', 'grpo', 'gspo', 'ppo', 'reinforce', 'reinforce++']);
  const by = new Map(list.map((a) => [a.name, a]));
  t.is(by.get('gspo')!.policyLoss, 'gspo');
  t.is(by.get('cispo')!.policyLoss, 'cispo');
  t.is(by.get('dapo')!.params.find((p) => p.key === 'clipRatioHigh')!.default, 0.28);
  t.truthy(by.get('ppo')!.params.find((p) => p.key === 'kl.inReward'));
  t.falsy(by.get('grpo')!.params.find((p) => p.key === 'gamma'), 'grpo does not declare gamma');
  t.true(list.every((a) => a.name === 'cispo' || (a.reference && a.params.every((p) => p.description))), 'every built-in parameter is described');
  const text = (await run(process.execPath, [bin, 'algorithms'])).stdout;
  t.regex(text, /^gspo — sequence-level/m);
  t.regex(text, /kl\.clamp\s+10\s+number — per-token clamp/);
  const err = (await t.throwsAsync(run(process.execPath, [bin, 'algorithms', '--plugin', 'nope.ts']))) as unknown as { code: number; stderr: string };
  t.is(err.code, 2);
  t.regex(err.stderr, /could not load algorithm plug-in "nope\.ts".*--plugin/);
});

test('--set errors name the key and where it came from', async (t) => {
  const bad = async (...sets: string[]) => {
    const err = (await t.throwsAsync(run(process.execPath, [bin, 'train', smoke, '--dry-run', ...sets.flatMap((s) => ['--set', s])]))) as unknown as { code: number; stderr: string };
    t.is(err.code, 2);
    return err.stderr;
  };
  t.regex(await bad('run.totalStep=2'), /--set run\.totalStep=2: run\.totalStep: unknown key "totalStep"; did you mean "totalSteps"\?/);
  t.regex(await bad('run.totalSteps=-1'), /--set run\.totalSteps=-1: run\.totalSteps: expected a value > 0, found number -1/);
  t.regex(await bad('algorithm.name=gsop'), /--set algorithm\.name=gsop: algorithm\.name: unknown algorithm "gsop" \(did you mean "gspo"\?\)/);
  t.regex(await bad('algorithm.params.gamma=0.5'), /algorithm\.params\.gamma: unknown key "gamma".*algorithm "grpo"/);
  t.regex(await bad('run.name.x=1'), /--set run\.name\.x=1: run\.name\.x: cannot set it/);
  t.regex(await bad('run.totalSteps'), /expected KEY=VALUE/);
  // A good override reaches the validated config (the dry-run plan shows the algorithm).
  const { stdout } = await run(process.execPath, [bin, 'train', smoke, '--dry-run', '--json', '--set', 'algorithm.name=dapo']);
  t.regex(stdout, /"algorithm":"dapo"/);
});
