// Counterfactual augmentation of the simulator's tuning pairs: copies of a pair whose gold answer
// and queried entity are swapped, everywhere in the pair at once, for another pair's or for names
// made afresh. A tiny model tuned on the pairs alone learns each entity's documents by heart and
// writes them for a query it has not seen; in a swapped copy the answer and the entity can only be
// copied from the prompt, and a freshly named one cannot even be recalled as a near neighbour.
import type { Rng } from '@cohort/engine/rng';
import type { SimPair } from './dataset.js';
import { lookalikeWord } from './world.js';

/** What a swapped copy is (part of a tuned simulator's config hash): change it with the rules below. */
export const AUGMENT_KIND = 'answer+entity-by-relation/1';
/** What a swapped copy is with `freshNames` (`answerSwaps`). */
export const AUGMENT_KIND_FRESH = 'answer+entity-by-relation+fresh-names/2';

/** A swapped copy of `pairs[source]`: each `[from, to]` replaced as a whole word throughout. */
export interface SwappedPair {
  readonly pair: SimPair;
  readonly source: number;
  readonly swaps: ReadonlyArray<readonly [string, string]>;
  /** Whether the names were made afresh (`lookalikeWord`) rather than taken from other pairs. */
  readonly fresh: boolean;
}

const words = (x: string) => x.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
const escapeRe = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const wordRe = (alts: readonly string[]) =>
  new RegExp(`(?<![\\p{L}\\p{N}])(${[...alts].sort((a, b) => b.length - a.length).map(escapeRe).join('|')})(?![\\p{L}\\p{N}])`, 'gu');

/**
 * A query of the form "<entity> <relation>": the entity is the longest run of at least two words
 * that starts the query and appears in the question too ("Tuget Foods founder", "What is the
 * profession of the founder of Tuget Foods?" → Tuget Foods / founder); failing that (a second hop's
 * query names the bridge entity, not the question's), the capitalised words that start the query
 * ("Rogdale country" → Rogdale / country), unless `strict`. Null when neither leaves a relation.
 */
export function queryParts(query: string, question: string, strict = false): { entity: string; relation: string } | null {
  const q = words(query);
  const inQuestion = ` ${words(question).join(' ')} `;
  for (let n = q.length - 1; n >= 2; n--) {
    const entity = q.slice(0, n).join(' ');
    if (inQuestion.includes(` ${entity} `)) return { entity, relation: q.slice(n).join(' ') };
  }
  if (strict) return null;
  const n = q.findIndex((w) => !/^\p{Lu}/u.test(w));
  return n >= 1 ? { entity: q.slice(0, n).join(' '), relation: q.slice(n).join(' ') } : null;
}

/**
 * `copies` swapped copies of each pair (drawn from `rng`). A copy takes another pair's names: its
 * first gold answer becomes the answer of another pair of the same relation (of the same shape,
 * digits or words, when the relation has fewer than three answers), and the queried entity (see
 * `queryParts`, strict) another entity queried for that relation. With `freshNames`, entities
 * come from the loose `queryParts` (a second hop's and a city query's too) and every copy but the
 * first renames afresh: each name-word of the entity and of the gold answers becomes a `lookalikeWord` that is
 * no pair's answer or queried entity; an answer without name-words (a profession, an industry) is
 * swapped within its relation as above. Swaps apply as whole words to the question, query,
 * prompt, documents and answers at once. A pair whose prompt does not hold its answer is not
 * copied.
 */
export function answerSwaps(pairs: readonly SimPair[], copies: number, rng: Rng, opts: { freshNames?: boolean } = {}): SwappedPair[] {
  if (copies === 0) return [];
  const parts = pairs.map((p) => queryParts(p.query, p.question, !opts.freshNames));
  const relationOf = (i: number) => parts[i]?.relation ?? '';
  const answers = new Map<string, Set<string>>();
  const entities = new Map<string, Set<string>>();
  const known = new Set<string>();
  const add = (m: Map<string, Set<string>>, k: string, v: string) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(v);
  pairs.forEach((p, i) => {
    const a = p.goldenAnswers[0];
    if (a?.trim()) add(answers, relationOf(i), a);
    if (parts[i]) add(entities, relationOf(i), parts[i]!.entity);
    if (opts.freshNames) for (const x of [...p.goldenAnswers, parts[i]?.entity ?? '']) for (const w of words(x)) known.add(w.toLowerCase());
  });
  const numeric = (x: string) => /^\d+$/.test(x);
  const allAnswers = [...new Set([...answers.values()].flatMap((s) => [...s]))];
  const clash = (x: string, y: string) => x === y || x.includes(y) || y.includes(x);
  /** A fresh name-word for `w`: of no pair's answer or entity, not yet used by this copy; or null. */
  const freshWord = (w: string, taken: Set<string>): string | null => {
    for (let tries = 0; tries < 20; tries++) {
      const x = lookalikeWord(w, rng);
      if (x === null) return null;
      if (x !== w && !known.has(x.toLowerCase()) && !taken.has(x)) return taken.add(x), x;
    }
    return null;
  };
  const out: SwappedPair[] = [];
  pairs.forEach((p, i) => {
    const a = p.goldenAnswers[0];
    if (!a?.trim() || !wordRe([a]).test(p.prompt)) return;
    const rel = [...(answers.get(relationOf(i)) ?? [])];
    const answerPool = (rel.length >= 3 ? rel : allAnswers.filter((b) => numeric(b) === numeric(a))).filter((b) => !clash(a, b));
    const e = parts[i]?.entity;
    const entityOk = !!e && !clash(e, a) && wordRe([e]).test(p.prompt);
    const entityPool = entityOk ? [...(entities.get(relationOf(i)) ?? [])].filter((x) => !clash(x, e!) && !clash(x, a)) : [];
    for (let k = 0; k < copies; k++) {
      const swaps: Array<[string, string]> = [];
      const fresh = !!opts.freshNames && k > 0;
      if (fresh) {
        const taken = new Set<string>();
        const answerWords = new Set(p.goldenAnswers.flatMap(words));
        for (const w of [...answerWords, ...(entityOk ? words(e!) : [])]) {
          if (swaps.some(([x]) => x === w)) continue;
          const x = freshWord(w, taken);
          if (x) swaps.push([w, x]);
        }
        if (!swaps.some(([x]) => answerWords.has(x))) {
          if (answerPool.length === 0) continue;
          swaps.unshift([a, answerPool[rng.int(answerPool.length)]]);
        }
      } else {
        if (answerPool.length === 0) continue;
        const b = answerPool[rng.int(answerPool.length)];
        swaps.push([a, b]);
        if (entityPool.length) {
          const e2 = entityPool[rng.int(entityPool.length)];
          if (!clash(e2, b)) swaps.push([e!, e2]);
        }
      }
      const to = new Map(swaps);
      const re = wordRe(swaps.map(([x]) => x));
      const swap = (x: string) => x.replace(re, (m) => to.get(m)!);
      const goldenAnswers = fresh ? p.goldenAnswers.map(swap) : [swaps[0][1]];
      out.push({ pair: { ...p, question: swap(p.question), query: swap(p.query), goldenAnswers, prompt: swap(p.prompt), output: swap(p.output) }, source: i, swaps, fresh });
    }
  });
  return out;
}
