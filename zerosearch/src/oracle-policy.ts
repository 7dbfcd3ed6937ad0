import type { QAItem } from './questions.js';
import type { GenerateOptions, TextGenerator } from './text-generator.js';
import { applyStops } from './text-generator.js';

/**
 * A scripted policy that plays the template perfectly: for a question whose
 * facts it "memorised" (e.g. the warm-start facts) it answers at once; for the
 * others it searches each hop's query in turn, then answers. It reads only the
 * context it is given (question from the prompt, hops done from the number of
 * `<information>` blocks), so it is a real `TextGenerator`: an upper-bound
 * baseline for evaluating engines and rewards, and a driver for rollouts
 * without a trained model. It answers with the gold from its question table,
 * so it measures the environment, not a model.
 */
export class OraclePolicy implements TextGenerator {
  readonly name = 'oracle-policy';
  private readonly byQuestion = new Map<string, QAItem>();

  /**
   * @param questions the questions it can play
   * @param known fact ids it answers without searching
   */
  constructor(questions: readonly QAItem[], private readonly known: ReadonlySet<string> = new Set()) {
    for (const q of questions) this.byQuestion.set(q.question.trim(), q);
  }

  /** The next turn for one context. */
  next(context: string): string {
    const m = /Question: (.*)\n/.exec(context);
    const q = m ? this.byQuestion.get(m[1].trim()) : undefined;
    if (!q) return '<think>I do not recognise this question.</think>\n<answer>unknown</answer>';
    if (q.steps.every((s) => this.known.has(s.fact))) return `<think>I remember this.</think>\n<answer>${q.goldenAnswers[0]}</answer>`;
    const response = context.slice(m!.index + m![0].length);
    const done = (response.match(/<information>/g) ?? []).length;
    if (done < q.steps.length) return `<think>I need to look up ${q.steps[done].query}.</think>\n<search>${q.steps[done].query}</search>`;
    return `<think>The documents give the answer.</think>\n<answer>${q.goldenAnswers[0]}</answer>`;
  }

  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    return prompts.map((p) => applyStops(this.next(p), opts.stop).text);
  }
}
