import type { SimPair } from './dataset.js';
import { coverExactMatch } from './rewards.js';
import type { SearchEngine, SearchRequest } from './search-engine.js';
import { simulatorFormatOk } from './simulator-prompt.js';

/**
 * The paper's simulator fidelity check on held-out pairs, for any search
 * engine (the learned simulator, the template one, or BM25 on the same
 * queries). Rates are shares of searches.
 */
export interface FidelityReport {
  readonly engine: string;
  readonly pairs: number;
  readonly useful_pairs: number;
  readonly noisy_pairs: number;
  /** Useful-mode searches whose documents contain a gold answer (an engine without modes: every search). */
  readonly useful_answer_rate: number;
  /** Noisy-mode searches whose documents contain a gold answer (lower is better). */
  readonly noisy_answer_rate: number;
  /** Searches whose documents name the entity the query names (over searches whose query names one). */
  readonly entity_rate: number;
  /** Searches answered with exactly the requested documents, `Doc 1:` … `Doc N:` in order, none empty. */
  readonly format_ok_rate: number;
  readonly mean_docs: number;
  /** Searches per second through `engine.search` in batches of `batch`. */
  readonly searches_per_s: number;
  readonly seconds: number;
}

/** Options of `fidelityCheck`. */
export interface FidelityOptions {
  /** Requests per `search` call (default 16, the simulator batcher's default max batch). */
  readonly batch?: number;
  /** Documents a result must hold to count as well formed (default 5). */
  readonly docs?: number;
  /** Names (name and aliases) of the entity a query names, or null when it names none; without it entity_rate is 0. */
  readonly entityNames?: (query: string) => readonly string[] | null;
}

/**
 * Sends each pair's query (with its question, answers and mode) to the engine
 * in batches and counts how often the documents carry the gold answer (useful
 * vs noisy), name the queried entity, and come in the requested format.
 */
export async function fidelityCheck(engine: SearchEngine, pairs: readonly SimPair[], opts: FidelityOptions = {}): Promise<FidelityReport> {
  if (pairs.length === 0) throw new Error('fidelity check needs at least one held-out simulator pair');
  const batch = opts.batch ?? 16;
  const want = opts.docs ?? 5;
  const n = { useful: 0, noisy: 0 };
  const hit = { useful: 0, noisy: 0 };
  let entityN = 0;
  let entityHit = 0;
  let formatOk = 0;
  let docs = 0;
  let busyMs = 0;
  for (let i = 0; i < pairs.length; i += batch) {
    const chunk = pairs.slice(i, i + batch);
    const requests: SearchRequest[] = chunk.map((p) => ({ query: p.query, question: p.question, goldenAnswers: p.goldenAnswers, mode: p.mode }));
    const t0 = performance.now();
    const results = await engine.search(requests);
    busyMs += performance.now() - t0;
    chunk.forEach((p, j) => {
      const r = results[j];
      docs += r.docs.length;
      if (simulatorFormatOk(r.text, want)) formatOk++;
      n[p.mode]++;
      hit[p.mode] += coverExactMatch(r.docs.join('\n'), p.goldenAnswers);
      const names = opts.entityNames?.(p.query);
      if (names?.length) {
        entityN++;
        const text = r.docs.join('\n').toLowerCase();
        if (names.some((nm) => text.includes(nm.toLowerCase()))) entityHit++;
      }
    });
  }
  const rate = (a: number, b: number) => (b ? a / b : 0);
  return {
    engine: engine.name,
    pairs: pairs.length,
    useful_pairs: n.useful,
    noisy_pairs: n.noisy,
    useful_answer_rate: rate(hit.useful, n.useful),
    noisy_answer_rate: rate(hit.noisy, n.noisy),
    entity_rate: rate(entityHit, entityN),
    format_ok_rate: rate(formatOk, pairs.length),
    mean_docs: docs / pairs.length,
    searches_per_s: busyMs > 0 ? pairs.length / (busyMs / 1000) : 0,
    seconds: busyMs / 1000,
  };
}

/** The fidelity targets of the learned simulator (issue 12): metric → [comparison, bound]. */
export const FIDELITY_TARGETS = {
  useful_answer_rate: ['>=', 0.8],
  noisy_answer_rate: ['<=', 0.1],
  entity_rate: ['>=', 0.9],
  format_ok_rate: ['>=', 0.99],
} as const satisfies Record<string, readonly ['>=' | '<=', number]>;

/** The simulator's fidelity beside the real engine's on the same held-out queries. */
export interface SimulatorEvalReport {
  readonly pairs: number;
  readonly useful_pairs: number;
  readonly noisy_pairs: number;
  readonly useful_answer_rate: number;
  readonly noisy_answer_rate: number;
  readonly entity_rate: number;
  readonly format_ok_rate: number;
  readonly mean_docs: number;
  readonly searches_per_s: number;
  /** The real engine's top-k on the useful pairs' queries: share holding a gold answer. */
  readonly bm25_answer_rate: number;
  readonly bm25_entity_rate: number;
  readonly bm25_searches_per_s: number;
  /** Whether each target of FIDELITY_TARGETS is met. */
  readonly targets_met: Record<keyof typeof FIDELITY_TARGETS, boolean>;
}

/**
 * `cohort sim eval`'s report: `fidelityCheck` of the simulator on the pairs
 * (useful and noisy), and of the real engine on the useful pairs' queries.
 * `measured`: the simulator's check when it was already run on these pairs (the tuner's).
 */
export async function simulatorEval(simulator: SearchEngine | FidelityReport, real: SearchEngine, pairs: readonly SimPair[], opts: FidelityOptions = {}): Promise<SimulatorEvalReport> {
  const sim = 'search' in simulator ? await fidelityCheck(simulator, pairs, opts) : simulator;
  if (sim.pairs !== pairs.length) throw new Error(`the simulator's fidelity report covers ${sim.pairs} pairs, not the ${pairs.length} given`);
  const useful = pairs.filter((p) => p.mode === 'useful');
  const bm25 = useful.length ? await fidelityCheck(real, useful, opts) : null;
  const met = Object.fromEntries(
    Object.entries(FIDELITY_TARGETS).map(([k, [cmp, bound]]) => {
      const v = sim[k as keyof typeof FIDELITY_TARGETS];
      return [k, cmp === '>=' ? v >= bound : v <= bound];
    }),
  ) as SimulatorEvalReport['targets_met'];
  return {
    pairs: sim.pairs,
    useful_pairs: sim.useful_pairs,
    noisy_pairs: sim.noisy_pairs,
    useful_answer_rate: sim.useful_answer_rate,
    noisy_answer_rate: sim.noisy_answer_rate,
    entity_rate: sim.entity_rate,
    format_ok_rate: sim.format_ok_rate,
    mean_docs: sim.mean_docs,
    searches_per_s: sim.searches_per_s,
    bm25_answer_rate: bm25?.useful_answer_rate ?? 0,
    bm25_entity_rate: bm25?.entity_rate ?? 0,
    bm25_searches_per_s: bm25?.searches_per_s ?? 0,
    targets_met: met,
  };
}
