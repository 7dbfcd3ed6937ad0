// The project's one PRNG (engine/src/random/rng.ts). The pinned values are what zerosearch's
// own generator produced before it moved here, so seeded worlds and datasets are unchanged.
import test from 'ava';
import { Rng, hashString } from '../../engine/src/random/rng.js';

test('Rng: the seeded stream, picks, shuffles, forks and hashes are pinned', (t) => {
  const r = new Rng(7);
  t.is(r.next(), 0.9823943767696619);
  t.is(r.int(1000), 334);
  t.is(r.pick(['x', 'y', 'z']), 'z');
  t.deepEqual(r.shuffle([1, 2, 3, 4, 5]), [3, 4, 5, 2, 1]);
  t.is(r.fork('w').next(), 0.5401601623743773);
  t.is(hashString('question'), 114665541);
});

test('Rng: named streams differ; fromSeed validates; a saved state resumes the stream', (t) => {
  t.not(Rng.fromSeed(42, 'a').uint32(), Rng.fromSeed(42, 'b').uint32());
  t.is(Rng.fromSeed(42).uint32(), new Rng(42).uint32());
  t.throws(() => Rng.fromSeed(-1), { message: /integer >= 0, found -1/ });
  t.throws(() => new Rng(Number.NaN), { message: /finite number/ });
  const g = Rng.fromSeed(5, 'trainer');
  g.next();
  const again = Rng.fromState(JSON.parse(JSON.stringify(g.state())));
  t.deepEqual([again.next(), again.normal(), again.bernoulli(0.5)], [g.next(), g.normal(), g.bernoulli(0.5)]);
  t.throws(() => g.pick([]), { message: /empty array/ });
});
