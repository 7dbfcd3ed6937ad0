// The ring all-reduce algorithm in one process. The collectives between actors
// (allreduce, broadcast, allgather, barrier, errors) are conformance cases: tests/conformance/.
import test from 'ava';
import { chunkBounds, ringAllreduce } from '../../runtime/src/collective/ring-allreduce.js';
import { maxDiff, mean, rand } from '../helpers/float-arrays.js';

test('chunkBounds covers any length with W chunks differing by at most one', (t) => {
  for (const [n, w] of [[10, 3], [2, 3], [0, 4], [7, 1], [100001, 4]]) {
    const b = chunkBounds(n, w);
    t.is(b.length, w + 1);
    t.is(b[0], 0);
    t.is(b[w], n);
    const sizes = b.slice(1).map((x, i) => x - b[i]);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, `${n}/${w}: ${sizes}`);
  }
});

test('ringAllreduce over an in-process ring: sum and mean for W=1..4 and lengths not divisible by W, identical on every rank', async (t) => {
  for (const w of [1, 2, 3, 4]) {
    for (const n of [1, 2, 5, 13, 1000]) {
      const inputs = Array.from({ length: w }, (_, r) => rand(n, 17 * w + n + r));
      const want = mean(inputs);
      // Mailboxes between neighbours: what rank r sent at step s is read by rank r+1.
      const sent = new Map<string, { resolve: (a: Float32Array) => void; p: Promise<Float32Array> }>();
      const slot = (k: string) => {
        let e = sent.get(k);
        if (!e) {
          let resolve!: (a: Float32Array) => void;
          const p = new Promise<Float32Array>((r) => (resolve = r));
          e = { resolve, p };
          sent.set(k, e);
        }
        return e;
      };
      const outs = await Promise.all(
        inputs.map((x, r) =>
          ringAllreduce(x.slice(), r, w, 'mean', async (step, chunk) => {
            slot(`${r}/${step}`).resolve(chunk.slice());
            return slot(`${(r - 1 + w) % w}/${step}`).p;
          }),
        ),
      );
      t.true(maxDiff(outs[0], want) < 1e-6, `W=${w} n=${n}`);
      for (const o of outs) t.deepEqual(o, outs[0]);
    }
  }
});
