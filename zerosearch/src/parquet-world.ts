import { readQAParquet, type QARow } from './parquet.js';
import type { QAItem } from './questions.js';
import type { Split } from './world.js';

/** Data sources of the reference's multi-hop evaluation sets (their questions count as two-hop). */
const MULTI_HOP_SOURCES = /hotpot|2wiki|musique|bamboogle|multihop|multi-hop/i;

/** A question of a Search-R1 parquet row; hops from `extra_info.hops`, else from the data source's name. */
export function qaItemFromRow(row: QARow, split: Split): QAItem {
  const hops = row.extra_info.hops === 2 || (row.extra_info.hops === undefined && MULTI_HOP_SOURCES.test(row.data_source)) ? 2 : 1;
  return {
    id: row.id,
    question: row.question,
    goldenAnswers: row.golden_answers,
    split,
    heldout: row.extra_info.heldout ?? split !== 'train',
    hops,
    shape: row.data_source,
    subject: '',
    steps: [],
  };
}

/** Reads QA parquet files into questions (in file order). */
export async function readQAItems(files: readonly string[], split: Split): Promise<QAItem[]> {
  const out: QAItem[] = [];
  for (const f of files) out.push(...(await readQAParquet(f)).map((r) => qaItemFromRow(r, split)));
  return out;
}
