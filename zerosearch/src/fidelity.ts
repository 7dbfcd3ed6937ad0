import type { SimPair } from './dataset.js';
import { coverExactMatch } from './rewards.js';
import { processSimulatorOutput } from './simulator-prompt.js';
import type { TextGenerator } from './text-generator.js';

/** The paper's simulator fidelity check on held-out queries. */
export interface FidelityReport {
  readonly pairs: number;
  /** Share of useful outputs whose documents contain a gold answer. */
  readonly usefulHasAnswer: number;
  /** Share of noisy outputs whose documents contain a gold answer (lower is better). */
  readonly noisyHasAnswer: number;
  /** Mean documents per output (5 expected). */
  readonly meanDocs: number;
}

/** Generates documents for each pair's prompt and counts how often they carry the gold answer, useful vs noisy. */
export async function fidelityCheck(generator: TextGenerator, pairs: readonly SimPair[], opts: { maxTokens?: number; temperature?: number; batch?: number } = {}): Promise<FidelityReport> {
  if (pairs.length === 0) throw new Error('fidelity check needs at least one held-out simulator pair');
  const batch = opts.batch ?? 32;
  let usefulN = 0;
  let usefulHit = 0;
  let noisyN = 0;
  let noisyHit = 0;
  let docs = 0;
  for (let i = 0; i < pairs.length; i += batch) {
    const chunk = pairs.slice(i, i + batch);
    const outs = await generator.generate(
      chunk.map((p) => p.prompt),
      { maxTokens: opts.maxTokens ?? 600, temperature: opts.temperature ?? 0 },
    );
    chunk.forEach((p, j) => {
      const out = processSimulatorOutput(outs[j]);
      docs += out.docs.length;
      const hit = coverExactMatch(out.text, p.goldenAnswers);
      if (p.mode === 'useful') {
        usefulN++;
        usefulHit += hit;
      } else {
        noisyN++;
        noisyHit += hit;
      }
    });
  }
  return { pairs: pairs.length, usefulHasAnswer: usefulN ? usefulHit / usefulN : 0, noisyHasAnswer: noisyN ? noisyHit / noisyN : 0, meanDocs: docs / pairs.length };
}
