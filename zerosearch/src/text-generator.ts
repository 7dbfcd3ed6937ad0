/** Sampling options for one batched generation call. */
export interface GenerateOptions {
  /** Most new tokens per prompt. */
  readonly maxTokens: number;
  readonly temperature: number;
  readonly topP?: number;
  /**
   * Stop strings. A generator stops after the first one and KEEPS it at the
   * end of the returned text (so `</search>` survives for the parser).
   */
  readonly stop?: readonly string[];
  readonly seed?: number;
}

/**
 * Anything that turns prompts into completions: the engine's local model, an
 * OpenAI-compatible endpoint, or the world-backed template simulator. The
 * simulator engine and `cohort sim serve` take one of these.
 */
export interface TextGenerator {
  /** A name for logs and `/v1/models`. */
  readonly name: string;
  generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]>;
  /** Optional: per-prompt outcomes, so one failed prompt does not fail the batch. */
  generateSettled?(prompts: readonly string[], opts: GenerateOptions): Promise<(string | Error)[]>;
  close?(): Promise<void>;
}

/** Cuts text after the first stop string (kept), if any. */
export function applyStops(text: string, stop: readonly string[] | undefined): { text: string; stopped: boolean } {
  if (!stop || stop.length === 0) return { text, stopped: false };
  let cut = -1;
  for (const s of stop) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i + s.length < cut)) cut = i + s.length;
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}
