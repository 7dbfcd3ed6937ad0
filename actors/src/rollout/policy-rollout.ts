import { generate, type CausalLM, type GeneratedSequence, type Tokenizer } from '@cohort/engine';
import { RolloutState, runRollouts, type AnswerScores, type SearchEngine } from '@cohort/zerosearch';
import { Rng } from '@cohort/engine/rng';
import { TrajectoryBuilder } from '../trajectory/trajectory-builder.js';
import type { Trajectory } from '../trajectory/trajectory.js';

/** One prompt of a step's batch. */
export interface RolloutPrompt {
  /** Position in the step's batch (part of the group id). */
  promptIndex: number;
  question: string;
  answers: string[];
  dataSource: string;
}

/** Multi-turn and sampling settings of a rollout batch. */
export interface PolicyRolloutOptions {
  /** RL step (group ids) — or the eval pass index. */
  step: number;
  /** Samples per prompt (`n`). */
  samplesPerPrompt: number;
  maxTurns: number;
  maxNewTokensPerTurn: number;
  observationTokenCap: number;
  contextWindow: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** Probability that a search gets the noisy simulator prompt (the curriculum's p for this step). */
  noiseP: number;
  /** Seed of sampling and of the per-search noise draws. */
  seed: number;
  /** Weight version of `model` (recorded per token). */
  version: number;
}

/** Wall time of the rollout's parts, in seconds. */
export interface RolloutTimings {
  generate: number;
  search: number;
  /** Search calls and requests issued. */
  searchCalls: number;
  searchRequests: number;
}

/** Finished trajectories (scored with F1 as reward) plus EM/cover-EM per trajectory. */
export interface PolicyRolloutResult {
  trajectories: Trajectory[];
  scores: AnswerScores[];
  timings: RolloutTimings;
}

/**
 * Runs `n` samples of every prompt through the multi-turn template with the
 * given policy, token by token: policy generations are recorded with their
 * log-probs and the weight version; observations and corrective messages are
 * tokenized as environment tokens (loss mask 0). Every search request carries
 * its own trajectory's question and answers, and a useful/noisy mode drawn
 * with probability `noiseP` per search call. All active trajectories generate
 * in one batched call per round; their searches go out in one batched call (zerosearch's
 * `runRollouts` is the loop; this function is its language-model driver).
 */
export async function runPolicyRollouts(
  model: CausalLM,
  tokenizer: Tokenizer,
  engine: SearchEngine,
  prompts: readonly RolloutPrompt[],
  opts: PolicyRolloutOptions,
): Promise<PolicyRolloutResult> {
  const rng = Rng.fromSeed(opts.seed, `rollout/${opts.step}`);
  const textTok = { encode: (t: string) => tokenizer.encode(t), decode: (ids: readonly number[]) => tokenizer.decode([...ids], { skipSpecialTokens: false }) };
  const maxPos = model.config.max_position_embeddings;
  const window = Math.min(opts.contextWindow, maxPos);
  const maxNew = Math.min(opts.maxNewTokensPerTurn, window - 1);
  const eos = tokenizer.eosTokenId;
  const bos = tokenizer.bosTokenId;
  interface Live {
    state: RolloutState;
    builder: TrajectoryBuilder;
    promptIds: number[];
    response: number[];
    seen: number;
    noisy: number;
    last?: GeneratedSequence;
  }
  const lives: Live[] = [];
  for (const p of prompts) {
    for (let s = 0; s < opts.samplesPerPrompt; s++) {
      const state = new RolloutState(
        { id: `${opts.step}:${p.promptIndex}#${s}`, question: p.question, goldenAnswers: p.answers },
        { maxTurns: opts.maxTurns, maxObsTokens: opts.observationTokenCap, maxContextTokens: window, tokenizer: textTok, step: opts.step },
      );
      const enc = tokenizer.encode(state.prompt);
      const promptIds = bos !== undefined && enc[0] !== bos ? [bos, ...enc] : enc;
      const builder = new TrajectoryBuilder({ step: opts.step, promptIndex: p.promptIndex, sampleIndex: s, question: p.question, answers: p.answers, dataSource: p.dataSource, promptIds });
      lives.push({ state, builder, promptIds, response: [], seen: 0, noisy: 0 });
    }
  }
  const stats = await runRollouts(lives, engine, {
    generate: async (active, round) => {
      const contexts = active.map((l) => {
        const all = [...l.promptIds, ...l.response];
        return all.length > window - maxNew ? all.slice(all.length - (window - maxNew)) : all;
      });
      const outs = await generate(model, contexts, {
        maxNewTokens: maxNew,
        temperature: opts.temperature,
        topP: opts.temperature === 0 ? 1 : opts.topP,
        seed: (opts.seed * 1000003 + opts.step * 7919 + round) >>> 0,
        stopTokenIds: eos === undefined ? [] : [eos],
        stopStrings: [...active[0].state.stops],
        padTokenId: tokenizer.padTokenId ?? 0,
        decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: false }),
      });
      // Drop a trailing eos from the text the protocol sees; the token stays in the response.
      return active.map((l, i) => {
        l.last = outs[i];
        return tokenizer.decode(outs[i].tokens.filter((t) => t !== eos), { skipSpecialTokens: false });
      });
    },
    onTurn: (l) => {
      const g = l.last!;
      l.builder.addPolicyTokens(g.tokens, g.logprobs, opts.version);
      l.response.push(...g.tokens);
      l.seen++; // the model segment
      appendEnvironment(l, tokenizer);
    },
    request: (l, request) => {
      const noisy = rng.bernoulli(opts.noiseP);
      if (noisy) l.noisy++;
      return { ...request, mode: noisy ? 'noisy' : 'useful' };
    },
    onObserve: (l) => appendEnvironment(l, tokenizer),
  });
  const timings: RolloutTimings = { generate: stats.generateSeconds, search: stats.searchSeconds, searchCalls: stats.searchCalls, searchRequests: stats.searches };
  const trajectories: Trajectory[] = [];
  const scores: AnswerScores[] = [];
  for (const l of lives) {
    const sc = l.state.score();
    scores.push(sc);
    trajectories.push(
      l.builder.finish({
        turns: l.state.turns,
        searches: l.state.searches,
        noisySearches: l.noisy,
        answered: l.state.answer !== null,
        prediction: l.state.answer,
        reward: Math.min(1, Math.max(0, sc.f1)),
      }),
    );
  }
  return { trajectories, scores, timings };
}

/** Tokenizes environment segments the state appended since the last look. */
function appendEnvironment(l: { state: RolloutState; builder: TrajectoryBuilder; response: number[]; seen: number }, tokenizer: Tokenizer): void {
  const segs = l.state.segments;
  for (; l.seen < segs.length; l.seen++) {
    const s = segs[l.seen];
    if (s.source !== 'env') continue;
    const ids = tokenizer.encode(s.text);
    l.builder.addEnvironmentTokens(ids);
    l.response.push(...ids);
  }
}
