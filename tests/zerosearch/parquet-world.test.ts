import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { makeDataset, qaItemFromRow, readCorpusFile, readQAItems, toQARow, writeQAParquet } from '@cohort/zerosearch';

test('corpus files: wiki-18 jsonl, title/text jsonl and parquet read alike; bad lines are named', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-corpus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'wiki.jsonl'), '{"id": "1", "contents": "\\"Paris\\"\\nParis is the capital of France."}\n\n{"id": "2", "contents": "no title line"}\n');
  const wiki = await readCorpusFile(path.join(dir, 'wiki.jsonl'));
  t.deepEqual(wiki.map((d) => [d.id, d.title, d.text]), [['1', 'Paris', 'Paris is the capital of France.'], ['2', '', 'no title line']]);
  writeFileSync(path.join(dir, 'plain.jsonl'), JSON.stringify({ id: 'a', title: 'T', text: 'body' }) + '\n');
  t.deepEqual((await readCorpusFile(path.join(dir, 'plain.jsonl'))).map((d) => [d.title, d.text]), [['T', 'body']]);
  const buf = parquetWriteBuffer({ columnData: [{ name: 'id', data: ['x', 'y'] }, { name: 'contents', data: ['"A"\nalpha', '"B"\nbeta'] }] });
  writeFileSync(path.join(dir, 'c.parquet'), new Uint8Array(buf));
  t.deepEqual((await readCorpusFile(path.join(dir, 'c.parquet'))).map((d) => [d.id, d.title, d.text]), [['x', 'A', 'alpha'], ['y', 'B', 'beta']]);
  writeFileSync(path.join(dir, 'bad.jsonl'), '{"id": 1, "contents": "ok"}\nnot json\n');
  await t.throwsAsync(readCorpusFile(path.join(dir, 'bad.jsonl')), { message: /line 2 is not JSON/ });
  writeFileSync(path.join(dir, 'none.jsonl'), '{"id": 1, "body": "x"}\n');
  await t.throwsAsync(readCorpusFile(path.join(dir, 'none.jsonl')), { message: /neither "contents".*nor "text"/ });
  await t.throwsAsync(readCorpusFile(path.join(dir, 'absent.jsonl')), { message: /cannot read the corpus/ });
});

test('QA parquet rows become questions: hops from extra_info, else from the data source', async (t) => {
  const ds = makeDataset({ size: 'tiny', seed: 3 });
  const one = ds.test.find((q) => q.hops === 1)!;
  const two = ds.test.find((q) => q.hops === 2)!;
  const row2 = toQARow(two, 0);
  t.is(qaItemFromRow(row2, 'test').hops, 2);
  t.is(qaItemFromRow({ ...row2, data_source: 'nq', extra_info: { split: 'test', index: 0 } }, 'test').hops, 1);
  t.is(qaItemFromRow({ ...toQARow(one, 0), data_source: 'musique', extra_info: { split: 'test', index: 0 } }, 'test').hops, 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-qa-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeQAParquet(path.join(dir, 'a.parquet'), ds.train.slice(0, 3).map(toQARow));
  await writeQAParquet(path.join(dir, 'b.parquet'), ds.train.slice(3, 5).map(toQARow));
  const items = await readQAItems([path.join(dir, 'a.parquet'), path.join(dir, 'b.parquet')], 'train');
  t.deepEqual(items.map((q) => q.question), ds.train.slice(0, 5).map((q) => q.question));
  t.deepEqual(items[0].goldenAnswers, ds.train[0].goldenAnswers);
});
