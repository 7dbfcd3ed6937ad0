import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openParquet, parquetRowGroups, questionFromPrompt, readQAItems, readQAParquet, streamCorpus, policyInstruction } from '@cohort/zerosearch';

// Fixtures written by pyarrow, polars and fastparquet (tests/zerosearch/fixtures/make_parquet_fixtures.py).
const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const expected = JSON.parse(readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as {
  qa: { id: string; question: string; golden_answers: string[]; data_source: string; prompt: { role: string; content: string }[]; extra_info: { split: string; index: number } }[];
  corpus: { id: string; contents: string }[];
  verl_questions: string[];
};

const QA_FILES: [string, string][] = [
  ['qa-snappy.parquet', 'SNAPPY'],
  ['qa-gzip.parquet', 'GZIP'],
  ['qa-brotli.parquet', 'BROTLI'],
  ['qa-zstd.parquet', 'ZSTD'],
  ['qa-zstd-pagev2.parquet', 'ZSTD'],
  ['qa-lz4raw.parquet', 'LZ4_RAW'],
  ['qa-polars-zstd.parquet', 'ZSTD'],
];

async function codecOf(file: string): Promise<string> {
  const pf = await openParquet(file);
  try {
    return pf.metadata.row_groups[0].columns[0].meta_data!.codec;
  } finally {
    await pf.close();
  }
}

for (const [name, codec] of QA_FILES) {
  test(`QA parquet from another writer reads exactly: ${name} (${codec})`, async (t) => {
    const file = path.join(FIX, name);
    t.is(await codecOf(file), codec);
    const rows = await readQAParquet(file);
    t.is(rows.length, expected.qa.length);
    rows.forEach((r, i) => {
      const e = expected.qa[i];
      t.like(r, { id: e.id, question: e.question, golden_answers: e.golden_answers, data_source: e.data_source, ability: 'fact-reasoning', extra_info: e.extra_info });
      t.deepEqual(r.prompt, e.prompt);
      t.deepEqual(r.reward_model, { style: 'rule', ground_truth: { target: e.golden_answers } });
    });
  });
}

test('LZ4 codec: the Hadoop framing and a bare block (fastparquet) both read', async (t) => {
  for (const name of ['flat-lz4-hadoop.parquet', 'flat-lz4-block.parquet']) {
    const file = path.join(FIX, name);
    t.is(await codecOf(file), 'LZ4', name);
    const rows: Record<string, unknown>[] = [];
    for await (const g of parquetRowGroups(file)) rows.push(...g.rows);
    t.deepEqual(
      rows.map((r) => [r.id, r.question, r.answer]),
      expected.qa.map((e) => [e.id, e.question, e.golden_answers[0]]),
      name,
    );
  }
});

test('verl-style file: questions come from the prompt (template question, else the user turn)', async (t) => {
  const file = path.join(FIX, 'verl-prompt-zstd.parquet');
  const rows = await readQAParquet(file);
  t.deepEqual(
    rows.map((r) => r.question),
    expected.verl_questions,
  );
  t.deepEqual(rows[1].golden_answers, ['2', 'two']);
  t.deepEqual(rows.map((r) => r.id), ['test_0', 'test_1', 'test_2']);
  const items = await readQAItems([file], 'test');
  t.is(items[0].question, 'who discovered penicillin?');
  // Cohort's own instruction parses back too; a string prompt and a prompt without a user turn.
  t.is(questionFromPrompt([{ role: 'user', content: policyInstruction('Where is Velport?') }]), 'Where is Velport?');
  t.is(questionFromPrompt('what is 2 + 2?'), 'what is 2 + 2?');
  t.is(questionFromPrompt([{ role: 'system', content: 'x' }]), null);
});

test('corpus parquet streams one row group at a time; errors name the file and rows', async (t) => {
  const file = path.join(FIX, 'corpus-zstd-rowgroups.parquet');
  const sizes: number[] = [];
  const docs = [];
  for await (const batch of streamCorpus(file)) {
    sizes.push(batch.length);
    docs.push(...batch);
  }
  t.deepEqual(sizes, [16, 16, 8]);
  t.deepEqual(
    docs.map((d) => [d.id, `"${d.title}"\n${d.text}`]),
    expected.corpus.map((e) => [e.id, e.contents]),
  );
  // Corrupt compressed bytes inside the first column chunk: the error names the file and the rows.
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-pqbad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, 'bad.parquet');
  copyFileSync(file, bad);
  const pf = await openParquet(bad);
  const col = pf.metadata.row_groups[0].columns.find((c) => c.meta_data!.path_in_schema[0] === 'contents')!.meta_data!;
  await pf.close();
  const bytes = readFileSync(bad);
  const start = Number(col.dictionary_page_offset ?? col.data_page_offset);
  for (let i = start + 24; i < start + Number(col.total_compressed_size) - 4; i++) bytes[i] ^= 0x5a;
  writeFileSync(bad, bytes);
  const err = await t.throwsAsync(async () => {
    for await (const _ of streamCorpus(bad)) void _;
  });
  t.regex(err!.message, /bad\.parquet: /);
  t.regex(err!.message, /rows 0\.\.15|row 0/);
  await t.throwsAsync(readQAParquet(path.join(FIX, 'corpus-zstd-rowgroups.parquet')), { message: /corpus-zstd-rowgroups\.parquet: missing column "question"/ });
});
