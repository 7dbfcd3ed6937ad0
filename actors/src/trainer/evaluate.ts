import type { CausalLM, Tokenizer } from '@cohort/engine';
import type { QAItem, SearchEngine } from '@cohort/zerosearch';
import type { TrainConfig } from '../config/schema.js';
import type { EvalSplitResult } from '../metrics/report.js';
import { runPolicyRollouts } from '../rollout/policy-rollout.js';

/**
 * Evaluates a policy on held-out questions with a real search engine (the
 * corpus engine), greedy by default: true EM and cover-EM in percent, turns
 * and searches per question.
 */
export async function evaluateSplit(
  model: CausalLM,
  tokenizer: Tokenizer,
  engine: SearchEngine,
  split: { name: string; kind: 'single-hop' | 'multi-hop' },
  items: readonly QAItem[],
  rollout: TrainConfig['rollout'],
  opts: { greedy: boolean; seed: number; batchSize?: number },
): Promise<EvalSplitResult> {
  if (items.length === 0) throw new Error(`eval split "${split.name}" has no questions; check the world's test size`);
  let em = 0;
  let cover = 0;
  let turns = 0;
  let searches = 0;
  const bs = opts.batchSize ?? 16;
  for (let i = 0; i < items.length; i += bs) {
    const chunk = items.slice(i, i + bs);
    const r = await runPolicyRollouts(
      model,
      tokenizer,
      engine,
      chunk.map((q, k) => ({ promptIndex: i + k, question: q.question, answers: [...q.goldenAnswers], dataSource: split.name })),
      {
        step: 0,
        samplesPerPrompt: 1,
        maxTurns: rollout.maxTurns,
        maxNewTokensPerTurn: rollout.maxNewTokensPerTurn,
        observationTokenCap: rollout.observationTokenCap,
        contextWindow: rollout.contextWindow,
        temperature: opts.greedy ? 0 : rollout.temperature,
        topP: rollout.topP,
        noiseP: 0,
        seed: opts.seed,
        version: 0,
      },
    );
    r.scores.forEach((s) => {
      em += s.em;
      cover += s.coverEm;
    });
    r.trajectories.forEach((t) => {
      turns += t.turns;
      searches += t.searches;
    });
  }
  const n = items.length;
  return { split: split.name, kind: split.kind, questions: n, em: (100 * em) / n, coverEm: (100 * cover) / n, turnsPerQuestion: turns / n, searchesPerQuestion: searches / n };
}

/** What a periodic evaluation adds to a step's metrics (see `eval.every`). */
export interface PeriodicEval {
  /** Mean EM over the splits, percent. */
  em: number;
  /** Mean EM of the single-hop and of the multi-hop splits (a type without splits is absent). */
  emByType: { 'single-hop'?: number; 'multi-hop'?: number };
  evalQuestions: number;
  /** The question split sampled (dev during RL). */
  evalSplit: 'train' | 'dev' | 'test';
  /** Questions in that split's pools (over the eval splits) the sample came from. */
  evalPool: number;
}

/**
 * Greedy EM of the policy on the first `sampleSize` questions of every eval
 * split (the same sample each time, so the curve compares like with like),
 * averaged the way the report averages (mean over splits, and by type).
 */
export async function evaluateSample(
  model: CausalLM,
  tokenizer: Tokenizer,
  engine: SearchEngine,
  splits: ReadonlyArray<{ name: string; kind: 'single-hop' | 'multi-hop'; items: readonly QAItem[] }>,
  rollout: TrainConfig['rollout'],
  opts: { sampleSize: number; seed: number; split: 'train' | 'dev' | 'test' },
): Promise<PeriodicEval> {
  const results: EvalSplitResult[] = [];
  for (const s of splits) {
    results.push(await evaluateSplit(model, tokenizer, engine, s, s.items.slice(0, opts.sampleSize), rollout, { greedy: true, seed: opts.seed }));
  }
  const byKind = (k: 'single-hop' | 'multi-hop') => {
    const xs = results.filter((r) => r.kind === k).map((r) => r.em);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  const single = byKind('single-hop');
  const multi = byKind('multi-hop');
  return {
    em: results.reduce((a, r) => a + r.em, 0) / results.length,
    emByType: { ...(single === undefined ? {} : { 'single-hop': single }), ...(multi === undefined ? {} : { 'multi-hop': multi }) },
    evalQuestions: results.reduce((a, r) => a + r.questions, 0),
    evalSplit: opts.split,
    evalPool: splits.reduce((a, s) => a + s.items.length, 0),
  };
}
