import test from 'ava';
import { studentTCdf, studentTQuantile, summarize } from '../../actors/src/index.js';

// Two-sided 95% critical values of Student's t (printed tables, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
const T975: Record<number, number> = { 1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 20: 2.086, 30: 2.042, 100: 1.984 };

test('t quantiles match printed tables to 3 decimals', (t) => {
  for (const [dof, v] of Object.entries(T975)) t.is(Number(studentTQuantile(0.975, Number(dof)).toFixed(3)), v, `dof ${dof}`);
  t.is(Number(studentTQuantile(0.95, 4).toFixed(3)), 2.132);
  t.true(Math.abs(studentTCdf(0, 3) - 0.5) < 1e-12);
  // Symmetry and the Cauchy case (dof 1): P(T <= 1) = 3/4.
  t.true(Math.abs(studentTCdf(1, 1) - 0.75) < 1e-9);
  t.true(Math.abs(studentTQuantile(0.025, 7) + studentTQuantile(0.975, 7)) < 1e-9);
});

test('summary of three seeds: mean, sample std, t-based CI computed by hand', (t) => {
  const s = summarize([2, 4, 9]);
  t.is(s.n, 3);
  t.true(Math.abs(s.mean - 5) < 1e-12);
  // Sample variance: ((−3)² + (−1)² + 4²) / 2 = 13.
  t.true(Math.abs(s.std - Math.sqrt(13)) < 1e-12);
  const half = 4.302652729911275 * Math.sqrt(13) / Math.sqrt(3);
  t.true(Math.abs(s.halfWidth95 - half) < 1e-6);
  t.true(Math.abs(s.ci95[0] - (5 - half)) < 1e-6 && Math.abs(s.ci95[1] - (5 + half)) < 1e-6);
  t.deepEqual([s.min, s.max], [2, 9]);
});

test('one run has no spread; bad input is refused by name', (t) => {
  const s = summarize([3.5]);
  t.deepEqual([s.std, s.halfWidth95, ...s.ci95], [0, 0, 3.5, 3.5]);
  t.throws(() => summarize([]), { message: /no values/ });
  t.throws(() => summarize([1, Number.NaN]), { message: /NaN is not a finite number/ });
  t.throws(() => studentTQuantile(1.2, 3), { message: /p must be in/ });
});
