import { Rng } from '@cohort/engine/rng';
import { QUERY_PATTERNS, SINGLE_HOP_QUESTIONS, TWO_HOP_SHAPES, fill } from './phrasing.js';
import { ATTRIBUTE_RELATIONS, mostHeldOut, type Fact, type Relation, type Split, type World } from './world.js';

/** One search step of a question's reasoning chain. */
export interface HopStep {
  /** The query a demonstration issues for this hop. */
  readonly query: string;
  /** The fact the hop needs. */
  readonly fact: string;
  /** The hop's answer (display name). */
  readonly answer: string;
}

/** One question with its golden answers and the facts it needs. */
export interface QAItem {
  readonly id: string;
  readonly question: string;
  /** Accepted answers (the first is canonical). */
  readonly goldenAnswers: readonly string[];
  /**
   * The most held-out split of the facts the question needs (test over dev
   * over train): a train question touches only train entities, a dev one no
   * test entity.
   */
  readonly split: Split;
  /** True for dev and test questions. */
  readonly heldout: boolean;
  readonly hops: 1 | 2;
  /** The relation (single hop) or two-hop shape id. */
  readonly shape: string;
  /** The entity asked about. */
  readonly subject: string;
  readonly steps: readonly HopStep[];
}

/** Golden answers for the object of a fact: the entity name and its aliases, or the value. */
export function answersFor(world: World, f: Fact): string[] {
  if (ATTRIBUTE_RELATIONS.has(f.relation)) return [f.object];
  const e = world.entity(f.object);
  return [e.name, ...e.aliases];
}

function hop(world: World, subject: string, relation: Relation): HopStep {
  const f = world.fact(subject, relation);
  return { query: fill(QUERY_PATTERNS[relation], { x: world.entity(subject).name }), fact: f.id, answer: world.objectName(f) };
}

/** Every question the world can ask (single hop for each fact, two hop per shape). */
export function allQuestions(world: World, seed = world.config.seed): QAItem[] {
  const rng = new Rng(seed).fork('questions');
  const factIndex = factIndexer(world);
  const out: QAItem[] = [];
  const push = (item: Omit<QAItem, 'id' | 'split' | 'heldout'>) => {
    const split = mostHeldOut(item.steps.map((s) => world.facts[factIndex(s.fact)].split));
    out.push({ ...item, id: '', split, heldout: split !== 'train' });
  };
  for (const f of world.facts) {
    const subj = world.entity(f.subject);
    push({
      question: fill(rng.pick(SINGLE_HOP_QUESTIONS[f.relation]), { x: subj.name }),
      goldenAnswers: answersFor(world, f),
      hops: 1,
      shape: f.relation,
      subject: subj.id,
      steps: [hop(world, subj.id, f.relation)],
    });
  }
  for (const shape of TWO_HOP_SHAPES) {
    for (const subj of world.ofKind(shape.subjectKind)) {
      const first = world.fact(subj.id, shape.first);
      const mid = first.object;
      const second = world.fact(mid, shape.second);
      push({
        question: fill(rng.pick(shape.templates), { x: subj.name }),
        goldenAnswers: answersFor(world, second),
        hops: 2,
        shape: shape.id,
        subject: subj.id,
        steps: [hop(world, subj.id, shape.first), hop(world, mid, shape.second)],
      });
    }
  }
  return out;
}

/** Fact ids are `f<index>` (makeWorld); a world read from elsewhere is searched. */
function factIndexer(world: World): (id: string) => number {
  return (id) => {
    const i = Number(id.slice(1));
    if (world.facts[i]?.id === id) return i;
    const j = world.facts.findIndex((f) => f.id === id);
    if (j < 0) throw new Error(`unknown fact id "${id}"`);
    return j;
  };
}

/** Split sizes (each capped at the questions its split has). */
export interface SplitOptions {
  readonly trainSize: number;
  readonly devSize: number;
  readonly testSize: number;
  readonly seed?: number;
}

/** The three protocol splits, each sampled from its pool, with the pools' sizes. */
export interface Splits {
  readonly train: QAItem[];
  readonly dev: QAItem[];
  readonly test: QAItem[];
  /** Questions each split's pool holds (a split takes at most its pool). */
  readonly pool: Readonly<Record<Split, number>>;
}

/**
 * Samples the train, dev and test splits (questions about train, dev and
 * test entities: disjoint by construction), each shuffled under the seed,
 * with stable ids `train-N` / `dev-N` / `test-N`.
 */
export function makeSplits(world: World, opts: SplitOptions): Splits {
  const rng = new Rng(opts.seed ?? world.config.seed).fork('splits');
  const all = allQuestions(world, opts.seed);
  const pool = { train: 0, dev: 0, test: 0 };
  for (const q of all) pool[q.split]++;
  const take = (split: Split, n: number) =>
    rng
      .shuffle(all.filter((q) => q.split === split))
      .slice(0, n)
      .map((q, i) => ({ ...q, id: `${split}-${i}` }));
  return { train: take('train', opts.trainSize), test: take('test', opts.testSize), dev: take('dev', opts.devSize), pool };
}
