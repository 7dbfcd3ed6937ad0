/**
 * The policy's text protocol: the instruction (Cohort's own words, four tags),
 * cutting a generation at its first action, parsing the action, formatting
 * observations, and the corrective message.
 */

/**
 * ZeroSearch's tags. A tokenizer trained for ZeroSearch takes them as added tokens
 * (`Tokenizer.train(texts, { vocabSize, addedTokens: [...ZEROSEARCH_TAGS] })`): always one id
 * each but NOT "special", so decoding keeps them in the text (a rollout needs to see `</search>`).
 */
export const ZEROSEARCH_TAGS = ['<think>', '</think>', '<search>', '</search>', '<information>', '</information>', '<answer>', '</answer>'] as const;

/** The stop strings a turn is cut at. */
export const ACTION_STOPS: readonly string[] = ['</search>', '</answer>'];

/** The instruction given to the policy; `question` is appended at the end. */
export function policyInstruction(question: string): string {
  return (
    'Answer the question below. Reason step by step inside <think> and </think> before every action. ' +
    'When a fact is missing, look it up: write a search query inside <search> and </search>, and the results ' +
    'will be shown to you inside <information> and </information>. You may search as often as you need. ' +
    'Once you know the answer, give only the answer inside <answer> and </answer>, with no explanation, ' +
    'for example <answer> Paris </answer>. ' +
    `Question: ${question.trim()}\n`
  );
}

/** The message inserted when a turn holds neither a search nor an answer. */
export const CORRECTIVE_MESSAGE =
  '\nMy last output held no valid action. To search, I must write the query between <search> and </search>. ' +
  'To answer, I must write the answer between <answer> and </answer>. I will try again.\n';

/** Text a failed search inserts (reference behaviour; Cohort also counts it). */
export const NO_INFORMATION = 'No information available';

/**
 * Cuts generated text just after the first `</search>` or `</answer>`;
 * text without either is returned unchanged.
 */
export function cutAtAction(text: string): string {
  let cut = -1;
  for (const stop of ACTION_STOPS) {
    const i = text.indexOf(stop);
    if (i >= 0 && (cut < 0 || i + stop.length < cut)) cut = i + stop.length;
  }
  return cut < 0 ? text : text.slice(0, cut);
}

/** A parsed action. */
export type ParsedAction = { kind: 'search'; query: string } | { kind: 'answer'; answer: string } | { kind: 'none' };

const ACTION_RE = /<(search|answer)>(.*?)<\/\1>/s;

/** Parses the first `<search>…</search>` or `<answer>…</answer>` (dot matches newlines), stripped. */
export function parseAction(text: string): ParsedAction {
  const m = ACTION_RE.exec(text);
  if (!m) return { kind: 'none' };
  const body = m[2].trim();
  return m[1] === 'search' ? { kind: 'search', query: body } : { kind: 'answer', answer: body };
}

/** Formats documents as `Doc 1: …` lines. */
export function formatDocs(docs: readonly string[]): string {
  return docs.map((d, i) => `Doc ${i + 1}: ${d.replace(/\s*\n\s*/g, ' ').trim()}`).join('\n');
}

/** Wraps search results as the observation block the environment inserts. */
export function formatObservation(docsText: string): string {
  return `\n\n<information>${docsText.trim()}</information>\n\n`;
}

/** The answer in a response: the body of its last `<answer>` tag, or null. Never reads the prompt. */
export function extractAnswer(response: string): string | null {
  const all = [...response.matchAll(/<answer>(.*?)<\/answer>/gs)];
  if (all.length === 0) return null;
  return all[all.length - 1][1].trim();
}
