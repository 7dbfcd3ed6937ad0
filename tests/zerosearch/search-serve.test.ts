import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { CorpusSearchEngine, makeDataset } from '@cohort/zerosearch';

const BIN = 'cli/bin/cohort.mjs';
const run = promisify(execFile);

test('cohort search serve CORPUS serves BM25 over the retrieval API; cohort search --engine retriever reads it; SIGTERM stops it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ds = makeDataset({ size: 'tiny', seed: 4 });
  const file = path.join(dir, 'wiki.jsonl');
  writeFileSync(file, ds.corpus.map((d) => JSON.stringify({ id: d.id, contents: `"${d.title}"\n${d.text}` })).join('\n') + '\n');
  const child = spawn(process.execPath, [BIN, 'search', 'serve', file, '--port', '0', '--topk', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`search serve exited ${code}: ${stderr}`)));
  });
  const info = JSON.parse(first) as { url: string; documents: number };
  t.is(info.documents, ds.corpus.length);
  t.regex(info.url, /^http:\/\/127\.0\.0\.1:\d+\/retrieve$/);

  const query = ds.test[0].question;
  const { stdout } = await run(process.execPath, [BIN, 'search', query, '--engine', 'retriever', '--url', info.url, '--topk', '3', '--json']);
  const r = JSON.parse(stdout) as { docs: string[]; engine: string; scores: number[] };
  const local = new CorpusSearchEngine(ds.corpus).retrieveScored(query, 3);
  t.is(r.engine, 'retriever');
  t.deepEqual(r.docs, local.map((h) => `${h.doc.title}: ${h.doc.text}`));
  t.deepEqual(r.scores, local.map((h) => h.score));
  // A request without topk gets the server's --topk.
  const res = await fetch(info.url, { method: 'POST', body: JSON.stringify({ queries: [query] }) });
  t.is(((await res.json()) as { result: unknown[][] }).result[0].length, 4);

  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
  t.regex(stderr, /"msg":"stopped"/);
});

test('cohort search --engine retriever / search serve: usage errors name the fix', async (t) => {
  const fail = async (args: string[]) => {
    try {
      await run(process.execPath, [BIN, ...args]);
    } catch (err) {
      return err as { code: number; stderr: string };
    }
    throw new Error(`expected ${args.join(' ')} to fail`);
  };
  const [noUrl, noCorpus] = await Promise.all([fail(['search', 'q', '--engine', 'retriever']), fail(['search', 'serve', '/nonexistent/wiki.jsonl', '--port', '0'])]);
  t.is(noUrl.code, 2);
  t.regex(noUrl.stderr, /--engine retriever needs one --url, the retrieval server's endpoint/);
  t.is(noCorpus.code, 2);
  t.regex(noCorpus.stderr, /corpus \/nonexistent\/wiki\.jsonl does not exist/);
});
