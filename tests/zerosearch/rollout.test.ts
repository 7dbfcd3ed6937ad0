import test from 'ava';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  CORRECTIVE_MESSAGE,
  CorpusSearchEngine,
  OraclePolicy,
  RolloutState,
  SimulatorSearchEngine,
  WorldSimulator,
  makeDataset,
  parseSimulatorPrompt,
  policyInstruction,
  runRollouts,
  summarizeRollouts,
  type GenerateOptions,
  type TextGenerator,
  type TextTokenizer,
} from '@cohort/zerosearch';
import type { QAItem } from '@cohort/zerosearch';

const ds = makeDataset({ size: 'tiny', seed: 5 });

/** Rollout loop items of bare states. */
const items = (states: readonly RolloutState[]) => states.map((state) => ({ state }));

/** The loop's driver for a text-level policy: greedy, 100 tokens per turn, cut at the action stops. */
function textPolicy(policy: TextGenerator) {
  return { generate: (active: readonly { state: RolloutState }[]) => policy.generate(active.map((a) => a.state.context()), { maxTokens: 100, temperature: 0, stop: active[0].state.stops }) };
}
const sample = { id: 't0', question: 'Where was Mara Kello born?', goldenAnswers: ['Velport'] };

/** A real word-level tokenizer (Hugging Face tokenizer.json) over the corpus vocabulary. */
function corpusTokenizer(): TextTokenizer {
  const words = new Set<string>();
  const texts = [...ds.corpus.map((d) => d.text), policyInstruction(sample.question), '<search>Mara Kello</search>\n\n<information>Doc 1: </information>'];
  for (const text of texts) for (const w of text.match(/\w+|[^\w\s]+/g) ?? []) words.add(w);
  const vocab: Record<string, number> = { '[UNK]': 0 };
  for (const w of words) vocab[w] = Object.keys(vocab).length;
  const tok = new Tokenizer(
    { model: { type: 'WordPiece', vocab, unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100 }, normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: { type: 'WordPiece', prefix: '##', cleanup: true }, added_tokens: [] } as never,
    {} as never,
  );
  return { encode: (s) => tok.encode(s).ids, decode: (ids) => tok.decode([...ids]) };
}

test('search, observation, answer: segments carry the loss mask', (t) => {
  const s = new RolloutState(sample);
  const a = s.step('<think>I must look it up.</think>\n<search> Mara Kello birthplace </search> trailing text never kept');
  t.is(a.kind, 'search');
  if (a.kind !== 'search') return;
  t.is(a.query, 'Mara Kello birthplace');
  t.is(a.request.question, sample.question);
  t.deepEqual(a.request.goldenAnswers, sample.goldenAnswers);
  t.true(s.awaitingObservation);
  t.throws(() => s.step('<answer>x</answer>'), { message: /observe\(\) first/ });
  s.observe('Doc 1: Mara Kello was born in Velport.');
  const b = s.step('<think>Found it.</think>\n<answer> Velport </answer>');
  t.deepEqual(b, { kind: 'answer', answer: 'Velport' });
  t.true(s.done);
  t.deepEqual(s.segments.map((x) => [x.source, x.lossMask]), [['model', 1], ['env', 0], ['model', 1]]);
  t.is(s.segments[1].text, '\n\n<information>Doc 1: Mara Kello was born in Velport.</information>\n\n');
  t.false(s.responseText().includes('trailing text'));
  t.deepEqual(s.score(), { f1: 1, em: 1, coverEm: 1 });
});

test('no action gets the corrective message; max turns then one final turn', (t) => {
  const s = new RolloutState(sample, { maxTurns: 2 });
  t.is(s.step('I think the answer is Velport.').kind, 'invalid');
  t.is(s.segments[1].text, CORRECTIVE_MESSAGE);
  t.is(s.segments[1].lossMask, 0);
  t.is(s.step('<search>q</search>').kind, 'search');
  s.observe('Doc 1: nothing');
  t.true(s.isFinalTurn);
  // The final turn gets no observation: a search there ends the trajectory without an answer.
  t.deepEqual(s.step('<search>again</search>'), { kind: 'end', reason: 'final_turn_without_answer' });
  t.true(s.done);
  t.is(s.answer, null);
  t.deepEqual(s.score(), { f1: 0, em: 0, coverEm: 0 });
  t.is(s.turns, 3);
  t.throws(() => s.step('<answer>late</answer>'), { message: /already done/ });
});

test('observations are cut to maxObsTokens and the context rolls over a real tokenizer', (t) => {
  const tok = corpusTokenizer();
  const long = ds.corpus.slice(0, 20).map((d, i) => `Doc ${i + 1}: ${d.text}`).join('\n');
  const s = new RolloutState(sample, { tokenizer: tok, maxObsTokens: 30, maxContextTokens: 50 });
  s.step('<search>Mara Kello</search>');
  s.observe(long);
  const obsIds = tok.encode(s.segments[1].text);
  t.true(obsIds.length <= 30, `obs ${obsIds.length}`);
  t.true(tok.encode(long).length > 30);
  const ctxIds = s.contextIds(tok);
  t.is(ctxIds.length, 50);
  t.deepEqual(ctxIds, tok.encode(s.fullText()).slice(-50));
  t.true(s.context().endsWith(tok.decode(ctxIds.slice(-5))));
  t.true(tok.encode(s.fullText()).length > 50);
  const { ids, lossMask } = s.tokenizeResponse(tok);
  t.is(ids.length, lossMask.length);
  t.true(lossMask.includes(0) && lossMask.includes(1));
});

test('a batch where some trajectories do not search: every simulator prompt carries its own question and answer', async (t) => {
  // Warm-start facts are "remembered": train questions are answered without search, test questions need it.
  const known = new Set(ds.warmFacts.map((f) => f.id));
  // Three test questions whose searches are all distinct (two questions about one person share a query).
  const shares = (p: QAItem, q: QAItem) => p.steps.some((a) => q.steps.some((b) => a.query === b.query));
  const picked: QAItem[] = [ds.train[0], ds.train[1], ds.train[2]];
  for (const q of ds.test) if (picked.length < 6 && !picked.some((p) => shares(p, q))) picked.push(q);
  const mixed = [picked[0], picked[3], picked[1], picked[2], picked[4], picked[5]];
  const policy = new OraclePolicy(mixed, known);
  const prompts: string[] = [];
  const sim = new WorldSimulator(ds.world, {}, ds.corpus);
  const recording: TextGenerator = {
    name: 'recording',
    generate: (p: readonly string[], o: GenerateOptions) => {
      prompts.push(...p);
      return sim.generate(p, o);
    },
  };
  const engine = new SimulatorSearchEngine({ generator: recording, curriculum: { mode: 'fixed', prompt: 'useful' } });
  const states = mixed.map((q) => new RolloutState(q));
  const stats = await runRollouts(items(states), engine, textPolicy(policy));
  t.is(states.filter((s) => s.searches === 0).length, 3);
  t.true(stats.searches >= 3);
  t.is(prompts.length, stats.searches);
  for (const p of prompts) {
    const parsed = parseSimulatorPrompt(p)!;
    const owner = mixed.find((q) => q.steps.some((s) => s.query === parsed.query))!;
    t.truthy(owner);
    t.is(parsed.question, owner.question);
    t.deepEqual(parsed.answers, owner.goldenAnswers);
    t.true(owner.heldout);
  }
  for (const [i, s] of states.entries()) {
    t.is(s.answer, mixed[i].goldenAnswers[0]);
    // Useful simulated documents of a held-out question carry its own answer.
    if (s.searches > 0) t.true(s.responseText().includes(mixed[i].steps[0].answer));
  }
});

test('the oracle policy over the real corpus engine answers held-out questions only by searching', async (t) => {
  const engine = new CorpusSearchEngine(ds.corpus);
  const states = ds.test.slice(0, 10).map((q) => new RolloutState(q));
  await runRollouts(items(states), engine, textPolicy(new OraclePolicy(ds.test, new Set())));
  for (const s of states) t.true(s.searches >= 1 && s.score().em === 1);
  t.like(summarizeRollouts(states), { trajectories: 10, em: 1, coverEm: 1, f1: 1, answered: 1, meanInvalidActions: 0 });
  // Without search, a policy that knows nothing answers "unknown": every score is 0.
  const blind = ds.test.slice(0, 4).map((q) => new RolloutState(q));
  await runRollouts(items(blind), engine, textPolicy(new OraclePolicy([], new Set())));
  t.like(summarizeRollouts(blind), { em: 0, f1: 0, meanSearches: 0, meanTurns: 1 });
  t.throws(() => new RolloutState({ id: 'x', question: ' ', goldenAnswers: ['a'] }), { message: /question is empty/ });
});
