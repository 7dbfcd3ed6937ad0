import type { Logger } from 'pino';
import { Curriculum, type CurriculumInput } from './curriculum.js';
import { Rng } from '@cohort/engine/rng';
import { validateRequests, type SearchEngine, type SearchMode, type SearchRequest, type SearchResult } from './search-engine.js';
import { SIMULATOR_STOP, processSimulatorOutput, simulatorPrompt, type SimulatorStyle } from './simulator-prompt.js';
import { NO_INFORMATION } from './template.js';
import type { TextGenerator } from './text-generator.js';

/** Counters of the simulator engine (never reset by the engine). */
export interface SimulatorMetrics {
  searches: number;
  useful: number;
  noisy: number;
  /** Generator calls that failed (after the generator's own retries). */
  failures: number;
  /** Searches answered with the fallback text because of a failure. */
  fallbacks: number;
}

/** Options of the simulator engine. */
export interface SimulatorEngineOptions {
  readonly generator: TextGenerator;
  readonly style?: SimulatorStyle;
  /**
   * How the useful/noisy prompt is drawn when a request does not force it (default: always
   * useful): a `Curriculum`, or its config (the train config's `curriculum:` block).
   */
  readonly curriculum?: Curriculum | CurriculumInput;
  /** The run's total steps (`m` of Eq. 1), for a `curriculum` config of mode `curriculum`. */
  readonly totalSteps?: number;
  /** Seed of the per-search draws. */
  readonly seed?: number;
  /** Reference: 600 tokens at temperature 0.8. */
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** `fallback` (default, reference behaviour, but counted) inserts "No information available"; `throw` rejects. */
  readonly onFailure?: 'fallback' | 'throw';
  /** Example documents for the prompt-based style. */
  readonly demos?: readonly string[];
  readonly logger?: Logger;
}

/**
 * The `simulator` engine: a simulation LLM writes the documents. The prompt
 * uses each request's own question and answers; the useful/noisy prompt is
 * forced by the request or drawn once per search call from the curriculum.
 */
export class SimulatorSearchEngine implements SearchEngine {
  readonly name = 'simulator';
  readonly metrics: SimulatorMetrics = { searches: 0, useful: 0, noisy: 0, failures: 0, fallbacks: 0 };
  readonly curriculum: Curriculum;
  private readonly rng: Rng;

  constructor(private readonly opts: SimulatorEngineOptions) {
    if (!opts.generator) throw new Error('simulator engine needs a generator (a local model, an OpenAI-compatible client or the world simulator)');
    const c = opts.curriculum;
    this.curriculum = c instanceof Curriculum ? c : new Curriculum(c ?? { mode: 'fixed', prompt: 'useful' }, opts.totalSteps);
    this.rng = new Rng(opts.seed ?? 0).fork('simulator-draws');
  }

  /** The mode a request gets: forced, or one draw from the curriculum. */
  drawMode(r: SearchRequest): SearchMode {
    return r.mode ?? this.curriculum.draw(r.step ?? 0, this.rng);
  }

  /** The exact prompt for a request in a mode. */
  promptFor(r: SearchRequest, mode: SearchMode): string {
    return simulatorPrompt({ query: r.query, mode, question: r.question, goldenAnswers: r.goldenAnswers, demos: this.opts.demos }, this.opts.style ?? 'sft');
  }

  async search(requests: readonly SearchRequest[]): Promise<SearchResult[]> {
    validateRequests(requests);
    const modes = requests.map((r) => this.drawMode(r));
    const prompts = requests.map((r, i) => this.promptFor(r, modes[i]));
    // Generation ends once a sixth document starts (the post-processing drops it anyway).
    const gen = { maxTokens: this.opts.maxTokens ?? 600, temperature: this.opts.temperature ?? 0.8, stop: [SIMULATOR_STOP] };
    let outputs: (string | Error)[];
    const g = this.opts.generator;
    try {
      outputs = g.generateSettled ? await g.generateSettled(prompts, gen) : await g.generate(prompts, gen);
      if (outputs.length !== prompts.length) throw new Error(`generator ${g.name} returned ${outputs.length} outputs for ${prompts.length} prompts`);
    } catch (err) {
      if (prompts.length === 1 || g.generateSettled) outputs = prompts.map(() => err as Error);
      else {
        // Retry one by one so one bad request does not sink the batch.
        const settled = await Promise.allSettled(prompts.map((p) => g.generate([p], gen)));
        outputs = settled.map((s) => (s.status === 'fulfilled' ? s.value[0] : (s.reason as Error)));
      }
    }
    return requests.map((r, i) => {
      this.metrics.searches++;
      this.metrics[modes[i]]++;
      const out = outputs[i];
      if (out instanceof Error) {
        this.metrics.failures++;
        this.opts.logger?.warn({ err: out.message, query: r.query, trajectory: r.trajectoryId }, 'simulator call failed');
        if (this.opts.onFailure === 'throw') throw new Error(`simulator search failed for query "${r.query}": ${out.message}`);
        this.metrics.fallbacks++;
        return { query: r.query, docs: [], text: NO_INFORMATION, engine: this.name, mode: modes[i], error: out.message };
      }
      const { text, docs } = processSimulatorOutput(out);
      return { query: r.query, docs, text, engine: this.name, mode: modes[i] };
    });
  }

  async close(): Promise<void> {
    await this.opts.generator.close?.();
  }
}
