// `runs/<exp>/results.md`: the experiment's table (mean ± std, 95% CI over
// seeds) with the size of one question's effect, and links to its plots.
import type { ArmResults, ExperimentResults, Figure } from './experiment-results.js';

const f1 = (x: number) => (Math.abs(x) < 0.05 ? '0.0' : x.toFixed(1));
const cell = (f: Figure) => `${f1(f.mean)} ± ${f1(f.std)} [${f1(f.ci95[0])}, ${f1(f.ci95[1])}]`;

/** Plot files the CLI writes next to results.md. */
export const EXPERIMENT_PLOTS = { em: 'em-per-arm.svg', gain: 'gain-per-arm.svg', devCurve: 'dev-em-curve.svg' } as const;

/** The results table in Markdown. */
export function experimentMarkdown(r: ExperimentResults): string {
  const splits = [...new Set(r.arms.flatMap((a) => Object.keys(a.splits)))];
  const lines = [
    `# Experiment ${r.experiment}`,
    '',
    `Base config \`${r.base}\`; seeds ${r.seeds.join(', ')}; ${r.runs.length} runs. Figures are test EM in percent: mean ± sample std over seeds, [95% CI of the mean] (Student t, n − 1 dof).`,
    '',
    `| arm | EM before | EM after | gain | ${splits.map((s) => `${s} after | ${s} gain`).join(' | ')} | wall s (mean) |`,
    `|---|---|---|---|${splits.map(() => '---|---').join('|')}|---|`,
    ...r.arms.map((a: ArmResults) => `| ${a.name} | ${cell(a.em_before)} | ${cell(a.em_after)} | ${cell(a.em_gain)} | ${splits.map((s) => (a.splits[s] ? `${cell(a.splits[s].em_after)} | ${cell(a.splits[s].em_gain)}` : '– | –')).join(' | ')} | ${a.wall_s.mean.toFixed(0)} |`),
    '',
    'Questions per test split (one question moves that split\'s EM by 100/N points):',
    '',
    ...splits.map((s) => {
      const q = r.arms.find((a) => a.splits[s])!.splits[s].questions;
      return `- ${s}: ${q} questions (one question = ${(100 / q).toFixed(1)} points)`;
    }),
    '',
    ...(r.comparisons.length
      ? [
          'Paired comparisons: per seed, the first arm\'s EM after training minus the second\'s (same seed), then mean ± std [95% CI] over seeds. A CI that holds 0 does not separate the arms.',
          '',
          '| a − b | finding (a > b) | test EM diff | dev EM diff | seeds |',
          '|---|---|---|---|---|',
          ...r.comparisons.map((c) => `| ${c.a} − ${c.b} | ${c.finding || '–'} | ${cell(c.test_after_diff)} | ${c.dev_after_diff ? cell(c.dev_after_diff) : '–'} | ${c.seeds.length} |`),
          '',
        ]
      : []),
    'Arms:',
    '',
    ...r.arms.map((a) => `- **${a.name}**${a.description ? `: ${a.description}` : ''}${Object.keys(a.set).length ? ` (overrides: ${Object.entries(a.set).map(([k, v]) => `\`${k}=${JSON.stringify(v)}\``).join(', ')})` : ''}`),
    '',
    `![test EM after RL per arm](${EXPERIMENT_PLOTS.em})`,
    '',
    `![test EM gain per arm](${EXPERIMENT_PLOTS.gain})`,
    '',
    `![dev EM during RL per arm](${EXPERIMENT_PLOTS.devCurve})`,
    '',
    `The dev curve is the greedy EM of the periodic evaluation on dev questions${r.arms.some((a) => a.dev_curve_questions) ? ` (${r.arms.find((a) => a.dev_curve_questions)!.dev_curve_questions} questions each time)` : ''}, mean over seeds; the bars are the final test evaluation.`,
    '',
  ];
  return lines.join('\n');
}
