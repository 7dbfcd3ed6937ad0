import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CorpusSearchEngine } from './corpus-engine.js';
import { makeCorpus, type Doc } from './corpus.js';
import { writeQAParquet, type QARow } from './parquet.js';
import { FACT_SENTENCES, fill } from './phrasing.js';
import { Rng } from '@cohort/engine/rng';
import { allQuestions, makeSplits, type QAItem } from './questions.js';
import { RolloutState, type Segment } from './rollout-state.js';
import { processSimulatorOutput, simulatorPrompt } from './simulator-prompt.js';
import { policyInstruction } from './template.js';
import { WorldSimulator } from './world-simulator.js';
import { WORLD_SIZES, World, WorldOverridesSchema, makeWorld, type Entity, type Fact, type Split } from './world.js';

/** Dataset sizes per preset (questions and simulator pairs). */
export const DATASET_SIZES: Record<string, { trainSize: number; devSize: number; testSize: number; simPairs: number }> = {
  tiny: { trainSize: 80, devSize: 40, testSize: 40, simPairs: 120 },
  small: { trainSize: 240, devSize: 80, testSize: 80, simPairs: 300 },
  default: { trainSize: 400, devSize: 100, testSize: 100, simPairs: 600 },
  large: { trainSize: 2000, devSize: 300, testSize: 300, simPairs: 3000 },
};

/** Dataset options (`size` picks the presets; explicit fields override them). */
export const DatasetConfigSchema = z
  .object({
    seed: z.number().int().nonnegative().default(7),
    size: z.string().default('default'),
    world: WorldOverridesSchema.default({}),
    /** Questions per split, each capped at its pool (the questions about that split's entities). */
    trainSize: z.number().int().positive().optional(),
    devSize: z.number().int().positive().optional(),
    testSize: z.number().int().positive().optional(),
    simPairs: z.number().int().nonnegative().optional(),
    docsPerEntity: z.number().int().min(1).max(10).default(3),
    /** Share of simulator pairs (by question) kept for the fidelity check. */
    simEvalFraction: z.number().min(0).max(0.9).default(0.15),
    /**
     * Extra simulator tuning pairs (split "train") about demo-only worlds: fresh entities whose
     * facts appear nowhere else, so the simulator must copy the entity from the query and the
     * answer from the prompt instead of recalling what it memorised about the world's entities.
     * Pairs naming any main-world entity are dropped; the held-out pairs stay the world's own.
     */
    simExtraPairs: z.number().int().nonnegative().max(100000).default(0),
    /** Documents shown per search in demonstrations (match the rollout's topk). */
    demoTopk: z.number().int().min(1).max(10).default(5),
    /**
     * Extra demonstrations about demo-only worlds: fresh entities with fresh
     * names whose facts appear nowhere else, so the policy must copy names
     * from the question and answers from the <information> block instead of
     * memorising. Demos naming any main-world entity are dropped.
     */
    extraDemos: z.number().int().nonnegative().max(200000).default(0),
    /**
     * Share of the extra demonstrations whose <information> blocks are the
     * world simulator's useful documents instead of the corpus engine's: a
     * policy warm-started on both reads the simulator's phrasing during RL
     * as well as the corpus's during evaluation.
     */
    demoSimulatorShare: z.number().min(0).max(1).default(0),
  })
  .strict()
  .refine((c) => c.size in DATASET_SIZES, { message: `size must be one of ${Object.keys(DATASET_SIZES).join(', ')}` });
export type DatasetConfig = z.input<typeof DatasetConfigSchema>;

/** One (question, answer, query, mode) → documents tuning pair for the simulator. */
export interface SimPair {
  readonly question: string;
  readonly goldenAnswers: readonly string[];
  readonly query: string;
  readonly mode: 'useful' | 'noisy';
  /** The SFT-shaped prompt and the target documents. */
  readonly prompt: string;
  readonly output: string;
  /** `eval` pairs are held out of tuning for the fidelity check. */
  readonly split: 'train' | 'eval';
}

/** A supervised warm-start trajectory in the template. */
export interface Demonstration {
  readonly id: string;
  readonly question: string;
  readonly goldenAnswers: readonly string[];
  readonly prompt: string;
  readonly response: string;
  readonly segments: readonly Segment[];
  /** True when every observation held the hop's answer. */
  readonly grounded: boolean;
}

/** Everything `cohort data make` produces. */
export interface Dataset {
  readonly config: z.output<typeof DatasetConfigSchema>;
  readonly world: World;
  readonly corpus: readonly Doc[];
  /** Questions about train entities: warm start, simulator tuning, RL. */
  readonly train: readonly QAItem[];
  /** Questions about dev entities: every choice of settings, the EM curve during RL. */
  readonly dev: readonly QAItem[];
  /** Questions about test entities: reported once, at the end. */
  readonly test: readonly QAItem[];
  /** Questions each split's pool holds (`train`, `dev`, `test` take at most these). */
  readonly pool: Readonly<Record<Split, number>>;
  /** Simulator tuning pairs, from train questions only. */
  readonly simPairs: readonly SimPair[];
  readonly demos: readonly Demonstration[];
  /** Documents of the LM warm-start corpus (none states a held-out fact). */
  readonly warmCorpus: readonly Doc[];
  /** Every fact stated anywhere in warm-start data (warm corpus and demonstrations). */
  readonly warmFacts: readonly Fact[];
}

/** The Search-R1-schema row for a question. */
export function toQARow(q: QAItem, index: number): QARow {
  return {
    id: q.id,
    question: q.question,
    golden_answers: [...q.goldenAnswers],
    data_source: `cohort_world_${q.hops === 1 ? 'single' : 'multi'}hop`,
    prompt: [{ role: 'user', content: policyInstruction(q.question) }],
    ability: 'fact-reasoning',
    reward_model: { style: 'rule', ground_truth: { target: [...q.goldenAnswers] } },
    extra_info: { split: q.split, index, heldout: q.heldout, hops: q.hops },
  };
}

// Queries and answers are written with a space inside the tags ("<search> Liko Roli birthplace
// </search>", as the instruction's "<answer> Paris </answer>"): a byte-level BPE tokenizes " Liko"
// and "Liko" differently, so without the space the copied name would be a different token
// sequence from the one in the question or the documents, and a small policy must learn that
// mapping per name instead of copying.
function demonstration(q: QAItem, engine: CorpusSearchEngine, world: World, topk: number, simulator?: WorldSimulator): Demonstration {
  const state = new RolloutState({ id: q.id, question: q.question, goldenAnswers: q.goldenAnswers }, { maxTurns: 5 });
  let grounded = true;
  let prev = '';
  for (const [i, s] of q.steps.entries()) {
    const need = i === 0 ? '' : `${prev} Now I need to look up ${s.query}. `;
    const a = state.step(`<think>${need || `I need to look up ${s.query}. `}</think>\n<search> ${s.query} </search>`);
    if (a.kind !== 'search') throw new Error(`demonstration for ${q.id} did not parse as a search`);
    let docs: string[];
    if (simulator) {
      // The hop's own answer is what a useful document must carry (as in the simulator tuning pairs).
      const golds = i === q.steps.length - 1 ? q.goldenAnswers : [s.answer];
      docs = processSimulatorOutput(simulator.respond(simulatorPrompt({ query: s.query, mode: 'useful', question: q.question, goldenAnswers: golds }))).docs.slice(0, topk);
      if (!docs.some((d) => d.includes(s.answer))) grounded = false;
    } else {
      const hits = engine.retrieve(s.query, topk);
      if (!hits.some((d) => d.facts.includes(s.fact))) grounded = false;
      docs = hits.map((d) => d.text);
    }
    state.observe({ query: s.query, docs, text: docs.map((d, k) => `Doc ${k + 1}: ${d}`).join('\n'), engine: simulator ? 'simulator' : 'corpus' });
    const f = world.facts.find((x) => x.id === s.fact)!;
    prev = fill(FACT_SENTENCES[f.relation][0], { s: world.entity(f.subject).name, o: s.answer });
  }
  const a = state.step(`<think>${prev}</think>\n<answer> ${q.goldenAnswers[0]} </answer>`);
  if (a.kind !== 'answer') throw new Error(`demonstration for ${q.id} did not end with an answer`);
  return { id: q.id, question: q.question, goldenAnswers: q.goldenAnswers, prompt: state.prompt, response: state.responseText(), segments: state.segments, grounded };
}

/** Builds the world, its corpus, the QA splits, simulator pairs and demonstrations, deterministically from the seed. */
export function makeDataset(config: DatasetConfig = {}): Dataset {
  const parsed = DatasetConfigSchema.safeParse(config);
  if (!parsed.success) throw new Error(`bad dataset config: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')}`);
  const cfg = parsed.data;
  const preset = DATASET_SIZES[cfg.size];
  const world = makeWorld({ ...(WORLD_SIZES[cfg.size] ?? {}), ...cfg.world, seed: cfg.world.seed ?? cfg.seed });
  const corpus = makeCorpus(world, { docsPerEntity: cfg.docsPerEntity, seed: cfg.seed });
  const { train, dev, test, pool } = makeSplits(world, {
    trainSize: cfg.trainSize ?? preset.trainSize,
    devSize: cfg.devSize ?? preset.devSize,
    testSize: cfg.testSize ?? preset.testSize,
    seed: cfg.seed,
  });
  const warmCorpus = corpus.filter((d) => !d.heldout);
  const warmEngine = new CorpusSearchEngine(warmCorpus);
  const demos = train.map((q) => demonstration(q, warmEngine, world, cfg.demoTopk));
  demos.push(...extraDemonstrations(world, cfg));

  // Simulator tuning pairs from train questions only: the simulator, like the tokenizer and the
  // warm start, never sees a dev or test entity (the paper tunes its simulator on training data).
  const rng = new Rng(cfg.seed).fork('sim-pairs');
  const sim = new WorldSimulator(world.trainView(), { seed: cfg.seed }, warmCorpus);
  const questions = rng.shuffle([...train]);
  // Every k-th question's pairs are held out of tuning for the fidelity check, so any prefix of
  // the pairs has both.
  const every = cfg.simEvalFraction > 0 ? Math.max(2, Math.round(1 / cfg.simEvalFraction)) : 0;
  const simPairs: SimPair[] = [];
  const target = cfg.simPairs ?? preset.simPairs;
  outer: for (const [qi, q] of questions.entries()) {
    for (const s of q.steps) {
      // The hop's own answer is what a useful document must carry.
      const golds = s === q.steps[q.steps.length - 1] ? q.goldenAnswers : [s.answer];
      for (const mode of ['useful', 'noisy'] as const) {
        if (simPairs.length >= target) break outer;
        const prompt = simulatorPrompt({ query: s.query, mode, question: q.question, goldenAnswers: golds });
        simPairs.push({ question: q.question, goldenAnswers: golds, query: s.query, mode, prompt, output: sim.respond(prompt), split: every && qi % every === every - 1 ? 'eval' : 'train' });
      }
    }
  }

  simPairs.push(...extraSimPairs(world, cfg));

  const warmFactIds = new Set<string>();
  for (const d of warmCorpus) d.facts.forEach((f) => warmFactIds.add(f));
  for (const q of train) q.steps.forEach((s) => warmFactIds.add(s.fact));
  const warmFacts = world.facts.filter((f) => warmFactIds.has(f.id));
  return { config: cfg, world, corpus, train, dev, test, pool, simPairs, demos, warmCorpus, warmFacts };
}

/** Simulator tuning pairs over demo-only worlds (seeds forked from the dataset seed), none naming an entity of `world`. */
function extraSimPairs(world: World, cfg: z.output<typeof DatasetConfigSchema>): SimPair[] {
  const out: SimPair[] = [];
  if (cfg.simExtraPairs === 0) return out;
  const names = world.entities.flatMap((e) => [e.name, ...e.aliases.filter((a) => a.length > 3)]);
  const sizes = WORLD_SIZES[cfg.size] ?? {};
  const seeds = new Rng(cfg.seed).fork('sim-pair-worlds');
  for (let round = 0; out.length < cfg.simExtraPairs && round < 1000; round++) {
    const w = makeWorld({ ...sizes, heldoutFraction: 0.05, seed: seeds.int(2 ** 30) });
    const sim = new WorldSimulator(w, { seed: cfg.seed + round }, makeCorpus(w, { docsPerEntity: cfg.docsPerEntity, seed: cfg.seed + round + 1 }));
    for (const q of new Rng(cfg.seed + round).fork('sim-pair-questions').shuffle(allQuestions(w))) {
      for (const s of q.steps) {
        const golds = s === q.steps[q.steps.length - 1] ? q.goldenAnswers : [s.answer];
        for (const mode of ['useful', 'noisy'] as const) {
          if (out.length >= cfg.simExtraPairs) return out;
          const prompt = simulatorPrompt({ query: s.query, mode, question: q.question, goldenAnswers: golds });
          const output = sim.respond(prompt);
          if (names.some((n) => prompt.includes(n) || output.includes(n))) continue;
          out.push({ question: q.question, goldenAnswers: golds, query: s.query, mode, prompt, output, split: 'train' });
        }
      }
    }
  }
  return out;
}

/**
 * Demonstrations over demo-only worlds (seeds forked from the dataset seed),
 * none naming an entity of `world`, with ids `demo-N`.
 */
function extraDemonstrations(world: World, cfg: z.output<typeof DatasetConfigSchema>): Demonstration[] {
  const out: Demonstration[] = [];
  if (cfg.extraDemos === 0) return out;
  const names = world.entities.flatMap((e) => [e.name, ...e.aliases.filter((a) => a.length > 3)]);
  const sizes = WORLD_SIZES[cfg.size] ?? {};
  const seeds = new Rng(cfg.seed).fork('demo-worlds');
  const pickSim = new Rng(cfg.seed).fork('demo-simulator');
  for (let round = 0; out.length < cfg.extraDemos && round < 1000; round++) {
    const w = makeWorld({ ...sizes, heldoutFraction: 0.05, seed: seeds.int(2 ** 30) });
    const docs = makeCorpus(w, { docsPerEntity: cfg.docsPerEntity, seed: cfg.seed + round + 1 });
    const engine = new CorpusSearchEngine(docs);
    const simulator = cfg.demoSimulatorShare > 0 ? new WorldSimulator(w, { seed: cfg.seed + round }, docs) : undefined;
    const qs = new Rng(cfg.seed + round).fork('demo-questions').shuffle(allQuestions(w));
    for (const q of qs) {
      if (out.length >= cfg.extraDemos) break;
      const fromSimulator = simulator && pickSim.next() < cfg.demoSimulatorShare ? simulator : undefined;
      const d = demonstration({ ...q, id: `demo-${out.length}` }, engine, w, cfg.demoTopk, fromSimulator);
      const text = d.prompt + d.response;
      if (names.some((n) => text.includes(n))) continue;
      out.push(d);
    }
  }
  return out;
}

const jsonl = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Files `writeDataset` creates, relative to its directory. */
export const DATASET_FILES = {
  manifest: 'manifest.json',
  world: 'world.json',
  corpus: 'corpus.jsonl',
  trainParquet: 'train.parquet',
  devParquet: 'dev.parquet',
  testParquet: 'test.parquet',
  trainJsonl: 'train.jsonl',
  devJsonl: 'dev.jsonl',
  testJsonl: 'test.jsonl',
  simPairs: 'sim_pairs.jsonl',
  demos: 'demos.jsonl',
  warmCorpus: 'warmstart_corpus.txt',
  warmFacts: 'warmstart_facts.jsonl',
} as const;

/** Writes a dataset to a directory (parquet + JSONL); returns the manifest. */
export async function writeDataset(dir: string, ds: Dataset): Promise<Record<string, unknown>> {
  await mkdir(dir, { recursive: true });
  const F = DATASET_FILES;
  for (const [rows, parquet, lines] of [
    [ds.train.map(toQARow), F.trainParquet, F.trainJsonl],
    [ds.dev.map(toQARow), F.devParquet, F.devJsonl],
    [ds.test.map(toQARow), F.testParquet, F.testJsonl],
  ] as const) {
    await writeQAParquet(join(dir, parquet), rows);
    await writeFile(join(dir, lines), jsonl(rows));
  }
  await writeFile(join(dir, F.world), JSON.stringify({ config: ds.world.config, entities: ds.world.entities, facts: ds.world.facts }, null, 1));
  await writeFile(join(dir, F.corpus), jsonl(ds.corpus));
  await writeFile(join(dir, F.simPairs), jsonl(ds.simPairs));
  await writeFile(join(dir, F.demos), jsonl(ds.demos));
  await writeFile(join(dir, F.warmCorpus), ds.warmCorpus.map((d) => d.text).join('\n') + '\n');
  await writeFile(join(dir, F.warmFacts), jsonl(ds.warmFacts));
  const manifest = {
    format: 'cohort-zerosearch-world/2',
    config: ds.config,
    counts: {
      entities: ds.world.entities.length,
      heldoutEntities: ds.world.entities.filter((e) => e.heldout).length,
      devEntities: ds.world.entities.filter((e) => e.split === 'dev').length,
      testEntities: ds.world.entities.filter((e) => e.split === 'test').length,
      facts: ds.world.facts.length,
      documents: ds.corpus.length,
      train: ds.train.length,
      dev: ds.dev.length,
      test: ds.test.length,
      pool: ds.pool,
      simPairs: ds.simPairs.length,
      demos: ds.demos.length,
      groundedDemos: ds.demos.filter((d) => d.grounded).length,
      warmCorpusDocs: ds.warmCorpus.length,
      warmFacts: ds.warmFacts.length,
    },
    files: F,
  };
  await writeFile(join(dir, F.manifest), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads a JSONL file written by `writeDataset`. */
export async function readJsonl<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch((e: Error) => {
    throw new Error(`${path}: cannot read (${e.message}); run \`cohort data make\` first`);
  });
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as T;
      } catch {
        throw new Error(`${path}: line ${i + 1} is not JSON`);
      }
    });
}

/** Loads the corpus documents of a dataset directory. */
export async function loadCorpus(dir: string): Promise<Doc[]> {
  return readJsonl<Doc>(join(dir, DATASET_FILES.corpus));
}

/** Rebuilds the World of a dataset directory from `world.json`. */
export async function loadWorld(dir: string): Promise<World> {
  const path = join(dir, DATASET_FILES.world);
  const text = await readFile(path, 'utf8').catch((e: Error) => {
    throw new Error(`${path}: cannot read (${e.message}); run \`cohort data make --out ${dir}\` first`);
  });
  const w = JSON.parse(text) as { config: World['config']; entities: Array<Entity & { split?: Split }>; facts: Array<Fact & { split?: Split }> };
  // Worlds written before the dev split: every held-out entity was a test one.
  const split = (x: { heldout: boolean; split?: Split }): Split => x.split ?? (x.heldout ? 'test' : 'train');
  return new World(
    w.config,
    w.entities.map((e) => ({ ...e, split: split(e) })),
    w.facts.map((f) => ({ ...f, split: split(f) })),
  );
}
