import { readFile } from 'node:fs/promises';
import { parquetReadObjects } from 'hyparquet';
import type { Doc } from './corpus.js';
import { readQAParquet, type QARow } from './parquet.js';
import type { QAItem } from './questions.js';

/** Data sources of the reference's multi-hop evaluation sets (their questions count as two-hop). */
const MULTI_HOP_SOURCES = /hotpot|2wiki|musique|bamboogle|multihop|multi-hop/i;

/** A question of a Search-R1 parquet row; hops from `extra_info.hops`, else from the data source's name. */
export function qaItemFromRow(row: QARow, split: 'train' | 'test'): QAItem {
  const hops = row.extra_info.hops === 2 || (row.extra_info.hops === undefined && MULTI_HOP_SOURCES.test(row.data_source)) ? 2 : 1;
  return {
    id: row.id,
    question: row.question,
    goldenAnswers: row.golden_answers,
    split,
    heldout: row.extra_info.heldout ?? split === 'test',
    hops,
    shape: row.data_source,
    subject: '',
    steps: [],
  };
}

/** Reads QA parquet files into questions (in file order). */
export async function readQAItems(files: readonly string[], split: 'train' | 'test'): Promise<QAItem[]> {
  const out: QAItem[] = [];
  for (const f of files) out.push(...(await readQAParquet(f)).map((r) => qaItemFromRow(r, split)));
  return out;
}

function docFrom(r: Record<string, unknown>, i: number, where: string): Doc {
  const id = r.id == null ? String(i) : String(r.id);
  let title: string;
  let text: string;
  if (typeof r.contents === 'string') {
    // wiki-18 (FlashRAG / Search-R1): contents = "\"Title\"\nbody".
    const nl = r.contents.indexOf('\n');
    title = (nl < 0 ? '' : r.contents.slice(0, nl)).replace(/^"|"$/g, '');
    text = nl < 0 ? r.contents : r.contents.slice(nl + 1);
  } else if (typeof r.text === 'string') {
    title = typeof r.title === 'string' ? r.title : '';
    text = r.text;
  } else {
    throw new Error(`${where}: document ${i} has neither "contents" (wiki-18 style) nor "text" (with an optional "title")`);
  }
  return { id, entity: typeof r.entity === 'string' ? r.entity : '', title, text, facts: Array.isArray(r.facts) ? (r.facts as string[]) : [], heldout: r.heldout === true };
}

/**
 * Reads a retrieval corpus: JSONL (one document a line) or parquet, each
 * document either wiki-18 style `{ id, contents: "\"Title\"\ntext" }` or
 * `{ id, title, text }` (Cohort's corpus.jsonl).
 */
export async function readCorpusFile(path: string): Promise<Doc[]> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the corpus (${(err as Error).message})`);
  }
  let rows: Record<string, unknown>[];
  if (path.endsWith('.parquet')) {
    rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
  } else {
    rows = buf
      .toString('utf8')
      .split('\n')
      .flatMap((l, i) => {
        if (!l.trim()) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          throw new Error(`${path}: line ${i + 1} is not JSON; a corpus is JSONL (one document a line) or parquet`);
        }
      });
  }
  if (rows.length === 0) throw new Error(`${path}: the corpus has no documents`);
  return rows.map((r, i) => docFrom(r, i, path));
}
