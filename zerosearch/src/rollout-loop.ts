import type { RolloutAction, RolloutState } from './rollout-state.js';
import type { SearchEngine, SearchRequest } from './search-engine.js';

/** What a rollout loop item is: a trajectory's state plus whatever the caller keeps with it. */
export interface RolloutItem {
  readonly state: RolloutState;
}

/**
 * How the loop generates and what it records. `generate` is the policy: one batched call for the
 * active items of a round, returning each item's text for its turn (a language model, or any
 * `TextGenerator` through its `context()`s).
 */
export interface RolloutDriver<T extends RolloutItem> {
  generate(active: readonly T[], round: number): Promise<readonly string[]>;
  /** After an item's state took its turn's text (e.g. record the policy's tokens). */
  onTurn?(item: T, action: RolloutAction): void;
  /** The search request an item sends (e.g. with a drawn simulator mode); default as the state made it. */
  request?(item: T, request: SearchRequest): SearchRequest;
  /** After an item's state observed its search result (e.g. tokenize the observation). */
  onObserve?(item: T): void;
}

/** Counters and wall times (seconds) of one loop run. */
export interface RolloutLoopStats {
  generateCalls: number;
  searchCalls: number;
  searches: number;
  generateSeconds: number;
  searchSeconds: number;
}

/**
 * The rollout loop: drives a batch of trajectories to the end. Each round generates for every
 * active trajectory in one batched call, then sends all pending searches in one batched engine
 * call; each search request carries its own trajectory's question and answers. The trainer's
 * rollouts (`runPolicyRollouts` in @cohort/actors) and evaluations run through it.
 */
export async function runRollouts<T extends RolloutItem>(items: readonly T[], engine: SearchEngine, driver: RolloutDriver<T>): Promise<RolloutLoopStats> {
  const stats: RolloutLoopStats = { generateCalls: 0, searchCalls: 0, searches: 0, generateSeconds: 0, searchSeconds: 0 };
  for (let round = 0; ; round++) {
    const active = items.filter((it) => !it.state.done);
    if (active.length === 0) return stats;
    const t0 = performance.now();
    const outs = await driver.generate(active, round);
    stats.generateSeconds += (performance.now() - t0) / 1000;
    stats.generateCalls++;
    const pending: { item: T; request: SearchRequest }[] = [];
    for (const [i, it] of active.entries()) {
      const action = it.state.step(outs[i] ?? '');
      driver.onTurn?.(it, action);
      if (action.kind === 'search') pending.push({ item: it, request: driver.request ? driver.request(it, action.request) : action.request });
    }
    if (pending.length) {
      const t1 = performance.now();
      const results = await engine.search(pending.map((p) => p.request));
      stats.searchSeconds += (performance.now() - t1) / 1000;
      stats.searchCalls++;
      stats.searches += pending.length;
      for (const [i, p] of pending.entries()) {
        p.item.state.observe(results[i]);
        driver.onObserve?.(p.item);
      }
    }
  }
}

/** Averages over finished trajectories: the metrics users expect from a rollout or an evaluation. */
export interface RolloutSummary {
  readonly trajectories: number;
  readonly em: number;
  readonly coverEm: number;
  readonly f1: number;
  /** Share of trajectories that gave an answer. */
  readonly answered: number;
  readonly meanSearches: number;
  readonly meanTurns: number;
  readonly meanInvalidActions: number;
}

/** Mean EM / cover-EM / F1 (no answer scores 0), answer rate, searches and turns per trajectory. */
export function summarizeRollouts(states: readonly RolloutState[]): RolloutSummary {
  const n = states.length;
  if (n === 0) throw new Error('summarizeRollouts: no trajectories');
  const sum = (f: (s: RolloutState) => number) => states.reduce((a, s) => a + f(s), 0) / n;
  const scores = states.map((s) => s.score());
  return {
    trajectories: n,
    em: scores.reduce((a, s) => a + s.em, 0) / n,
    coverEm: scores.reduce((a, s) => a + s.coverEm, 0) / n,
    f1: scores.reduce((a, s) => a + s.f1, 0) / n,
    answered: sum((s) => (s.answer === null ? 0 : 1)),
    meanSearches: sum((s) => s.searches),
    meanTurns: sum((s) => s.turns),
    meanInvalidActions: sum((s) => s.invalidActions),
  };
}
