import test from 'ava';
import { WORLD_SIZES, WorldSimulator, makeCorpus, makeDataset, makeWorld, simulatorPrompt, toQARow, ZEROSEARCH_TAGS } from '@cohort/zerosearch';
import { Tokenizer } from '@cohort/engine';

const ds = makeDataset({ size: 'small', seed: 11 });

test('same seed gives the same world and data; another seed differs', (t) => {
  const again = makeDataset({ size: 'small', seed: 11 });
  t.deepEqual(again.world.entities, ds.world.entities);
  t.deepEqual(again.corpus, ds.corpus);
  t.deepEqual(again.train, ds.train);
  t.deepEqual(again.simPairs.slice(0, 20), ds.simPairs.slice(0, 20));
  const other = makeDataset({ size: 'small', seed: 12 });
  t.notDeepEqual(other.world.entities.map((e) => e.name), ds.world.entities.map((e) => e.name));
});

test('entity names are unique and every fact has its subject and object', (t) => {
  const names = ds.world.entities.map((e) => e.name.toLowerCase());
  t.is(new Set(names).size, names.length);
  for (const f of ds.world.facts) {
    t.truthy(ds.world.entity(f.subject));
    if (!['birth_year', 'profession', 'industry', 'language'].includes(f.relation)) t.truthy(ds.world.entity(f.object));
  }
  // Every country's capital is one of its own cities.
  for (const c of ds.world.ofKind('country')) t.is(ds.world.object(ds.world.object(c.id, 'capital'), 'located_in'), c.id);
});

test('three disjoint entity splits: dev and test questions ask about held-out entities whose facts never reach warm-start or tuning data', (t) => {
  t.true(ds.test.length > 20);
  t.true(ds.dev.length > 20);
  t.true(ds.train.length > 100);
  // Each split's questions touch only facts of its own split or a less held-out one (test > dev > train).
  const factSplit = new Map(ds.world.facts.map((f) => [f.id, f.split]));
  const allowed = { train: ['train'], dev: ['train', 'dev'], test: ['train', 'dev', 'test'] } as const;
  for (const [name, qs] of [['train', ds.train], ['dev', ds.dev], ['test', ds.test]] as const) {
    for (const q of qs) {
      t.is(q.split, name);
      t.is(q.heldout, name !== 'train');
      t.true(q.id.startsWith(`${name}-`));
      const splits = q.steps.map((s) => factSplit.get(s.fact)!);
      for (const sp of splits) t.true((allowed[name] as readonly string[]).includes(sp), `${q.id} uses a ${sp} fact`);
      t.true(splits.includes(name), `${q.id} is ${name} but needs no ${name} fact`);
    }
  }
  // Dev and test are about disjoint persons, and both are non-empty.
  const persons = (qs: readonly { subject: string }[]) => new Set(qs.map((q) => q.subject).filter((s) => ds.world.entity(s).split !== 'train'));
  const devP = persons(ds.dev);
  for (const p of persons(ds.test)) if (ds.world.entity(p).split === 'test') t.false(devP.has(p));
  t.true(ds.world.entities.some((e) => e.split === 'dev') && ds.world.entities.some((e) => e.split === 'test'));
  // Pools count every question of each split; the samples take at most their pool.
  t.true(ds.pool.dev >= ds.dev.length && ds.pool.test >= ds.test.length && ds.pool.train >= ds.train.length);
  // The declared warm-start facts hold no held-out fact ...
  t.true(ds.warmFacts.length > 0);
  t.false(ds.warmFacts.some((f) => f.heldout));
  // ... and no held-out person or company is even named in warm-start text.
  const warmText = [...ds.warmCorpus.map((d) => d.text), ...ds.demos.map((d) => d.prompt + d.response)].join('\n');
  const held = ds.world.entities.filter((e) => e.heldout);
  t.true(held.length > 5);
  for (const e of held) t.false(warmText.includes(e.name), `${e.name} leaked into warm-start data`);
  // The first hop of every test question is answerable from the full corpus.
  const corpusText = ds.corpus.map((d) => d.text).join('\n');
  for (const e of held) t.true(corpusText.includes(e.name));
});

test('simulator tuning pairs come from train questions only and name no dev or test entity', (t) => {
  t.true(ds.simPairs.length > 100);
  const trainQuestions = new Set(ds.train.map((q) => q.question));
  for (const p of ds.simPairs) t.true(trainQuestions.has(p.question), `pair for a non-train question: ${p.question}`);
  const text = ds.simPairs.map((p) => `${p.prompt}\n${p.output}`).join('\n');
  for (const e of ds.world.entities.filter((x) => x.heldout)) t.false(text.includes(e.name), `${e.name} (${e.split}) named in the simulator tuning pairs`);
  for (const q of [...ds.dev, ...ds.test]) t.false(text.includes(q.question));
});

test('an older world.json (held-out, no split) reads back with its held-out entities as test', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { loadWorld } = await import('@cohort/zerosearch');
  const dir = await mkdtemp(path.join(tmpdir(), 'cohort-oldworld-'));
  try {
    const strip = <T extends { split: string }>(x: T) => {
      const { split: _s, ...rest } = x;
      return rest;
    };
    await writeFile(path.join(dir, 'world.json'), JSON.stringify({ config: ds.world.config, entities: ds.world.entities.map(strip), facts: ds.world.facts.map(strip) }));
    const w = await loadWorld(dir);
    for (const e of w.entities) t.is(e.split, e.heldout ? 'test' : 'train');
    for (const f of w.facts) t.is(f.split, f.heldout ? 'test' : 'train');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two-hop questions compose two facts and demonstrations follow the template', (t) => {
  const two = ds.train.filter((q) => q.hops === 2);
  t.true(two.length > 10);
  for (const q of two) {
    t.is(q.steps.length, 2);
    t.is(q.goldenAnswers[0], q.steps[1].answer);
  }
  const d = ds.demos.find((x) => x.id === two[0].id)!;
  t.is((d.response.match(/<search>/g) ?? []).length, 2);
  t.is((d.response.match(/<information>/g) ?? []).length, 2);
  t.true(d.response.endsWith(`<answer> ${two[0].goldenAnswers[0]} </answer>`));
  t.deepEqual(d.segments.map((s) => s.lossMask), [1, 0, 1, 0, 1]);
  t.true(ds.demos.filter((x) => x.grounded).length / ds.demos.length > 0.9);
});

test('extra demonstrations come from demo-only worlds: fresh names, topk documents, no main-world entity named', (t) => {
  const ex = makeDataset({ size: 'small', seed: 11, extraDemos: 300, demoTopk: 3 });
  t.deepEqual(ex.test, ds.test);
  t.deepEqual(ex.corpus, ds.corpus);
  const extra = ex.demos.filter((d) => d.id.startsWith('demo-'));
  t.is(extra.length, 300);
  t.is(ex.demos.length, ex.train.length + 300);
  t.is(new Set(extra.map((d) => d.question)).size > 250, true);
  const names = ex.world.entities.map((e) => e.name);
  for (const d of extra) {
    for (const n of names) t.false((d.prompt + d.response).includes(n), `${n} named in ${d.id}`);
    // Every observation holds at most topk documents.
    for (const s of d.segments.filter((x) => x.lossMask === 0)) t.false(s.text.includes('Doc 4:'));
  }
  t.true(extra.filter((x) => x.grounded).length / extra.length > 0.9);
});

test('documents are short and the Search-R1 row shape is complete', (t) => {
  for (const d of ds.corpus) {
    const words = d.text.split(/\s+/).length;
    t.true(words >= 15 && words <= 60, `${words} words: ${d.text}`);
  }
  const row = toQARow(ds.test[0], 0);
  t.deepEqual(Object.keys(row).sort(), ['ability', 'data_source', 'extra_info', 'golden_answers', 'id', 'prompt', 'question', 'reward_model'].sort());
  t.is(row.extra_info.split, 'test');
  t.is(row.prompt[0].role, 'user');
  t.true(row.prompt[0].content.endsWith(`Question: ${ds.test[0].question}\n`));
});

test('bad world configs get errors naming the problem', (t) => {
  t.throws(() => makeWorld({ persons: 5, companies: 9 }), { message: /companies must be <= persons/ });
  t.throws(() => makeWorld({ seed: -1 }), { message: /seed/ });
  t.throws(() => makeDataset({ size: 'huge' }), { message: /size must be one of/ });
});

test('a demonstration copies names token for token: the query and answer tokenize as they do in the question and documents', (t) => {
  const ds = makeDataset({ seed: 3, size: 'tiny', demoTopk: 2 });
  const tok = Tokenizer.train([...ds.corpus.map((d) => d.text), ...ds.demos.flatMap((d) => [d.prompt, d.response])], { vocabSize: 1024, addedTokens: [...ZEROSEARCH_TAGS] });
  const has = (hay: number[], needle: number[]) => hay.some((_, i) => needle.every((x, k) => hay[i + k] === x));
  let checked = 0;
  for (const d of ds.demos.slice(0, 20)) {
    const q = ds.train.find((x) => x.id === d.id)!;
    const entity = q.steps[0].query.split(' ').slice(0, 2).join(' ');
    if (!d.question.includes(` ${entity}`)) continue;
    const name = tok.encode(` ${entity}`);
    t.true(has(tok.encode(d.question), name), `question of ${d.id}`);
    t.true(has(tok.encode(d.segments[0].text), name), `query of ${d.id} has the question's tokens for "${entity}"`);
    const answer = tok.encode(` ${q.goldenAnswers[0]}`);
    t.true(has(tok.encode(d.segments.at(-1)!.text), answer), `answer of ${d.id}`);
    checked++;
  }
  t.true(checked >= 5, `checked ${checked} demonstrations`);
});

test('demoSimulatorShare: that share of the extra demonstrations reads the world simulator\'s useful documents, grounded in the hop\'s answer', (t) => {
  const base = { seed: 5, size: 'tiny', demoTopk: 2, extraDemos: 60 } as const;
  const engines = (share: number) =>
    makeDataset({ ...base, demoSimulatorShare: share })
      .demos.filter((d) => d.id.startsWith('demo-'))
      .map((d) => d.segments.filter((s) => s.source === 'env'));
  const none = engines(0);
  const all = engines(1);
  t.is(all.length, 60);
  t.deepEqual(none.map((obs) => obs.length), all.map((obs) => obs.length), 'the same questions and hops');
  // Different documents (simulator phrasing) but every observation still carries the hop's answer.
  t.true(all.some((obs, i) => obs[0].text !== none[i][0].text));
  const ds = makeDataset({ ...base, demoSimulatorShare: 1 });
  const extra = ds.demos.filter((d) => d.id.startsWith('demo-'));
  t.true(extra.filter((d) => d.grounded).length / extra.length > 0.9, 'simulator observations hold the hop answer');
  const half = makeDataset({ ...base, demoSimulatorShare: 0.5 }).demos.filter((d) => d.id.startsWith('demo-'));
  const fromSim = half.filter((d, i) => d.segments[1].text === all[i][0].text).length;
  t.true(fromSim > 10 && fromSim < 50, `${fromSim} of 60 from the simulator at share 0.5`);
  t.throws(() => makeDataset({ ...base, demoSimulatorShare: 1.5 }), { message: /demoSimulatorShare/ });
});

test('a size preset is the world the dataset and the template simulator share (overrides change only what they name)', (t) => {
  for (const size of ['tiny', 'small'] as const) {
    const ds = makeDataset({ seed: 4, size });
    const world = makeWorld({ ...WORLD_SIZES[size], seed: 4 });
    t.deepEqual(ds.world.entities.map((e) => e.name), world.entities.map((e) => e.name), `${size}: same entities as makeWorld(WORLD_SIZES.${size})`);
    // The simulator built from the preset knows every training question's entity.
    const sim = new WorldSimulator(world, { seed: 4 }, makeCorpus(world, { seed: 4 }));
    for (const q of ds.train.slice(0, 10)) {
      const s = q.steps[0];
      const docs = sim.respond(simulatorPrompt({ query: s.query, mode: 'useful', question: q.question, goldenAnswers: [s.answer] }));
      t.true(docs.includes(s.answer), `${size}: useful documents for "${s.query}" carry "${s.answer}"`);
    }
  }
  const more = makeDataset({ seed: 4, size: 'tiny', world: { persons: 30 } });
  t.is(more.world.config.persons, 30);
  t.is(more.world.config.countries, WORLD_SIZES.tiny.countries!);
  t.throws(() => makeDataset({ seed: 4, size: 'tiny', world: { persons: 2 } }), { message: /persons/ });
});

test('simExtraPairs: extra simulator tuning pairs about demo-only worlds, none naming a main-world entity; the held-out pairs stay the world\'s own', (t) => {
  const base = makeDataset({ size: 'tiny', seed: 2 });
  const more = makeDataset({ size: 'tiny', seed: 2, simExtraPairs: 40 });
  t.deepEqual(more.simPairs.slice(0, base.simPairs.length), [...base.simPairs]);
  const extra = more.simPairs.slice(base.simPairs.length);
  t.is(extra.length, 40);
  t.true(extra.every((p) => p.split === 'train'));
  t.deepEqual(new Set(extra.map((p) => p.mode)), new Set(['useful', 'noisy']));
  const names = more.world.entities.flatMap((e) => [e.name, ...e.aliases.filter((a) => a.length > 3)]);
  t.false(extra.some((p) => names.some((n) => p.prompt.includes(n) || p.output.includes(n))));
  // Useful extra pairs carry their gold answer, like the world's own.
  t.true(extra.filter((p) => p.mode === 'useful').every((p) => p.goldenAnswers.some((g) => p.output.includes(g))));
  t.throws(() => makeDataset({ size: 'tiny', seed: 2, simExtraPairs: -1 }), { message: /simExtraPairs/ });
});
