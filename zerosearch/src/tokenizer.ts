/**
 * The small tokenizer interface the environment needs (observation truncation,
 * rolling context, loss masks). The engine's tokenizer satisfies it.
 */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

/** The first `maxTokens` tokens of `text` (unchanged when it already fits). */
export function truncateTokens(text: string, tokenizer: TextTokenizer, maxTokens: number): string {
  const ids = tokenizer.encode(text);
  return ids.length <= maxTokens ? text : tokenizer.decode(ids.slice(0, maxTokens));
}

/**
 * A whitespace tokenizer with a growing vocabulary: one id per distinct
 * whitespace-separated word. A fallback where no trained tokenizer is at hand
 * (decode joins words with single spaces, so it is lossy on whitespace).
 */
export class WhitespaceTokenizer implements TextTokenizer {
  private readonly ids = new Map<string, number>();
  private readonly words: string[] = [];

  encode(text: string): number[] {
    return text
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .map((w) => {
        let id = this.ids.get(w);
        if (id === undefined) {
          id = this.words.length;
          this.words.push(w);
          this.ids.set(w, id);
        }
        return id;
      });
  }

  decode(ids: readonly number[]): string {
    return ids
      .map((i) => {
        const w = this.words[i];
        if (w === undefined) throw new Error(`WhitespaceTokenizer.decode: unknown id ${i}`);
        return w;
      })
      .join(' ');
  }
}
