import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { HttpSearchEngine, makeDataset, readQAParquet, toQARow, writeQAParquet } from '@cohort/zerosearch';

test('http engine speaks the SerpAPI shape to a local server', async (t) => {
  const seen: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    seen.push(u.searchParams);
    res.setHeader('content-type', 'application/json');
    if (u.searchParams.get('q') === 'boom') return res.writeHead(500).end('{"error":"down"}');
    if (u.searchParams.get('api_key') !== 'k1') return res.end(JSON.stringify({ error: 'Invalid API key' }));
    const n = Number(u.searchParams.get('num'));
    res.end(JSON.stringify({ organic_results: Array.from({ length: n + 2 }, (_, i) => ({ title: `T${i}`, snippet: `about ${u.searchParams.get('q')} ${i}`, link: 'x' })) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/search`;
  const engine = new HttpSearchEngine({ url, apiKey: 'k1', params: { engine: 'google' } });
  const [r1, r2] = await engine.search([{ query: 'velport' }, { query: 'ostria capital' }]);
  t.is(r1.docs.length, 5);
  t.is(r1.docs[0], 'T0: about velport 0');
  t.regex(r2.text, /^Doc 1: T0: about ostria capital 0\n/);
  t.is(seen[0].get('num'), '5');
  t.is(seen[0].get('engine'), 'google');
  await t.throwsAsync(engine.search([{ query: 'boom' }]), { message: /http search for "boom" .* failed: HTTP 500/ });
  const wrong = new HttpSearchEngine({ url, apiKey: 'nope' });
  await t.throwsAsync(wrong.search([{ query: 'a' }]), { message: /server says "Invalid API key"/ });
  t.throws(() => new HttpSearchEngine({ url, apiKey: '' }), { message: /needs an API key/ });
});

test('http engine retries 5xx and timeouts with backoff; errors never show the API key', async (t) => {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    const u = new URL(req.url!, 'http://x');
    if (u.searchParams.get('q') === 'hang') return; // never answers
    if (calls <= 2) return res.writeHead(503).end('busy');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ organic_results: [{ title: 'T', snippet: 'ok' }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/search`;
  const engine = new HttpSearchEngine({ url, apiKey: 'secret-key-123', backoffMs: 5, maxRetries: 2 });
  const [r] = await engine.search([{ query: 'velport' }]);
  t.deepEqual(r.docs, ['T: ok']);
  t.like(engine.metrics, { attempts: 3, retries: 2, succeeded: 1 });
  const short = new HttpSearchEngine({ url, apiKey: 'secret-key-123', backoffMs: 5, maxRetries: 2, timeoutMs: 150 });
  const err = await t.throwsAsync(short.search([{ query: 'hang' }]), { message: /http search for "hang" at .*\/search failed: timed out after 150 ms \(3 attempt\(s\)\)/ });
  t.false(err!.message.includes('secret-key-123'));
});

test('parquet: Search-R1 schema round-trips; bad files get errors naming the file and column', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zs-pq-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ds = makeDataset({ size: 'tiny', seed: 2 });
  const rows = ds.test.map(toQARow);
  const file = join(dir, 'test.parquet');
  await writeQAParquet(file, rows);
  const back = await readQAParquet(file);
  t.deepEqual(back, rows);
  // A reference-style file: no id column, extra_info {split, index} only, golden_answers a list.
  const refLike = join(dir, 'nq.parquet');
  const str = (name: string) => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
  const refRows = [{ question: 'who wrote hamlet?', golden_answers: ['Shakespeare', 'William Shakespeare'], data_source: 'nq', extra_info: { split: 'train', index: 3n } }];
  await writeFile(
    refLike,
    new Uint8Array(
      parquetWriteBuffer({
        columnData: ['question', 'golden_answers', 'data_source', 'extra_info'].map((name) => ({ name, data: refRows.map((r) => r[name as keyof typeof r]) })) as never,
        schema: [
          { name: 'schema', num_children: 4 },
          str('question'),
          { name: 'golden_answers', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          str('element'),
          str('data_source'),
          { name: 'extra_info', repetition_type: 'OPTIONAL', num_children: 2 },
          str('split'),
          { name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' },
        ] as never,
      }),
    ),
  );
  const [nq] = await readQAParquet(refLike);
  t.like(nq, { id: 'train_0', question: 'who wrote hamlet?', golden_answers: ['Shakespeare', 'William Shakespeare'], data_source: 'nq', extra_info: { split: 'train', index: 3 } });
  t.deepEqual(nq.reward_model.ground_truth.target, ['Shakespeare', 'William Shakespeare']);
  // Columns missing: the error names the file and the column.
  const ref = join(dir, 'ref.parquet');
  const refBuf = parquetWriteBuffer({
    columnData: [
      { name: 'question', data: ['who wrote hamlet?'], type: 'STRING' },
      { name: 'data_source', data: ['nq'], type: 'STRING' },
    ],
  });
  await writeFile(ref, new Uint8Array(refBuf));
  await t.throwsAsync(readQAParquet(ref), { message: new RegExp(`${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: missing column "golden_answers"`) });
  const noQ = join(dir, 'noq.parquet');
  await writeFile(noQ, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'id', data: ['a'], type: 'STRING' }] })));
  await t.throwsAsync(readQAParquet(noQ), { message: /missing column "question"/ });
  const junk = join(dir, 'junk.parquet');
  await writeFile(junk, 'not parquet at all');
  await t.throwsAsync(readQAParquet(junk), { message: /junk\.parquet: not a parquet file/ });
  await t.throwsAsync(readQAParquet(join(dir, 'missing.parquet')), { message: /cannot read file/ });
});
