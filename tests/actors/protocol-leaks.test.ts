// The evaluation protocol of the main job (issue 12 item 4): the tokenizer, the
// warm start and the simulator's tuning pairs see only train-split text; the EM
// curve reads dev questions and the final evaluation test questions.
import test from 'ava';
import { evalItems, extraDemosFor, loadTrainConfig, prepareWorld, tokenizerTexts, warmStartExamples } from '../../actors/src/index.js';

// the warm start as `cohort warm-start` (the shipped policy) and --from-scratch run it
const loaded = await loadTrainConfig('configs/zerosearch/local.yaml', { overrides: ['warmStart.sftSteps=60', 'warmStart.enabled=true'] });
const config = loaded.config;
const ds = await prepareWorld(config, extraDemosFor(config.warmStart));
const held = ds.world.entities.filter((e) => e.heldout);
const heldQuestions = [...ds.dev, ...ds.test].map((q) => q.question);

function leaks(texts: readonly string[]): string[] {
  const all = texts.join('\n');
  return [...held.filter((e) => all.includes(e.name)).map((e) => `${e.split} entity ${e.name}`), ...heldQuestions.filter((q) => all.includes(q)).map((q) => `question "${q}"`)];
}

test('the main job world has dev and test questions of both kinds', (t) => {
  t.true(held.some((e) => e.split === 'dev') && held.some((e) => e.split === 'test'));
  for (const split of config.eval.splits) {
    t.true(evalItems(ds, split, 'dev').length >= 20, `${split.name}: too few dev questions`);
    t.true(evalItems(ds, split, 'test').length >= 20, `${split.name}: too few test questions`);
    for (const q of evalItems(ds, split, 'dev')) t.is(q.split, 'dev');
    for (const q of evalItems(ds, split, 'test')) t.is(q.split, 'test');
  }
});

test('the world tokenizer never sees dev or test text', (t) => {
  const texts = tokenizerTexts(ds);
  t.true(texts.length > 100);
  t.deepEqual(leaks(texts), []);
});

test('the warm start never sees dev or test text', (t) => {
  const examples = warmStartExamples(ds, config.warmStart.demoShare, 4000);
  t.true(examples.length > 100);
  t.deepEqual(leaks(examples.map((e) => e.prompt + e.segments.map((s) => s.text).join(''))), []);
});

test('the simulator tuning pairs never see dev or test text', (t) => {
  t.true(ds.simPairs.length > 50);
  t.deepEqual(leaks(ds.simPairs.map((p) => `${p.prompt}\n${p.output}`)), []);
});

test('RL prompts are train questions only', (t) => {
  t.true(ds.train.length > 100);
  for (const q of ds.train) t.is(q.split, 'train');
  const trainText = new Set(ds.train.map((q) => q.question));
  for (const q of heldQuestions) t.false(trainText.has(q));
});

test('a leak is caught: a dev question planted in the tokenizer text is reported', (t) => {
  const planted = [...tokenizerTexts(ds).slice(0, 10), `note: ${ds.dev[0].question}`];
  t.true(leaks(planted).some((l) => l.includes(ds.dev[0].question)));
});
