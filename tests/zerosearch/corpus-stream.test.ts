import test from 'ava';
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readCorpusFile, streamCorpus } from '@cohort/zerosearch';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

test('JSONL corpus: line numbers count blank lines; CRLF and a BOM are accepted; errors name file and line', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-jsonl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ok = path.join(dir, 'ok.jsonl');
  writeFileSync(ok, '\ufeff{"id": "a", "contents": "\\"A\\"\\nalpha"}\r\n\r\n{"id": "b", "title": "B", "text": "beta"}\r\n{"contents": "no id"}');
  t.deepEqual((await readCorpusFile(ok)).map((d) => [d.id, d.title, d.text]), [['a', 'A', 'alpha'], ['b', 'B', 'beta'], ['2', '', 'no id']]);
  const bad = path.join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"id": 1, "text": "x"}\n\n\n{"id": 2, "text": broken}\n');
  await t.throwsAsync(readCorpusFile(bad), { message: `${bad}: line 4 is not JSON; a corpus is JSONL (one JSON document a line) or parquet, each document either wiki-18 style {"id", "contents": "\\"Title\\"\\ntext"} or {"id", "title", "text"}` });
  const shape = path.join(dir, 'shape.jsonl');
  writeFileSync(shape, '{"id": 1, "text": "x"}\n[1, 2]\n');
  await t.throwsAsync(readCorpusFile(shape), { message: new RegExp(`shape\\.jsonl: line 2: a document must be a JSON object`) });
  const empty = path.join(dir, 'empty.jsonl');
  writeFileSync(empty, '\n\n');
  await t.throwsAsync(readCorpusFile(empty), { message: /empty\.jsonl: the corpus has no documents/ });
  await t.throwsAsync(readCorpusFile(path.join(dir, 'nope.jsonl')), { message: /nope\.jsonl: cannot read the corpus \(ENOENT/ });
});

test('a JSONL corpus larger than the heap streams through with bounded memory (child process, 64 MiB old space)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-bigcorpus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.jsonl');
  // ~200 MB: 400k wiki-18-style passages of ~500 bytes.
  const out = createWriteStream(file);
  const filler = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua '.repeat(4);
  const lines = 400_000;
  for (let i = 0; i < lines; i += 1000) {
    let chunk = '';
    for (let j = i; j < i + 1000; j++) chunk += JSON.stringify({ id: String(j), contents: `"Title ${j}"\n${j} ${filler}` }) + '\n';
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  const bytes = statSync(file).size;
  t.true(bytes > 190e6, `${bytes} bytes`);
  const script = `
    import { streamCorpus } from '@cohort/zerosearch';
    let n = 0, chars = 0, peak = 0;
    for await (const batch of streamCorpus(${JSON.stringify(file)})) {
      for (const d of batch) { n++; chars += d.text.length; }
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    process.stdout.write(JSON.stringify({ n, chars, peakMiB: peak / 2 ** 20 }));`;
  const { stdout } = await run(process.execPath, ['--max-old-space-size=64', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout) as { n: number; chars: number; peakMiB: number };
  t.is(r.n, lines);
  t.true(r.peakMiB < 64, `peak heap ${r.peakMiB.toFixed(1)} MiB`);
  t.log(`streamed ${(bytes / 1e6).toFixed(0)} MB, ${r.n} docs, peak heap ${r.peakMiB.toFixed(1)} MiB under --max-old-space-size=64`);
  // The same reader in this process agrees on the first batch.
  for await (const batch of streamCorpus(file)) {
    t.deepEqual([batch[0].id, batch[0].title], ['0', 'Title 0']);
    break;
  }
});
