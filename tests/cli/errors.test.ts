import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

// Clean failure at the command line: one message naming the problem, the same
// exit code for the same kind of error in every command (table in `cohort --help`).

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

async function fails(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    await run(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1', COHORT_ADDRESS: '' } });
  } catch (err) {
    return err as { code: number; stdout: string; stderr: string };
  }
  throw new Error(`cohort ${args.join(' ')} succeeded`);
}

test('a bad config exits 2 in train, up and down alike, with its problems and no usage text', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'foo: 1\n');
  for (const cmd of ['train', 'up', 'down']) {
    const e = await fails([cmd, file]);
    t.is(e.code, 2, cmd);
    t.regex(e.stderr, new RegExp(`^cohort ${cmd}: .*${path.basename(file)}`), cmd);
    t.regex(e.stderr, /foo/, `${cmd} names the bad key`);
    t.notRegex(e.stderr, /Usage:/, `${cmd} prints no usage after a config error`);
    t.is(e.stdout, '');
  }
});

test('a mistyped command names only the command word and suggests the command', async (t) => {
  const e = await fails(['trian', 'configs/zerosearch/local.yaml']);
  t.is(e.code, 2);
  t.regex(e.stderr, /unknown command "trian"; did you mean `cohort train`\?/);
  t.notRegex(e.stderr, /configs\/zerosearch/);
  const g = await fails(['bench', 'runtim']);
  t.regex(g.stderr, /unknown command "bench runtim"; did you mean `cohort bench runtime`\?/);
});

test('a negative number after a flag is its value, and the range error names it', async (t) => {
  const e = await fails(['curriculum', '--ps', '0', '--pe', '1', '--steps', '-3']);
  t.is(e.code, 2);
  t.regex(e.stderr, /--steps must be an integer >= 1, got "-3"/);
  t.notRegex(e.stderr, /ambiguous/);
});

test('status of a cluster that is not up exits 3 (unreachable) with --config as with --address', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const byConfig = await fails(['status', '--config', 'configs/cluster/local.yaml', '--state-dir', path.join(dir, 'none')]);
  t.is(byConfig.code, 3);
  t.regex(byConfig.stderr, /the cluster of configs\/cluster\/local.yaml is not up .* start it with `cohort up configs\/cluster\/local.yaml`/);
  const byAddress = await fails(['status', '--address', 'nats://127.0.0.1:1']);
  t.is(byAddress.code, 3);
});

test('cohort --help lists the exit codes', async (t) => {
  const { stdout } = await run(process.execPath, [bin, '--help']);
  t.regex(stdout, /Exit codes: 0 ok, 1 error, 2 usage or invalid config .* 3 cluster unreachable/s);
});
