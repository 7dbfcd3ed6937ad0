import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIDELITY_TARGETS, readSimulatorManifest, verifySimulatorManifest } from '@cohort/zerosearch';
import { cohortInProcess } from '../helpers/cohort-in-process.js';

const cohort = cohortInProcess;

test.serial('sim tune writes a manifest; sim eval measures the model beside BM25 on the held-out pairs of the manifest\'s world', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zs-sim-eval-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tune = await cohort(['sim', 'tune', '--size', 'tiny', '--seed', '1', '--out', dir, '--steps', '2', '--hidden', '32', '--layers', '1', '--heads', '2', '--vocab', '320', '--eval', '4', '--eval-tokens', '16', '--json']);
  t.is(tune.code, 0, tune.stderr);
  const m = readSimulatorManifest(dir)!;
  t.deepEqual(m.source, { seed: 1, size: 'tiny' });
  t.deepEqual(verifySimulatorManifest(dir), []);
  t.is((m.fidelity as { pairs: number }).pairs, 4);

  const r = await cohort(['sim', 'eval', '--model', dir, '--pairs', '4', '--max-tokens', '16', '--json']);
  t.is(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Record<string, unknown> & { targets_met: Record<string, boolean> };
  // With no data flag the pairs come from the source the manifest names.
  t.deepEqual(rep.source, { seed: 1, size: 'tiny' });
  t.is(rep.pairs, 4);
  t.is((rep.useful_pairs as number) + (rep.noisy_pairs as number), 4);
  for (const k of ['useful_answer_rate', 'noisy_answer_rate', 'entity_rate', 'format_ok_rate', 'bm25_answer_rate', 'bm25_entity_rate']) {
    t.true(typeof rep[k] === 'number' && (rep[k] as number) >= 0 && (rep[k] as number) <= 1, `${k}: ${rep[k]}`);
  }
  t.true((rep.searches_per_s as number) > 0);
  // BM25 over the tiny world finds the needed fact for its hop queries.
  t.true((rep.bm25_answer_rate as number) > 0.5, JSON.stringify(rep));
  t.deepEqual(Object.keys(rep.targets_met).sort(), Object.keys(FIDELITY_TARGETS).sort());
  // A 2-step model writes no five documents: the target is reported as not met (exit code stays 0).
  t.false(rep.targets_met.format_ok_rate);

  const text = await cohort(['sim', 'eval', '--model', dir, '--pairs', '2', '--max-tokens', '8']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /useful_answer_rate\s+\d\.\d{3}\s+\d\.\d{3}\s+>= 0\.8/);
  t.regex(text.stdout, /on 2 of \d+ held-out pairs/);
});

test.serial('sim eval: bad flags and inputs exit 2 with a message that names the fix', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--model', '/nonexistent/sim'], /does not exist; tune one with: cohort sim tune/],
    [['--config', 'a.yaml', '--data', 'b'], /not both/],
    [['--config', 'configs/zerosearch/local.yaml', '--seed', '3'], /do not apply with --config/],
    [['--pairs', '0'], /--pairs must be an integer >= 1/],
    [['--temperature', 'hot'], /--temperature must be a number/],
    [['--modle', 'x'], /did you mean --model/],
  ];
  for (const [args, re] of cases) {
    const r = await cohort(['sim', 'eval', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re, args.join(' '));
  }
  for (const [flags, re] of [
    [['21'], /--augment must be at most 20/],
    [['-1'], /--augment must be an integer >= 0/],
    [['1', '--fresh-names'], /--fresh-names renames the second and later swapped copies of each pair: give --augment 2 or more \(got 1\)/],
  ] as const) {
    const r = await cohort(['sim', 'tune', '--config', 'configs/zerosearch/local.yaml', '--augment', ...flags]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, re);
  }
});
