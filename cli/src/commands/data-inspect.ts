import { readQAParquet } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag } from './zerosearch-common.js';

commands.push({
  path: ['data', 'inspect'],
  summary: 'check a Search-R1/ZeroSearch QA parquet and show a summary and its first rows',
  usage: `Usage: cohort data inspect FILE.parquet [--head N] [--json]

Reads a QA parquet (Cohort's or a Search-R1/ZeroSearch reference file), validates the columns
(question, golden_answers, ...) and prints the row count, splits, data sources and the first N rows.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { head: { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('give exactly one parquet file');
    const rows = await readQAParquet(positionals[0]);
    const head = intFlag('head', values.head, 3, 0);
    const count = (key: (r: (typeof rows)[number]) => string) => rows.reduce<Record<string, number>>((a, r) => ((a[key(r)] = (a[key(r)] ?? 0) + 1), a), {});
    const summary = { file: positionals[0], rows: rows.length, splits: count((r) => r.extra_info.split), sources: count((r) => r.data_source), head: rows.slice(0, head) };
    if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else {
      process.stdout.write(`${summary.file}: ${summary.rows} rows; splits ${JSON.stringify(summary.splits)}; sources ${JSON.stringify(summary.sources)}\n`);
      for (const r of summary.head) process.stdout.write(`  [${r.id}] ${r.question} -> ${r.golden_answers.join(' | ')}\n`);
    }
    return 0;
  },
});
