import { Rng } from './prng.js';
import { QUERY_PATTERNS, SINGLE_HOP_QUESTIONS, TWO_HOP_SHAPES, fill } from './phrasing.js';
import { ATTRIBUTE_RELATIONS, type Fact, type Relation, type World } from './world.js';

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
  /** `test` questions are about held-out entities. */
  readonly split: 'train' | 'test';
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
  const out: QAItem[] = [];
  const push = (item: Omit<QAItem, 'id' | 'split'>) => out.push({ ...item, id: '', split: item.heldout ? 'test' : 'train' });
  for (const f of world.facts) {
    const subj = world.entity(f.subject);
    push({
      question: fill(rng.pick(SINGLE_HOP_QUESTIONS[f.relation]), { x: subj.name }),
      goldenAnswers: answersFor(world, f),
      heldout: subj.heldout,
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
        heldout: subj.heldout,
        hops: 2,
        shape: shape.id,
        subject: subj.id,
        steps: [hop(world, subj.id, shape.first), hop(world, mid, shape.second)],
      });
    }
  }
  return out;
}

/** Split sizes. */
export interface SplitOptions {
  readonly trainSize: number;
  readonly testSize: number;
  readonly seed?: number;
}

/**
 * Samples the train split (questions about non-held-out entities) and the test
 * split (questions about held-out entities), each shuffled under the seed, with
 * stable ids `train-N` / `test-N`.
 */
export function makeSplits(world: World, opts: SplitOptions): { train: QAItem[]; test: QAItem[] } {
  const rng = new Rng(opts.seed ?? world.config.seed).fork('splits');
  const all = allQuestions(world, opts.seed);
  const take = (split: 'train' | 'test', n: number) =>
    rng
      .shuffle(all.filter((q) => q.split === split))
      .slice(0, n)
      .map((q, i) => ({ ...q, id: `${split}-${i}` }));
  return { train: take('train', opts.trainSize), test: take('test', opts.testSize) };
}
