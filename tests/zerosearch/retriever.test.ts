import test from 'ava';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { CorpusSearchEngine, JsonlCorpusIndex, makeDataset, readCorpusFile, RetrieverSearchEngine, startRetrieverServer } from '@cohort/zerosearch';

const ds = makeDataset({ size: 'tiny', seed: 5 });
const corpus = new CorpusSearchEngine(ds.corpus, { topk: 5 });
const queries = ds.test.slice(0, 12).map((q) => q.question);

async function post(url: string, body: string | object): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A scripted HTTP server on a free loopback port. */
async function fake(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string; calls: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res, n++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/retrieve`,
    calls: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('retrieval API both ways: the retriever engine over cohort\'s server returns the corpus engine\'s documents', async (t) => {
  const server = await startRetrieverServer({ engine: corpus });
  t.teardown(() => server.close());
  const plain = new RetrieverSearchEngine({ url: server.url, titles: false, batchSize: 5 });
  const viaApi = await plain.search(queries.map((query) => ({ query })));
  const local = await corpus.search(queries.map((query) => ({ query })));
  t.deepEqual(viaApi.map((r) => r.docs), local.map((r) => r.docs));
  t.deepEqual(viaApi.map((r) => r.text), local.map((r) => r.text));
  t.is(server.stats.requests, 3); // 12 queries in batches of 5
  for (const r of viaApi) {
    t.is(r.engine, 'retriever');
    t.is(r.scores!.length, r.docs.length);
    t.true(r.scores!.every((s, i) => i === 0 || s <= r.scores![i - 1]));
  }
  const titled = await new RetrieverSearchEngine({ url: server.url, topk: 2 }).search([{ query: queries[0] }]);
  const top = corpus.retrieve(queries[0], 2);
  t.deepEqual(titled[0].docs, top.map((d) => `${d.title}: ${d.text}`));
  // The wire format is Search-R1's: contents "\"Title\"\ntext", scores when asked, docs alone when not.
  const raw = await post(server.url, { queries: [queries[0]], topk: 2, return_scores: true });
  t.deepEqual(raw.json.result, [top.map((d, i) => ({ document: { id: d.id, contents: `"${d.title}"\n${d.text}` }, score: corpus.retrieveScored(queries[0], 2)[i].score }))]);
  const noScores = await post(server.url, { queries: [queries[0], 'zzqx unknown words'] });
  t.deepEqual(noScores.json.result, [top.concat(corpus.retrieve(queries[0], 5).slice(2)).map((d) => ({ id: d.id, contents: `"${d.title}"\n${d.text}` })), []]);
});

test('retrieval server: junk and oversized requests get clear errors and bounded work', async (t) => {
  const server = await startRetrieverServer({ engine: corpus, maxQueries: 4, maxTopk: 10, maxBodyBytes: 2048, maxQueryChars: 100 });
  t.teardown(() => server.close());
  const cases: [string | object, number, RegExp][] = [
    ['not json', 400, /not JSON/],
    [{ queries: 'one' }, 422, /queries: .*expected array/],
    [{ query: ['a'] }, 422, /queries/],
    [{ queries: ['a'], topk: 0 }, 422, /topk/],
    [{ queries: ['a'], topk: 11 }, 422, /topk 11 is over the limit of 10/],
    [{ queries: ['a', 'b', 'c', 'd', 'e'] }, 413, /5 queries .* limit is 4/],
    [{ queries: ['x'.repeat(101)] }, 422, /queries\.0 is 101 characters/],
    [{ queries: ['x'.repeat(3000)] }, 413, /over the 2048-byte limit/],
  ];
  for (const [body, status, re] of cases) {
    const r = await post(server.url, body);
    t.is(r.status, status, JSON.stringify(body).slice(0, 60));
    t.regex(String(r.json.detail), re);
  }
  const get = await fetch(server.url);
  t.is(get.status, 405);
  const other = await fetch(server.url.replace('/retrieve', '/search'), { method: 'POST', body: '{}' });
  t.is(other.status, 404);
  t.regex(((await other.json()) as { detail: string }).detail, /use POST \/retrieve/);
  const health = await fetch(server.url.replace('/retrieve', '/health'));
  t.deepEqual(await health.json(), { status: 'ok', documents: ds.corpus.length });
  // Still serving after the junk.
  t.is((await post(server.url, { queries: ['a'], topk: 1 })).status, 200);
});

test('retriever engine: retries a server that fails then answers; times out on one that stops answering; refuses junk', async (t) => {
  // 503 twice, then a Search-R1 answer without scores and FlashRAG-style {title, text} documents.
  const flaky = await fake((_req, res, n) => {
    if (n < 2) return res.writeHead(503).end('{"detail":"busy"}');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ result: [[{ id: '7', contents: '"Velport"\nVelport is a city.' }, { id: 8, title: 'Ostria', text: 'Ostria is a land.' }]] }));
  });
  t.teardown(() => flaky.close());
  const e1 = new RetrieverSearchEngine({ url: flaky.url, backoffMs: 5, maxRetries: 3 });
  const [r] = await e1.search([{ query: 'velport' }]);
  t.deepEqual(r.docs, ['Velport: Velport is a city.', 'Ostria: Ostria is a land.']);
  t.is(r.scores, undefined);
  t.like(e1.metrics, { attempts: 3, retries: 2, succeeded: 1, failed: 0 });

  // Accepts the connection and never answers: each attempt times out, then a clear error.
  const silent = await fake(() => undefined);
  t.teardown(() => silent.close());
  const e2 = new RetrieverSearchEngine({ url: silent.url, timeoutMs: 150, maxRetries: 1, backoffMs: 5 });
  const t0 = Date.now();
  await t.throwsAsync(e2.search([{ query: 'a' }]), { name: 'RetrieverUnavailableError', message: /not answering after 2 attempt\(s\): timed out after 150 ms.*cohort search serve/ });
  t.true(Date.now() - t0 < 5000);
  t.is(e2.metrics.timeouts, 2);

  const junk = await fake((req, res, n) => {
    if (req.url === '/wrong') return res.writeHead(404).end('{"detail":"Not Found"}');
    res.setHeader('content-type', 'application/json');
    res.end(n % 2 ? JSON.stringify({ result: [[], []] }) : JSON.stringify({ docs: ['x'] }));
  });
  t.teardown(() => junk.close());
  const e3 = new RetrieverSearchEngine({ url: junk.url, maxRetries: 0 });
  await t.throwsAsync(e3.search([{ query: 'a' }]), { message: /answered a body that is not the retrieval API's .* \(at result: / });
  await t.throwsAsync(e3.search([{ query: 'a' }]), { message: /answered 2 result list\(s\) for 1 queries/ });
  const e4 = new RetrieverSearchEngine({ url: junk.url.replace('/retrieve', '/wrong'), maxRetries: 3 });
  await t.throwsAsync(e4.search([{ query: 'a' }]), { message: /refused the request \(HTTP 404: .*Not Found.*\); check that the url is the server's \/retrieve endpoint/ });
  t.is(e4.metrics.attempts, 1); // a 4xx is not retried

  // Nothing listening.
  const port = (await fake(() => undefined).then(async (f) => (await f.close(), new URL(f.url).port)));
  await t.throwsAsync(new RetrieverSearchEngine({ url: `http://127.0.0.1:${port}/retrieve`, maxRetries: 0 }).search([{ query: 'a' }]), { message: /not answering after 1 attempt\(s\): ECONNREFUSED/ });
  t.throws(() => new RetrieverSearchEngine({ url: 'ftp://x/retrieve' }), { message: /must be http/ });
  t.throws(() => new RetrieverSearchEngine({ url: 'http://x/retrieve', topk: 0 }), { message: /topk/ });
});

test('JsonlCorpusIndex: same hits and documents as the in-memory engine, documents read back from the file; a changed file is refused', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-lean-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'wiki.jsonl');
  // BOM, CRLF, blank lines and non-ASCII text: byte offsets must still land on each line.
  const lines = ds.corpus.map((d, i) => JSON.stringify(i % 3 ? { id: d.id, contents: `"${d.title}"\n${d.text} — ü字` } : { id: d.id, title: d.title, text: d.text }));
  writeFileSync(file, '\ufeff' + lines.join('\r\n\r\n') + '\n');
  const index = await JsonlCorpusIndex.build(file, { topk: 5 });
  t.teardown(() => index.close());
  const memory = await CorpusSearchEngine.fromFile(file);
  t.is(index.size, ds.corpus.length);
  t.deepEqual(memory.docs, await readCorpusFile(file));
  for (const q of queries) t.deepEqual(index.retrieveScored(q), memory.retrieveScored(q));
  t.deepEqual(index.doc(0), memory.docs[0]);
  const server = await startRetrieverServer({ engine: index });
  t.teardown(() => server.close());
  const viaApi = await new RetrieverSearchEngine({ url: server.url, titles: false }).search([{ query: queries[0] }]);
  t.deepEqual(viaApi[0].docs, memory.retrieve(queries[0]).map((d) => d.text));
  appendFileSync(file, JSON.stringify({ id: 'late', text: 'added later' }) + '\n');
  t.throws(() => index.retrieveScored(queries[0]), { message: /wiki\.jsonl changed after it was indexed; restart to index it again/ });
});
