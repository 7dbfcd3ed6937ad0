import { writeFile } from 'node:fs/promises';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { openParquet } from './parquet-read.js';

/** One row of the Search-R1 / ZeroSearch QA schema. */
export interface QARow {
  id: string;
  question: string;
  golden_answers: string[];
  data_source: string;
  prompt: { role: string; content: string }[];
  ability: string;
  reward_model: { style: string; ground_truth: { target: string[] } };
  /** Search-R1 has `split` and `index`; Cohort adds `heldout` and `hops` (absent in reference files). */
  extra_info: { split: string; index: number; heldout?: boolean; hops?: number };
}

const S = (name: string) => ({ name, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type: 'OPTIONAL' as const });
const LIST = (name: string, children: number) => [
  { name, repetition_type: 'OPTIONAL' as const, converted_type: 'LIST' as const, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
  ...(children === 0 ? [S('element')] : [{ name: 'element', repetition_type: 'OPTIONAL' as const, num_children: children }]),
];

/** The parquet schema, the same nesting pandas/pyarrow give the reference files. */
const SCHEMA = [
  { name: 'schema', num_children: 8 },
  S('id'),
  S('question'),
  ...LIST('golden_answers', 0),
  S('data_source'),
  ...LIST('prompt', 2),
  S('role'),
  S('content'),
  S('ability'),
  { name: 'reward_model', repetition_type: 'OPTIONAL' as const, num_children: 2 },
  S('style'),
  { name: 'ground_truth', repetition_type: 'OPTIONAL' as const, num_children: 1 },
  ...LIST('target', 0),
  { name: 'extra_info', repetition_type: 'OPTIONAL' as const, num_children: 4 },
  S('split'),
  { name: 'index', type: 'INT64' as const, repetition_type: 'OPTIONAL' as const },
  { name: 'heldout', type: 'BOOLEAN' as const, repetition_type: 'OPTIONAL' as const },
  { name: 'hops', type: 'INT32' as const, repetition_type: 'OPTIONAL' as const },
];

const COLUMNS = ['id', 'question', 'golden_answers', 'data_source', 'prompt', 'ability', 'reward_model', 'extra_info'] as const;

/** Writes QA rows as a Search-R1-schema parquet file (nested list/struct columns). */
export async function writeQAParquet(path: string, rows: readonly QARow[]): Promise<void> {
  if (rows.length === 0) throw new Error(`refusing to write an empty parquet file to ${path}`);
  const columnData = COLUMNS.map((name) => ({
    name,
    data: rows.map((r) => (name === 'extra_info' ? { split: r.extra_info.split, index: BigInt(r.extra_info.index), heldout: r.extra_info.heldout ?? null, hops: r.extra_info.hops ?? null } : r[name])),
  }));
  // The writer's types describe flat columns; nested values go through its Dremel encoder with the explicit schema.
  const buf = parquetWriteBuffer({ columnData: columnData as never, schema: SCHEMA as never });
  await writeFile(path, new Uint8Array(buf));
}

function fail(path: string, msg: string): never {
  throw new Error(`${path}: ${msg}`);
}

/**
 * The question of a verl-style row that has only `prompt` (a list of chat
 * turns, or a string): the last user turn's content (the only turn, unless
 * the row has a system turn; a string prompt is its own content). When that
 * content is a Search-R1 / ZeroSearch / Cohort instruction (an example
 * `<answer> … </answer>` followed by `Question: …`), the text after that
 * `Question:` is the question; otherwise the whole content, trimmed.
 */
export function questionFromPrompt(prompt: unknown): string | null {
  let content: unknown = prompt;
  if (Array.isArray(prompt)) {
    const users = prompt.filter((m) => m && typeof m === 'object' && (m as { role?: unknown }).role === 'user');
    content = (users.at(-1) as { content?: unknown } | undefined)?.content;
  }
  if (typeof content !== 'string' || !content.trim()) return null;
  const afterExample = content.lastIndexOf('</answer>');
  if (afterExample >= 0) {
    const m = /^[^A-Za-z]*Question:\s*([\s\S]*?)\s*$/.exec(content.slice(afterExample + '</answer>'.length));
    if (m && m[1]) return m[1];
  }
  return content.trim();
}

/** Columns a QA reader decodes (others, e.g. large embeddings, are skipped). */
const READ_COLUMNS = [...COLUMNS];

/**
 * Reads a Search-R1 / ZeroSearch QA parquet (Cohort's, pyarrow's, polars',
 * verl's), in any common codec (see PARQUET_COMPRESSORS), one row group at a
 * time. Needs golden answers (`golden_answers`, or
 * `reward_model.ground_truth.target`) and a question: the `question` column,
 * else the user turn of a verl-style `prompt` (see questionFromPrompt).
 * Fills the other columns when absent. Errors name the file, the column and
 * the row.
 */
export async function readQAParquet(path: string): Promise<QARow[]> {
  const pf = await openParquet(path, 'a Search-R1-style QA parquet');
  try {
    const names = pf.columns;
    const hasGold = names.includes('golden_answers') || names.includes('reward_model');
    if (!names.includes('question') && !names.includes('prompt')) fail(path, `missing column "question" (and no verl-style "prompt" to take it from; found: ${names.join(', ')}); a Search-R1 QA parquet has ${COLUMNS.join(', ')}`);
    if (!hasGold) fail(path, `missing column "golden_answers" (or reward_model.ground_truth.target; found: ${names.join(', ')}); a Search-R1 QA parquet has ${COLUMNS.join(', ')}`);
    const out: QARow[] = [];
    for (const g of pf.rowGroups) {
      if (g.end === g.start) continue;
      const raw = await pf.read(g.start, g.end, READ_COLUMNS.filter((c) => names.includes(c)));
      raw.forEach((r, k) => out.push(qaRow(path, r, g.start + k)));
    }
    return out;
  } finally {
    await pf.close();
  }
}

function qaRow(path: string, r: Record<string, unknown>, i: number): QARow {
  const where = `row ${i}`;
  let question: string;
  if (r.question != null) {
    if (typeof r.question !== 'string') fail(path, `${where}: column "question" must be a string, got ${typeof r.question}`);
    question = r.question;
  } else {
    const q = questionFromPrompt(r.prompt);
    if (q === null) fail(path, `${where}: no "question" and no user turn with text in "prompt" to take it from`);
    question = q;
  }
  const rm = r.reward_model as { style?: string; ground_truth?: { target?: unknown } | string | string[] } | undefined;
  const gt = rm?.ground_truth;
  const target = typeof gt === 'string' || Array.isArray(gt) ? gt : gt?.target;
  const golds = (r.golden_answers ?? target) as unknown;
  const goldList = typeof golds === 'string' ? [golds] : golds;
  if (!Array.isArray(goldList) || goldList.length === 0 || !goldList.every((g) => typeof g === 'string'))
    fail(path, `${where}: column "golden_answers" (or reward_model.ground_truth.target) must be a non-empty list of strings`);
  const ei = r.extra_info as { split?: unknown; index?: unknown; heldout?: unknown; hops?: unknown } | undefined;
  const prompt = Array.isArray(r.prompt) ? (r.prompt as QARow['prompt']) : typeof r.prompt === 'string' ? [{ role: 'user', content: r.prompt }] : [];
  const targetList = typeof target === 'string' ? [target] : Array.isArray(target) && target.every((g) => typeof g === 'string') ? (target as string[]) : (goldList as string[]);
  return {
    id: r.id == null ? `${ei?.split ?? 'row'}_${i}` : String(r.id),
    question,
    golden_answers: goldList as string[],
    data_source: typeof r.data_source === 'string' ? r.data_source : 'unknown',
    prompt,
    ability: typeof r.ability === 'string' ? r.ability : 'fact-reasoning',
    reward_model: { style: rm?.style ?? 'rule', ground_truth: { target: targetList } },
    extra_info: {
      split: typeof ei?.split === 'string' ? ei.split : 'unknown',
      index: ei?.index == null ? i : Number(ei.index),
      ...(typeof ei?.heldout === 'boolean' ? { heldout: ei.heldout } : {}),
      ...(ei?.hops != null ? { hops: Number(ei.hops) } : {}),
    },
  };
}
