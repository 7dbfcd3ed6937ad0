import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { FileTail, LogStore, PromWriter, TrainingFeed, parseActorLogLine, trainingMetrics } from '@cohort/dashboard';
import { tempDir } from './helpers.js';

const line = (actor: string, msg: string, time = 0) => ({ time, level: 'info', actor, msg });

test('LogStore keeps a bounded ring per actor and forgets the actors that logged least recently', (t) => {
  const s = new LogStore(3, 2);
  for (let i = 0; i < 5; i++) s.add(line('a', `a${i}`, i));
  t.deepEqual(s.tail('a', 10).map((l) => l.msg), ['a2', 'a3', 'a4']);
  t.deepEqual(s.tail('a', 1).map((l) => l.msg), ['a4']);
  t.deepEqual(s.tail('a', 0), []);
  s.add(line('b', 'b0', 10));
  s.add(line('a', 'a5', 11)); // a is the most recent again
  s.add(line('c', 'c0', 12)); // evicts b, not a
  t.deepEqual(s.actors(), ['a', 'c']);
  // aliases (name and id) merge in time order
  s.add(line('id-c', 'c-by-id', 11.5));
  t.deepEqual(s.tail('c', 5, ['id-c']).map((l) => l.msg), ['c-by-id', 'c0']);
});

test('TrainingFeed bounds each run and tells listeners; pino lines without an actor are not actor logs', (t) => {
  const f = new TrainingFeed(3);
  const seen: number[] = [];
  f.onStep((u) => seen.push(u.step.step));
  for (let i = 0; i < 5; i++) f.push('r', { step: i, reward: i });
  t.deepEqual(f.steps('r').map((s) => s.step), [2, 3, 4]);
  t.deepEqual(seen, [0, 1, 2, 3, 4]);
  t.deepEqual(f.latest(), [{ run: 'r', step: { step: 4, reward: 4 } }]);
  t.throws(() => f.push('r', { step: 1.5 }), { message: /run r: step: .*expected a StepMetrics/ });
  t.is(parseActorLogLine('{"level":30,"msg":"head started"}'), undefined);
  t.is(parseActorLogLine('plain text'), undefined);
  t.like(parseActorLogLine('{"level":40,"time":5,"actor":"x","msg":"careful"}', 'n1'), { level: 'warn', actor: 'x', node: 'n1', time: 5, msg: 'careful' });
});

test('FileTail returns whole lines only, and starts over after truncation', (t) => {
  const f = path.join(tempDir(t), 'log.jsonl');
  const tail = new FileTail(f);
  t.deepEqual(tail.read(), [], 'a missing file is empty');
  writeFileSync(f, 'one\ntw');
  t.deepEqual(tail.read(), ['one']);
  appendFileSync(f, 'o\nthree\n');
  t.deepEqual(tail.read(), ['two', 'three']);
  writeFileSync(f, 'new\n');
  t.deepEqual(tail.read(), ['new']);
});

test('PromWriter: one HELP/TYPE per metric, cohort_ prefix, escaped label values, non-finite values skipped', (t) => {
  const w = new PromWriter();
  w.gauge('x', 'help', 1, { a: 'q"u\\o\nte' });
  w.gauge('cohort_x', 'help', 2, { a: 'b' });
  w.gauge('y-z', 'other', Number.NaN);
  w.gauge('y', 'other', 3);
  t.is(w.toString(), ['# HELP cohort_x help', '# TYPE cohort_x gauge', 'cohort_x{a="q\\"u\\\\o\\nte"} 1', 'cohort_x{a="b"} 2', '# HELP cohort_y other', '# TYPE cohort_y gauge', 'cohort_y 3', ''].join('\n'));
});

test('training gauges: EM comes from the newest evaluated step even when the newest step did not evaluate', (t) => {
  const f = new TrainingFeed();
  f.push('r', { step: 0, reward: 0.1 });
  f.push('r', { step: 1, reward: 0.2, em: 12.5, emByType: { 'single-hop': 20, 'multi-hop': 5 } });
  f.push('r', { step: 2, reward: 0.3, timings: { generate: 1, eval: 0.5, total: 2 } });
  const w = new PromWriter();
  trainingMetrics(w, f);
  const text = w.toString();
  t.regex(text, /^cohort_train_step\{run="r"\} 2$/m);
  t.regex(text, /^cohort_train_reward\{run="r"\} 0.3$/m);
  t.regex(text, /^cohort_train_em_percent\{run="r"\} 12.5$/m);
  t.regex(text, /^cohort_train_em_step\{run="r"\} 1$/m);
  t.regex(text, /^cohort_train_em_by_type_percent\{run="r",type="single-hop"\} 20$/m);
  t.regex(text, /^cohort_train_em_by_type_percent\{run="r",type="multi-hop"\} 5$/m);
  t.regex(text, /^cohort_train_step_seconds\{run="r",phase="eval"\} 0.5$/m);
  // a run that never evaluated has no EM gauge at all (not a 0)
  f.push('q', { step: 0, reward: 1 });
  const w2 = new PromWriter();
  trainingMetrics(w2, f);
  t.notRegex(w2.toString(), /cohort_train_em_percent\{run="q"\}/);
});
