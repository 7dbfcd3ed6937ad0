import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { init } from '@cohort/runtime';
import { Trainer, loadTrainConfig, type StepMetrics } from '../../actors/src/index.js';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

test('local mode: a killed learner is replaced from its peer; when every learner is killed the run goes back to its last checkpoint by itself; every step once, learners identical', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-trainer-recovery-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { config, sha256 } = await loadTrainConfig(writeTinyTrainConfig(dir, { name: 'tiny-recover', seed: 6, totalSteps: 4, algorithm: 'grpo' }));
  const rt = await init({ logLevel: 'silent', resources: { CPU: 4, GPU: 3 } });
  t.teardown(() => rt.shutdown());
  // Kill -9 by pid, from the actor directory, right after a step's line: the next step meets the loss.
  const kills: Record<number, string[]> = { 0: ['learner-1'], 2: ['learner-0', 'learner-1.r1'] };
  const killed: string[] = [];
  const { runDir } = await new Trainer({
    config,
    configSha256: sha256,
    logger: pino({ level: 'silent' }),
    runtime: rt,
    onStep: (m) => {
      const names = kills[m.step];
      if (!names) return;
      delete kills[m.step];
      void rt.listActors().then((infos) => {
        for (const n of names) {
          const a = infos.find((x) => x.name === `tiny-recover/${n}` && x.state === 'alive');
          if (a?.pid) {
            process.kill(a.pid, 'SIGKILL');
            killed.push(n);
          }
        }
      });
    },
  }).run();
  t.deepEqual(killed, ['learner-1', 'learner-0', 'learner-1.r1']);
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);
  t.deepEqual(lines.map((l) => [l.step, l.trajectories, l.policyVersion]), [[0, 4, 2], [1, 4, 4], [2, 4, 6], [3, 4, 8]], 'steps 2 and 3 redone from the step-2 checkpoint, each once');
  const events = lines.flatMap((l) => (l.recovery?.events ?? []).map((e) => `${l.step} ${e.kind} ${e.actor}`));
  t.true(events.includes('1 replaced learner-1'), events.join('; '));
  t.true(events.includes('2 restored-from-checkpoint learners'), events.join('; '));
  for (const l of lines.filter((x) => x.recovery)) t.is(new Set(l.recovery!.learnerChecksums).size, 1, `step ${l.step}: learners identical`);
  t.regex(lines[2].recovery!.events.find((e) => e.kind === 'restored-from-checkpoint')!.detail!, /took step-000002 and step 2 is redone/);
});
