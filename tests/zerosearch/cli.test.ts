import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curriculumNoiseP, readQAParquet } from '@cohort/zerosearch';
import { closedPort } from './helpers.js';
import { cohortInProcess } from '../helpers/cohort-in-process.js';

const BIN = 'cli/bin/cohort.mjs';

/**
 * Runs the real CLI entry point in this process (no tsx start-up per call) and captures what
 * it writes. Callers are serial tests, so the captured streams are theirs alone.
 */
const cohort = cohortInProcess;

test.serial('cohort curriculum --json prints Eq. 1 for steps 1..M', async (t) => {
  const r = await cohort(['curriculum', '--ps', '0.1', '--pe', '0.5', '--steps', '5', '--base', '3', '--json']);
  t.is(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { step: number; p: number }[];
  t.deepEqual(
    rows,
    [1, 2, 3, 4, 5].map((i) => ({ step: i, p: curriculumNoiseP(i, 5, 0.1, 0.5, 3) })),
  );
  const bad = await cohort(['curriculum', '--ps', '0', '--pe', '2', '--steps', '5']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--pe must be a number in \[0, 1\]/);
});

test.serial('cohort data make writes the dataset; cohort search reads it; bad input gets clear errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zs-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const made = await cohort(['data', 'make', '--out', dir, '--size', 'tiny', '--seed', '9', '--json']);
  t.is(made.code, 0, made.stderr);
  const manifest = JSON.parse(made.stdout) as { counts: Record<string, number> };
  const test = await readQAParquet(join(dir, 'test.parquet'));
  t.is(test.length, manifest.counts.test);
  t.true(test.every((r) => r.extra_info.split === 'test' && r.extra_info.heldout === true));
  const facts = (await readFile(join(dir, 'warmstart_facts.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { heldout: boolean });
  t.false(facts.some((f) => f.heldout));

  const row = test[0];
  const hit = await cohort(['search', row.question, '--data', dir, '--json']);
  t.is(hit.code, 0, hit.stderr);
  const res = JSON.parse(hit.stdout) as { docs: string[]; engine: string };
  t.is(res.engine, 'corpus');
  t.is(res.docs.length, 5);

  const sim = await cohort(['search', row.question, '--engine', 'simulator', '--mode', 'noisy', '--data', dir, '--question', row.question, '--answer', row.golden_answers[0], '--json']);
  t.is(sim.code, 0, sim.stderr);
  const simRes = JSON.parse(sim.stdout) as { docs: string[]; mode: string; text: string };
  t.is(simRes.mode, 'noisy');
  t.false(simRes.text.includes(row.golden_answers[0]));

  const inspect = await cohort(['data', 'inspect', join(dir, 'train.parquet'), '--json']);
  t.is(inspect.code, 0, inspect.stderr);
  t.is((JSON.parse(inspect.stdout) as { rows: number }).rows, manifest.counts.train);
  const badParquet = await cohort(['data', 'inspect', join(dir, 'corpus.jsonl')]);
  t.is(badParquet.code, 1);
  t.regex(badParquet.stderr, /corpus\.jsonl: not a parquet file/);

  const empty = await cohort(['search', '  ']);
  t.is(empty.code, 2);
  t.regex(empty.stderr, /search query is empty/);
  const unknown = await cohort(['search', 'x', '--engine', 'bing']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown engine "bing"; use one of corpus, simulator, http/);
  const down = await cohort(['search', 'x', '--engine', 'simulator', '--url', `http://127.0.0.1:${await closedPort()}`, '--retries', '0']);
  t.is(down.code, 1);
  t.regex(down.stderr, /simulator unreachable after 1 attempt\(s\).*ECONNREFUSED.*cohort sim serve/);
});

test('cohort sim serve answers OpenAI requests until stopped', async (t) => {
  const port = await closedPort();
  const child = spawn(process.execPath, [BIN, 'sim', 'serve', '--port', String(port), '--size', 'tiny', '--backend', 'world'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('serving') && resolve());
    child.once('exit', (c) => reject(new Error(`sim serve exited with ${c}`)));
  });
  const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'You act as a web search engine.\n\nQuery: capital\nUseful Output:' }] }),
  });
  const body = (await r.json()) as { choices: { message: { content: string } }[] };
  t.regex(body.choices[0].message.content, /^Doc 1: /);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  child.kill('SIGTERM');
  t.is(await exited, 0);
});
