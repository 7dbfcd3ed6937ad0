import { benchCorpus } from '@cohort/zerosearch/bench';
import { parseFlags } from '../args.js';
import { commands } from '../registry.js';
import { intFlag } from './zerosearch-common.js';

commands.push({
  path: ['bench', 'corpus'],
  summary: 'benchmark corpus loading: streamed read, BM25 index build, memory per document, query throughput',
  usage: `Usage: cohort bench corpus [--docs N] [--words W] [--json]

Writes a synthetic wiki-18-style JSONL corpus (N passages of W Zipf-distributed words; default
100000 x 100), then measures: reading it as a stream, building the BM25 index from the stream,
the retained memory (after GC) of the index alone, of a corpus engine (documents + index) and of the
file-backed JSONL index (cohort search serve's), per document and per 100k documents, and BM25 queries/s in process and through the retrieval API.`,
  async run(argv) {
    const { values } = parseFlags(argv, { docs: { type: 'string' }, words: { type: 'string' }, json: { type: 'boolean' } }, false);
    const r = await benchCorpus({ docs: intFlag('docs', values.docs, 100_000, 1000), wordsPerDoc: intFlag('words', values.words, 100, 1) });
    if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
    else
      process.stdout.write(
        `corpus: ${r.documents} documents x ${r.wordsPerDoc} words, ${(r.fileBytes / 1e6).toFixed(1)} MB JSONL\n` +
          `streamed read: ${r.readDocsPerS.toFixed(0)} docs/s (${r.readMBPerS.toFixed(1)} MB/s); BM25 build from the stream: ${r.indexDocsPerS.toFixed(0)} docs/s\n` +
          `index: ${r.vocabulary} terms, ${r.postings} postings; ${r.indexBytesPerDoc.toFixed(0)} B/doc (${r.indexMiBPer100k.toFixed(1)} MiB per 100k docs)\n` +
          `engine (documents + index): ${r.engineBytesPerDoc.toFixed(0)} B/doc (${r.engineMiBPer100k.toFixed(1)} MiB per 100k docs); x 21M wiki-18 passages = ${r.wiki18EngineGiB.toFixed(1)} GiB\n` +
          `file-backed index (index + line ranges): ${r.fileIndexBytesPerDoc.toFixed(0)} B/doc (${r.fileIndexMiBPer100k.toFixed(1)} MiB per 100k docs); x 21M = ${r.wiki18FileIndexGiB.toFixed(1)} GiB\n` +
          `queries: ${r.queryQps.toFixed(0)}/s in process, ${r.fileIndexQps.toFixed(0)}/s file-backed, ${r.apiQps.toFixed(0)}/s through POST /retrieve (64 a request)\n`,
      );
    return 0;
  },
});
