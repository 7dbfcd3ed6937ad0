import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

test('cohort version --json prints the package version', async (t) => {
  const { stdout } = await run(process.execPath, [bin, 'version', '--json']);
  const out = JSON.parse(stdout) as { version: string };
  t.regex(out.version, /^\d+\.\d+\.\d+/);
});

test('an unknown flag is a usage error naming the accepted flags', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [bin, 'version', '--jsn']));
  const e = err as unknown as { code: number; stderr: string };
  t.is(e.code, 2);
  t.regex(e.stderr, /--jsn/);
  t.regex(e.stderr, /expected one of: --json/);
});

test('an unknown command lists the known ones', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [bin, 'frobnicate']));
  const e = err as unknown as { code: number; stderr: string };
  t.is(e.code, 2);
  t.regex(e.stderr, /unknown command "frobnicate"/);
  t.regex(e.stderr, /cohort version/);
});
