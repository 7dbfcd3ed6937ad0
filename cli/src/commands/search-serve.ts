import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { CorpusSearchEngine, DATASET_FILES, JsonlCorpusIndex, startRetrieverServer, type ScoredRetriever } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag } from './zerosearch-common.js';

commands.push({
  path: ['search', 'serve'],
  summary: "serve a corpus's BM25 over the Search-R1 retrieval API (POST /retrieve)",
  usage: `Usage: cohort search serve CORPUS [--port P] [--host H] [--topk K] [--max-queries N] [--max-body-bytes B]

Indexes CORPUS with BM25 as it streams in and serves it the way Search-R1's retrieval_server.py
serves e5 + FAISS over wiki-18, so the retriever engine (and any Search-R1/ZeroSearch client) can use it:
  POST /retrieve  {"queries": ["..."], "topk": 3, "return_scores": true}
               -> {"result": [[{"document": {"id", "contents": "\\"Title\\"\\ntext"}, "score"}, ...], ...]}
  GET /health     {"status": "ok", "documents": N}
CORPUS is a JSONL or parquet corpus (wiki-18 {"id", "contents"} or {"id", "title", "text"} rows), or a
directory made by cohort data make (its corpus.jsonl). The BM25 index is held in memory; the documents
of a JSONL corpus are read back from the file per query (12 bytes a document in memory; the file must
not change while served), those of a parquet corpus are held in memory. Prints {"url", "documents", ...} on stdout once
listening (default port 8000; 0 picks a free one); runs until interrupted.
  --topk K            documents per query when a request gives no topk (default 3, as Search-R1)
  --max-queries N     most queries in one request (default 512)
  --max-body-bytes B  largest request body (default 1048576)`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      topk: { type: 'string' },
      'max-queries': { type: 'string' },
      'max-body-bytes': { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('give one corpus: cohort search serve CORPUS [--port P], CORPUS a .jsonl / .parquet file or a cohort data make directory');
    let file = positionals[0];
    if (!existsSync(file)) throw new UsageError(`corpus ${file} does not exist`);
    if (statSync(file).isDirectory()) {
      file = join(file, DATASET_FILES.corpus);
      if (!existsSync(file)) throw new UsageError(`${positionals[0]} is a directory without ${DATASET_FILES.corpus}; make one with cohort data make --out DIR, or give a corpus file`);
    }
    const port = intFlag('port', values.port, 8000, 0);
    if (port > 65535) throw new UsageError(`--port must be <= 65535, got ${port}`);
    const topk = intFlag('topk', values.topk, 3, 1);
    if (topk > 100) throw new UsageError(`--topk must be <= 100, got ${topk}`);
    const maxQueries = intFlag('max-queries', values['max-queries'], 512, 1);
    const maxBodyBytes = intFlag('max-body-bytes', values['max-body-bytes'], 1 << 20, 1024);
    const log = pino({ level: 'info' }, pino.destination(2)).child({ cmd: 'search serve' });
    const t0 = performance.now();
    let lastLog = 0;
    const progress = (n: number) => {
      if (n - lastLog >= 1_000_000) log.info({ documents: (lastLog = n) }, 'indexing');
    };
    // JSONL: only each line's byte range stays in memory, documents are read back per query; parquet: documents in memory.
    const lean = !file.endsWith('.parquet');
    const engine: ScoredRetriever & { close?(): void } = lean ? await JsonlCorpusIndex.build(file, { topk }, progress) : await CorpusSearchEngine.fromFile(file, { topk }, progress);
    const indexS = (performance.now() - t0) / 1000;
    let server;
    try {
      server = await startRetrieverServer({ engine, port, host: values.host ?? '127.0.0.1', maxQueries, maxBodyBytes, defaultTopk: topk, logger: log });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new Error(`port ${port} is already in use; pick another with --port (0 picks a free one)`);
      throw err;
    }
    const heapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
    process.stdout.write(JSON.stringify({ url: server.url, documents: engine.size, corpus: file, documentsIn: lean ? 'file' : 'memory', indexSeconds: Number(indexS.toFixed(2)), heapMiB }) + '\n');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    engine.close?.();
    log.info(server.stats, 'stopped');
    return 0;
  },
});
