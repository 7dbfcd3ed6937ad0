// Counterfactual augmentation of the simulator's tuning pairs: copies of a pair whose gold answer
// and queried entity are swapped for another pair's, everywhere in the pair at once. A tiny model
// tuned on the pairs alone learns each entity's documents by heart and writes them for a query it
// has not seen; in a swapped copy the answer and the entity can only be copied from the prompt.
import type { Rng } from '@cohort/engine/rng';
import type { SimPair } from './dataset.js';

/** What a swapped copy is (part of a tuned simulator's config hash): change it with the rules below. */
export const AUGMENT_KIND = 'answer+entity-by-relation/1';

/** A swapped copy of `pairs[source]`: each `[from, to]` replaced as a whole word throughout. */
export interface SwappedPair {
  readonly pair: SimPair;
  readonly source: number;
  readonly swaps: ReadonlyArray<readonly [string, string]>;
}

const words = (x: string) => x.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
const escapeRe = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const wordRe = (alts: readonly string[]) =>
  new RegExp(`(?<![\\p{L}\\p{N}])(${[...alts].sort((a, b) => b.length - a.length).map(escapeRe).join('|')})(?![\\p{L}\\p{N}])`, 'gu');

/**
 * A query of the form "<entity> <relation>": the entity is the longest run of at least two words
 * that starts the query and appears in the question too ("Tuget Foods founder", "What is the
 * profession of the founder of Tuget Foods?" → Tuget Foods / founder). Null when there is none.
 */
export function queryParts(query: string, question: string): { entity: string; relation: string } | null {
  const q = words(query);
  const inQuestion = ` ${words(question).join(' ')} `;
  for (let n = q.length - 1; n >= 2; n--) {
    const entity = q.slice(0, n).join(' ');
    if (inQuestion.includes(` ${entity} `)) return { entity, relation: q.slice(n).join(' ') };
  }
  return null;
}

/**
 * `copies` swapped copies of each pair (drawn from `rng`): its first gold answer becomes the
 * answer of another pair of the same relation (of the same shape, digits or words, when the
 * relation has fewer than three answers), and the queried entity (see `queryParts`) another
 * entity queried for that relation. Both are swapped as whole words in the question, query,
 * prompt and documents at once. A pair whose prompt does not hold its answer is not copied.
 */
export function answerSwaps(pairs: readonly SimPair[], copies: number, rng: Rng): SwappedPair[] {
  if (copies === 0) return [];
  const parts = pairs.map((p) => queryParts(p.query, p.question));
  const relationOf = (i: number) => parts[i]?.relation ?? '';
  const answers = new Map<string, Set<string>>();
  const entities = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(v);
  pairs.forEach((p, i) => {
    const a = p.goldenAnswers[0];
    if (a?.trim()) add(answers, relationOf(i), a);
    if (parts[i]) add(entities, relationOf(i), parts[i]!.entity);
  });
  const numeric = (x: string) => /^\d+$/.test(x);
  const allAnswers = [...new Set([...answers.values()].flatMap((s) => [...s]))];
  const clash = (x: string, y: string) => x === y || x.includes(y) || y.includes(x);
  const out: SwappedPair[] = [];
  pairs.forEach((p, i) => {
    const a = p.goldenAnswers[0];
    if (!a?.trim() || !wordRe([a]).test(p.prompt)) return;
    const rel = [...(answers.get(relationOf(i)) ?? [])];
    const answerPool = (rel.length >= 3 ? rel : allAnswers.filter((b) => numeric(b) === numeric(a))).filter((b) => !clash(a, b));
    if (answerPool.length === 0) return;
    const e = parts[i]?.entity;
    const entityPool = e && !clash(e, a) && wordRe([e]).test(p.prompt) ? [...(entities.get(relationOf(i)) ?? [])].filter((x) => !clash(x, e) && !clash(x, a)) : [];
    for (let k = 0; k < copies; k++) {
      const b = answerPool[rng.int(answerPool.length)];
      const swaps: Array<[string, string]> = [[a, b]];
      if (entityPool.length) {
        const e2 = entityPool[rng.int(entityPool.length)];
        if (!clash(e2, b)) swaps.push([e!, e2]);
      }
      const to = new Map(swaps);
      const re = wordRe(swaps.map(([x]) => x));
      const swap = (x: string) => x.replace(re, (m) => to.get(m)!);
      out.push({ pair: { ...p, question: swap(p.question), query: swap(p.query), goldenAnswers: [b], prompt: swap(p.prompt), output: swap(p.output) }, source: i, swaps });
    }
  });
  return out;
}
