import { benchZeroSearch } from '@cohort/zerosearch/bench';
import { parseFlags } from '../args.js';
import { commands } from '../registry.js';
import { intFlag, sizeFlag } from './zerosearch-common.js';

commands.push({
  path: ['bench', 'zerosearch'],
  summary: 'benchmark the ZeroSearch environment: BM25 index vs scan, simulator server throughput',
  usage: `Usage: cohort bench zerosearch [--size tiny|small|default|large] [--queries N] [--requests N] [--json]

Makes a world (default size large), then measures BM25 queries/s over the inverted index against
a same-run full scan (results must agree), and simulator requests/s through the OpenAI-compatible
server one at a time against 32 in flight. Figures are ratios to same-run baselines.`,
  async run(argv) {
    const { values } = parseFlags(argv, { size: { type: 'string' }, queries: { type: 'string' }, requests: { type: 'string' }, json: { type: 'boolean' } }, false);
    const r = await benchZeroSearch({ size: sizeFlag(values.size ?? 'large'), queries: intFlag('queries', values.queries, 400, 1), requests: intFlag('requests', values.requests, 128, 1) });
    if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
    else
      process.stdout.write(
        `world: ${r.documents} documents, made in ${r.dataMakeMs.toFixed(0)} ms\n` +
          `BM25 recall@5 of hop queries: ${(100 * r.recallAt5).toFixed(1)}%\n` +
          `BM25 inverted index: ${r.indexQps.toFixed(0)} queries/s; full scan: ${r.scanQps.toFixed(0)} queries/s; index/scan = ${r.indexVsScan.toFixed(1)}x\n` +
          `simulator server: sequential ${r.serverSequentialRps.toFixed(0)} req/s; 32 in flight ${r.serverConcurrentRps.toFixed(0)} req/s; ratio ${r.concurrentVsSequential.toFixed(2)}x\n`,
      );
    return 0;
  },
});
