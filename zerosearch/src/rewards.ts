/**
 * Answer normalisation and scores: token F1 (training reward), exact match and
 * cover exact match (evaluation). A missing answer scores 0 everywhere.
 */

/** Lowercase, strip punctuation, drop the articles a/an/the, collapse whitespace. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function tokenF1(pred: string, gold: string): number {
  const p = normalizeAnswer(pred);
  const g = normalizeAnswer(gold);
  const special = ['yes', 'no', 'noanswer'];
  if ((special.includes(p) || special.includes(g)) && p !== g) return 0;
  const pt = p ? p.split(' ') : [];
  const gt = g ? g.split(' ') : [];
  if (pt.length === 0 || gt.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of gt) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of pt) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / pt.length;
  const recall = common / gt.length;
  return (2 * precision * recall) / (precision + recall);
}

function checkGolds(golds: readonly string[]): void {
  if (!Array.isArray(golds) || golds.length === 0) throw new Error('golden answers must be a non-empty list of strings');
}

/** Token-level F1 after normalisation, max over the golden answers; 0 for no answer. */
export function f1Score(answer: string | null | undefined, golds: readonly string[]): number {
  checkGolds(golds);
  if (answer == null) return 0;
  return Math.max(...golds.map((g) => tokenF1(answer, g)));
}

/** True exact match after normalisation (1 or 0); 0 for no answer. */
export function exactMatch(answer: string | null | undefined, golds: readonly string[]): number {
  checkGolds(golds);
  if (answer == null) return 0;
  const p = normalizeAnswer(answer);
  return golds.some((g) => normalizeAnswer(g) === p && p !== '') ? 1 : 0;
}

/** Cover match (what the reference calls EM): a normalised gold is a substring of the normalised answer. */
export function coverExactMatch(answer: string | null | undefined, golds: readonly string[]): number {
  checkGolds(golds);
  if (answer == null) return 0;
  const p = normalizeAnswer(answer);
  return golds.some((g) => {
    const n = normalizeAnswer(g);
    return n !== '' && p.includes(n);
  })
    ? 1
    : 0;
}

/** All three scores of one answer. */
export interface AnswerScores {
  readonly f1: number;
  readonly em: number;
  readonly coverEm: number;
}

/** Scores one extracted answer (null when the response held none). */
export function scoreAnswer(answer: string | null | undefined, golds: readonly string[]): AnswerScores {
  return { f1: f1Score(answer, golds), em: exactMatch(answer, golds), coverEm: coverExactMatch(answer, golds) };
}
