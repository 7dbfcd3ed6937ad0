import type { SearchMode } from './search-engine.js';

/** The two prompt shapes of the simulation LLM. */
export type SimulatorStyle = 'sft' | 'prompt';

/** Inputs of one simulator prompt. */
export interface SimulatorPromptInput {
  readonly query: string;
  readonly mode: SearchMode;
  readonly question?: string;
  readonly goldenAnswers?: readonly string[];
  /** Five example documents for the prompt-based style. */
  readonly demos?: readonly string[];
}

const HEAD = 'You act as a web search engine.';

/**
 * Builds the simulator prompt. `sft`: the shape the tuned simulator expects —
 * engine line, five useful/noisy documents, the user's question and answer,
 * one short sentence each, then `Query:` and `Useful Output:` / `Noisy Output:`.
 * `prompt`: the same plus example documents; its noisy variant asks for related
 * but misleading documents and leaves the question and answer out.
 */
export function simulatorPrompt(input: SimulatorPromptInput, style: SimulatorStyle = 'sft'): string {
  const q = input.query.trim();
  if (!q) throw new Error('simulator prompt needs a non-empty query');
  const label = input.mode === 'useful' ? 'Useful' : 'Noisy';
  const lines = [HEAD];
  if (style === 'sft' || input.mode === 'useful') {
    lines.push(`Write five ${input.mode} documents that a search for the query below would return.`);
  } else {
    lines.push('Write five documents that look related to the query below but are noisy: they must not give the right answer.');
  }
  const withQa = style === 'sft' || input.mode === 'useful';
  if (withQa && input.question) {
    const answer = input.goldenAnswers?.length ? input.goldenAnswers.join(' | ') : 'unknown';
    lines.push(`The user is working on the question "${input.question.trim()}", whose answer is "${answer}".`);
  }
  lines.push(
    input.mode === 'useful'
      ? 'Write one short sentence per document, and make every document help answer the question.'
      : 'Write one short sentence per document.',
  );
  if (style === 'prompt' && input.demos?.length) {
    lines.push('Imitate the style of these example documents:');
    input.demos.slice(0, 5).forEach((d, i) => lines.push(`Example ${i + 1}: ${d}`));
  }
  lines.push('', `Query: ${q}`, `${label} Output:`);
  return lines.join('\n');
}

/** What a simulator prompt asks for (the inverse of `simulatorPrompt`). */
export interface ParsedSimulatorPrompt {
  readonly query: string;
  readonly mode: SearchMode;
  readonly question?: string;
  readonly answers?: readonly string[];
}

/** Reads query, mode and (when present) question and answer back from a simulator prompt; null if it is not one. */
export function parseSimulatorPrompt(prompt: string): ParsedSimulatorPrompt | null {
  const q = /^Query: (.*)$/m.exec(prompt);
  const m = /^(Useful|Noisy) Output:\s*$/m.exec(prompt);
  if (!q || !m) return null;
  const qa = /question "(.*)", whose answer is "(.*)"\.$/m.exec(prompt);
  return {
    query: q[1].trim(),
    mode: m[1] === 'Useful' ? 'useful' : 'noisy',
    ...(qa ? { question: qa[1], answers: qa[2] === 'unknown' ? [] : qa[2].split(' | ') } : {}),
  };
}

/** The stop string that ends a simulator generation once five documents are written. */
export const SIMULATOR_STOP = '\nDoc 6';

/**
 * Post-processes simulator output as the reference does: blank lines
 * collapsed, everything from `Doc 6` on dropped. Returns the text to insert and
 * the documents split out of it.
 */
export function processSimulatorOutput(raw: string): { text: string; docs: string[] } {
  let text = raw.replace(/\n\s*\n+/g, '\n').trim();
  const cut = text.search(/Doc 6\b/);
  if (cut >= 0) text = text.slice(0, cut).trim();
  const parts = text.split(/(?:^|\n)\s*Doc \d+\s*:?\s*/).map((s) => s.trim()).filter((s) => s.length > 0);
  return { text, docs: parts.length ? parts : text ? [text] : [] };
}

/**
 * Whether processed simulator text holds exactly `n` documents, `Doc 1:` …
 * `Doc n:` each at the start of a line, in order, none empty (text after the
 * last document's first line is tolerated as part of it).
 */
export function simulatorFormatOk(text: string, n = 5): boolean {
  const marks = [...text.matchAll(/(?:^|\n)\s*Doc (\d+)\s*:/g)];
  if (marks.length !== n || !text.trimStart().startsWith('Doc 1')) return false;
  return marks.every((m, i) => {
    if (Number(m[1]) !== i + 1) return false;
    const end = i + 1 < marks.length ? marks[i + 1].index : text.length;
    return text.slice(m.index + m[0].length, end).trim().length > 0;
  });
}
