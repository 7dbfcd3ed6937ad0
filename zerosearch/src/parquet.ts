import { readFile, writeFile } from 'node:fs/promises';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';

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

const REQUIRED = ['question', 'golden_answers'] as const;

/**
 * Reads a Search-R1 / ZeroSearch QA parquet (Cohort's or the reference's).
 * Requires `question` and `golden_answers` (a list of strings, or `reward_model.ground_truth.target`);
 * fills the other columns when absent. Errors name the file and the column.
 */
export async function readQAParquet(path: string): Promise<QARow[]> {
  let buf: ArrayBuffer;
  try {
    const b = await readFile(path);
    buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  } catch (err) {
    throw new Error(`${path}: cannot read file (${(err as Error).message})`);
  }
  let names: string[];
  try {
    const md = parquetMetadata(buf);
    names = parquetSchema(md).children.map((c) => c.element.name);
  } catch (err) {
    fail(path, `not a parquet file (${(err as Error).message}); expected a Search-R1-style QA parquet`);
  }
  const hasGold = names.includes('golden_answers') || names.includes('reward_model');
  for (const c of REQUIRED) {
    if (c === 'golden_answers' ? !hasGold : !names.includes(c)) fail(path, `missing column "${c}" (found: ${names.join(', ')}); a Search-R1 QA parquet has ${COLUMNS.join(', ')}`);
  }
  let raw: Record<string, unknown>[];
  try {
    raw = (await parquetReadObjects({ file: buf })) as Record<string, unknown>[];
  } catch (err) {
    fail(path, `cannot decode rows (${(err as Error).message})`);
  }
  return raw.map((r, i) => {
    const where = `row ${i}`;
    if (typeof r.question !== 'string') fail(path, `${where}: column "question" must be a string, got ${typeof r.question}`);
    const rm = r.reward_model as QARow['reward_model'] | undefined;
    const golds = (r.golden_answers ?? rm?.ground_truth?.target) as unknown;
    const goldList = typeof golds === 'string' ? [golds] : golds;
    if (!Array.isArray(goldList) || goldList.length === 0 || !goldList.every((g) => typeof g === 'string'))
      fail(path, `${where}: column "golden_answers" must be a non-empty list of strings`);
    const ei = r.extra_info as { split?: unknown; index?: unknown; heldout?: unknown; hops?: unknown } | undefined;
    const prompt = Array.isArray(r.prompt) ? (r.prompt as QARow['prompt']) : [];
    return {
      id: r.id == null ? `${ei?.split ?? 'row'}_${i}` : String(r.id),
      question: r.question,
      golden_answers: goldList as string[],
      data_source: typeof r.data_source === 'string' ? r.data_source : 'unknown',
      prompt,
      ability: typeof r.ability === 'string' ? r.ability : 'fact-reasoning',
      reward_model: { style: rm?.style ?? 'rule', ground_truth: { target: (rm?.ground_truth?.target as string[] | undefined) ?? (goldList as string[]) } },
      extra_info: {
        split: typeof ei?.split === 'string' ? ei.split : 'unknown',
        index: ei?.index == null ? i : Number(ei.index),
        ...(typeof ei?.heldout === 'boolean' ? { heldout: ei.heldout } : {}),
        ...(ei?.hops != null ? { hops: Number(ei.hops) } : {}),
      },
    };
  });
}
