import { RolloutState } from './rollout-state.js';
import type { SearchEngine, SearchRequest } from './search-engine.js';
import type { GenerateOptions, TextGenerator } from './text-generator.js';

/** Options of the reference batched rollout loop. */
export interface RolloutLoopOptions {
  /** Sampling per turn; stop strings are added. Reference: 500 tokens, T 1.0, top-p 0.95 (greedy for evaluation). */
  readonly generate: Omit<GenerateOptions, 'stop'>;
}

/** Counters of one loop run. */
export interface RolloutLoopStats {
  generateCalls: number;
  searchCalls: number;
  searches: number;
}

/**
 * Drives a batch of trajectories to the end: each round generates for every
 * active trajectory in one batched call, then sends all pending searches in one
 * batched engine call. Each search request carries its own trajectory's
 * question and answers. The rollout actor may use it as is or drive the
 * states itself.
 */
export async function runRollouts(states: readonly RolloutState[], generator: TextGenerator, engine: SearchEngine, opts: RolloutLoopOptions): Promise<RolloutLoopStats> {
  const stats: RolloutLoopStats = { generateCalls: 0, searchCalls: 0, searches: 0 };
  for (;;) {
    const active = states.filter((s) => !s.done);
    if (active.length === 0) return stats;
    const outs = await generator.generate(
      active.map((s) => s.context()),
      { ...opts.generate, stop: active[0].stops },
    );
    stats.generateCalls++;
    const pending: { state: RolloutState; request: SearchRequest }[] = [];
    active.forEach((s, i) => {
      const a = s.step(outs[i] ?? '');
      if (a.kind === 'search') pending.push({ state: s, request: a.request });
    });
    if (pending.length) {
      const results = await engine.search(pending.map((p) => p.request));
      stats.searchCalls++;
      stats.searches += pending.length;
      pending.forEach((p, i) => p.state.observe(results[i]));
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
