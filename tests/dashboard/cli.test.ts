import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { connect } from '@cohort/cluster';
import { startClusterDashboard } from '@cohort/dashboard';
import { ProgressBar, colorEnabled, paint } from '../../cli/src/progress.js';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';
import { ChattyActor } from './fixtures/actors.js';
import { localCluster, until } from './helpers.js';

const COHORT = path.resolve('cli/bin/cohort.mjs');

/** A stream that keeps what is written (progress output goes here). */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns: 100, write: (s: string) => (chunks.push(s), true), text: () => chunks.join('') };
}

/** Runs `cohort ...` as a real process; `onOut` sees stdout as it comes and may return true to send SIGINT. */
function cohort(args: string[], env: NodeJS.ProcessEnv = {}, onOut?: (out: string) => boolean) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [COHORT, ...args], { env: { ...process.env, COHORT_LOG_LEVEL: 'silent', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let signalled = false;
    const kill = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (onOut && !signalled && onOut(out)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, out, err });
    });
  });
}

test('progress bar: plain lines every 10% when not a TTY; redraws in place with colour on a TTY; NO_COLOR turns colour off', (t) => {
  let now = 0;
  const plain = sink(false);
  const bar = new ProgressBar({ label: 'eval', total: 50, stream: plain, now: () => now });
  for (let i = 0; i < 50; i++) {
    now += 100;
    bar.tick(1, `q${i}`);
  }
  bar.done();
  const lines = plain.text().trimEnd().split('\n');
  t.is(lines.length, 12, plain.text()); // 1, then each 10% (5..50), then done
  t.is(lines[0], 'eval: 1/50 (2%) q0');
  t.is(lines[10], 'eval: 50/50 (100%) q49');
  t.is(lines[11], 'eval: done 50/50 in 5.0s (q49)');
  t.notRegex(plain.text(), /\x1b|\r/);

  const tty = sink(true);
  now = 0;
  const b2 = new ProgressBar({ label: 'load', total: 4, stream: tty, color: true, now: () => now });
  for (let i = 0; i < 4; i++) {
    now += 1000;
    b2.tick();
  }
  b2.fail('disk full');
  t.true(tty.chunks.slice(0, -1).every((c) => c.startsWith('\r\x1b[K')));
  t.regex(tty.chunks[1], /load .*\x1b\[36m█+.* 50% 2\/4 1\.0\/s eta 2\.0s/);
  t.regex(tty.chunks.at(-1)!, /\x1b\[31m✘\x1b\[0m load 4\/4 in 4\.0s .*disk full.*\n$/);
  t.false(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '1' }));
  t.true(colorEnabled({ write: () => true, isTTY: true }, {}));
  t.false(colorEnabled({ write: () => true, isTTY: false }, {}));
  t.true(colorEnabled({ write: () => true, isTTY: false }, { FORCE_COLOR: '1' }));
  t.is(paint(false)('red', 'x'), 'x');
  t.throws(() => new ProgressBar({ label: 'x', total: -1 }), { message: /total must be a number ≥ 0/ });
});

test('cohort logs ACTOR prints past lines from the head dashboard, --follow streams new ones until Ctrl-C; exit codes for usage, unknown actor, unreachable cluster', async (t) => {
  const c = await localCluster(t, 'clilogs', [{ id: 'ln1', resources: { CPU: 2 } }]);
  const dash = await startClusterDashboard(c.nc, c.store, c.cluster, { port: 0 });
  t.teardown(() => dash.close());
  const rt = await connect(c.url, { token: c.token, runtime: { logLevel: 'silent' } });
  t.teardown(() => rt.shutdown());
  const a = await rt.spawn(ChattyActor, [], { name: 'talker' });
  for (const m of ['first line', 'second line']) await a.say(m);
  t.true(await until(() => dash.logs.tail('talker', 10).length === 2));
  const env = { COHORT_TOKEN: c.token };

  const past = await cohort(['logs', 'talker', '--address', c.url, '--lines', '1'], env);
  t.is(past.code, 0, past.err);
  t.regex(past.out, /^\d{4}-\d\d-\d\d [\d:.]+ INFO  \[talker@ln1\] second line\n$/);

  // --follow: new lines arrive live; SIGINT ends it with exit code 0
  let said = false;
  const follow = cohort(['logs', 'talker', '-f', '--json', '--lines', '0', '--address', c.url], env, (out) => out.includes('live line'));
  const speaker = (async () => {
    // keep talking until the follower has subscribed and seen a line
    for (let i = 0; i < 200 && !said; i++) {
      await a.say('live line');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const f = await follow;
  said = true;
  await speaker;
  t.is(f.code, 0, f.err);
  const first = JSON.parse(f.out.split('\n')[0]) as { actor: string; msg: string; node: string };
  t.like(first, { actor: 'talker', msg: 'live line', node: 'ln1' });

  const [nobody, typo, unreachable] = await Promise.all([
    cohort(['logs', 'nobody', '--address', c.url], env),
    cohort(['logs', 'talker', '--folow', '--address', c.url], env),
    cohort(['logs', 'talker', '--address', 'nats://127.0.0.1:1'], env),
  ]);
  t.is(nobody.code, 4);
  t.regex(nobody.err, /no actor named "nobody"/);
  t.is(typo.code, 2);
  t.regex(typo.err, /Unknown option '--folow'; did you mean --follow\?/);
  t.is(unreachable.code, 3, unreachable.err);
});

test('cohort train --address: an unreachable cluster fails before training starts (exit 3); a mistyped flag is a usage error (exit 2)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-dash-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = writeTinyTrainConfig(dir, { name: 'no-cluster', seed: 1, totalSteps: 2, algorithm: 'reinforce' });
  const badEval = writeTinyTrainConfig(dir, { name: 'bad-eval', seed: 1, totalSteps: 2, algorithm: 'reinforce' });
  writeFileSync(badEval, readFileSync(badEval, 'utf8').replace(/^eval:\n/m, 'eval:\n  every: 3\n  sampleSize: 0\n'));
  const [unreachable, typo, invalid] = await Promise.all([
    cohort(['train', cfg, '--address', 'nats://127.0.0.1:1']),
    cohort(['train', cfg, '--adress', 'nats://127.0.0.1:1']),
    cohort(['train', badEval]),
  ]);
  t.is(unreachable.code, 3, unreachable.err);
  t.regex(unreachable.err, /no cluster answers at nats:\/\/127\.0\.0\.1:1/);
  t.false(existsSync(path.join(dir, 'runs', 'no-cluster')), 'nothing was trained');
  t.is(typo.code, 2);
  t.regex(typo.err, /Unknown option '--adress'; did you mean --address\?/);
  // the periodic evaluation's settings are checked with the rest of the config
  t.is(invalid.code, 2, invalid.err);
  t.regex(invalid.err, /eval\.sampleSize: expected a value > 0/);
  t.regex(invalid.err, /eval\.every 3 is larger than run\.totalSteps 2/);
});
