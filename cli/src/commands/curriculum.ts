import { curriculumNoiseP } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, numFlag } from './zerosearch-common.js';

commands.push({
  path: ['curriculum'],
  summary: 'print the ZeroSearch noise curriculum (Eq. 1) for every step',
  usage: `Usage: cohort curriculum --ps PS --pe PE --steps M [--base B] [--json]

Prints p_i = PS + (B^(i/M) - 1) / (B - 1) * (PE - PS) for i = 1..M: the probability
that a search at step i gets the noisy simulator prompt. B defaults to 4. The flags are the
train config's curriculum keys: curriculum: { mode: curriculum, ps, pe, base }.
With --json: [{"step": 1, "p": ...}, ...].`,
  async run(argv) {
    const { values } = parseFlags(argv, { ps: { type: 'string' }, pe: { type: 'string' }, steps: { type: 'string' }, base: { type: 'string' }, json: { type: 'boolean' } }, false);
    if (values.steps === undefined) throw new UsageError('--steps is required');
    const ps = numFlag('ps', values.ps, undefined, 0, 1);
    const pe = numFlag('pe', values.pe, undefined, 0, 1);
    const steps = intFlag('steps', values.steps, 0, 1);
    const base = numFlag('base', values.base, 4, 0);
    if (base === 0 || base === 1) throw new UsageError(`--base must be > 0 and not 1, got ${base}`);
    const rows = Array.from({ length: steps }, (_, k) => ({ step: k + 1, p: curriculumNoiseP(k + 1, steps, ps, pe, base) }));
    if (values.json) process.stdout.write(JSON.stringify(rows) + '\n');
    else process.stdout.write(rows.map((r) => `${String(r.step).padStart(5)}  ${r.p.toFixed(6)}`).join('\n') + '\n');
    return 0;
  },
});
