import type { RunReport } from './report.js';

/**
 * The printed results table: EM single-hop, EM two-hop, average (and
 * cover-EM), turns and searches per question; before and after RL, and the
 * change. Plain text, fixed-width columns.
 */
export function formatResultsTable(report: RunReport): string {
  const rows: Array<[string, number, number, number]> = [
    ['EM single-hop (%)', report.em_singlehop_before, report.em_singlehop_after, 1],
    ['EM two-hop (%)', report.em_twohop_before, report.em_twohop_after, 1],
    ['EM average (%)', report.em_before, report.em_after, 1],
    ['cover-EM average (%)', report.cover_em_before, report.cover_em_after, 1],
    ['turns / question', report.turns_per_question_before, report.turns_per_question_after, 2],
    ['searches / question', report.searches_per_question_before, report.searches_per_question_after, 2],
  ];
  if (typeof report.dev_em_before === 'number' && typeof report.dev_em_after === 'number') rows.push(['dev EM average (%)', report.dev_em_before, report.dev_em_after, 1]);
  const header = ['metric', 'before', 'after', 'change'];
  const body = rows.map(([name, b, a, digits]) => {
    const d = a - b;
    return [name, b.toFixed(digits), a.toFixed(digits), (d >= 0 ? '+' : '') + d.toFixed(digits)];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const sizes = report.splits_sizes;
  const of = (k: 'dev' | 'test') => (sizes?.[k] ? `${k} ${sizes[k].evaluated} of ${sizes[k].pool}` : '');
  const counted = [of('test'), of('dev')].filter(Boolean).join(', ');
  return [
    `run ${report.run} (seed ${report.seed}, ${report.algorithm}, ${report.steps} steps, ${report.wall_s.toFixed(0)} s)${report.arm === 'control' ? ': CONTROL arm (warm-start SFT instead of RL)' : ''}`,
    `EM rows are the test questions${counted ? ` (questions evaluated: ${counted})` : ''}; the dev row is the dev questions`,
    line(header),
    rule,
    ...body.map(line),
  ].join('\n') + '\n';
}
