import test from 'ava';
import { coverExactMatch, cutAtAction, exactMatch, extractAnswer, f1Score, formatDocs, formatObservation, normalizeAnswer, parseAction, policyInstruction, scoreAnswer } from '@cohort/zerosearch';

test('generation is cut after the first </search> or </answer>', (t) => {
  t.is(cutAtAction('<think>x</think><search>a b</search> junk <answer>c</answer>'), '<think>x</think><search>a b</search>');
  t.is(cutAtAction('<answer>c</answer> then <search>q</search>'), '<answer>c</answer>');
  t.is(cutAtAction('no action here'), 'no action here');
});

test('the first search or answer tag is parsed across newlines and stripped', (t) => {
  t.deepEqual(parseAction('<think>hm</think>\n<search>\n  Mara Kello\n birthplace </search>'), { kind: 'search', query: 'Mara Kello\n birthplace' });
  t.deepEqual(parseAction('<answer> Velport </answer><search>x</search>'), { kind: 'answer', answer: 'Velport' });
  t.deepEqual(parseAction('<search>a</answer>'), { kind: 'none' });
  t.deepEqual(parseAction('<think>only thinking</think>'), { kind: 'none' });
});

test('observations and documents use the reference layout', (t) => {
  const docs = formatDocs(['one\ntwo', 'three']);
  t.is(docs, 'Doc 1: one two\nDoc 2: three');
  t.is(formatObservation(docs), `\n\n<information>${docs}</information>\n\n`);
});

test('normalisation and scores', (t) => {
  t.is(normalizeAnswer('  The  Republic, of Ostria! '), 'republic of ostria');
  t.is(exactMatch('the Velport', ['Velport']), 1);
  t.is(exactMatch('Velport City', ['Velport']), 0);
  t.is(coverExactMatch('Velport City', ['Velport']), 1);
  t.is(f1Score('Velport City', ['Velport']), 2 / 3);
  t.is(f1Score('Mara Kello', ['Kello', 'Mara Kello']), 1);
  t.is(f1Score('yes', ['no']), 0);
  t.deepEqual(scoreAnswer(null, ['Velport']), { f1: 0, em: 0, coverEm: 0 });
  t.throws(() => f1Score('x', []), { message: /golden answers/ });
});

test("the answer comes from the response, never from the instruction's example", (t) => {
  const prompt = policyInstruction('Where was Mara Kello born?');
  t.regex(prompt, /<answer> Paris <\/answer>/);
  t.is(extractAnswer(prompt), 'Paris'); // reading the prompt would find the example ...
  t.is(extractAnswer('<think>no idea</think>'), null); // ...but only the response is read: no answer, score 0
  t.deepEqual(scoreAnswer(extractAnswer('<think>no idea</think>'), ['Paris']), { f1: 0, em: 0, coverEm: 0 });
  t.is(extractAnswer('<answer>a</answer> and <answer> b </answer>'), 'b');
});
