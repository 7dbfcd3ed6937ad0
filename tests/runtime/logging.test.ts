import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('runtime logs (driver and forwarded worker lines) go to stderr: stdout carries only the result', async (t) => {
  const script = fileURLToPath(new URL('./fixtures/log-driver.ts', import.meta.url));
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, COHORT_LOG_LEVEL: 'info' }, timeout: 60_000 });
  t.deepEqual(JSON.parse(stdout), { result: 42 }, 'stdout is exactly one JSON document');
  t.is(stdout.trim().split('\n').length, 1);
  t.regex(stderr, /a warning from the driver runtime/);
  t.regex(stderr, /a line from inside the actor/);
});
