import test from 'ava';
import { init } from '@cohort/runtime';

// put() copies large arrays into pooled memory: after a free() of an object nobody
// fetched, the next put of that size costs one copy into memory already mapped.

test('a freed put that was never fetched lends its memory to the next put; fetched ones are never recycled', async (t) => {
  const rt = await init({ logLevel: 'silent', resources: { CPU: 1 } });
  t.teardown(() => rt.shutdown());
  const n = 1 << 18; // 1 MiB of floats
  const src = new Float32Array(n).fill(1);
  const r1 = rt.put(src);
  src.fill(2);
  const v1 = (await rt.get(r1)) as Float32Array;
  t.true(v1 instanceof Float32Array);
  t.is(v1[0], 1, 'a snapshot: later changes to the source do not show');
  rt.free(r1);
  const reused0 = rt.endpoint.bulkPool.reused;
  const r2 = rt.put(src);
  t.is(rt.endpoint.bulkPool.reused, reused0, 'r1 was fetched (get), so its memory was not recycled');
  t.is(v1[0], 1, 'what get() returned stays intact');
  rt.free(r2); // never fetched: its memory goes back to the pool
  const r3 = rt.put(new Float32Array(n).fill(3));
  t.is(rt.endpoint.bulkPool.reused, reused0 + 1, 'the next put of that size reuses r2 memory');
  const v3 = (await rt.get(r3)) as Float32Array;
  t.is(v3[n - 1], 3);
  // types survive the pooled copy
  const b = (await rt.get(rt.put(Buffer.alloc(100_000, 7)))) as Buffer;
  t.true(Buffer.isBuffer(b));
  t.is(b[99_999], 7);
  const ab = (await rt.get(rt.put({ x: new Uint8Array(70_000).buffer }))) as { x: ArrayBuffer };
  t.true(ab.x instanceof ArrayBuffer);
  t.is(ab.x.byteLength, 70_000);
  t.false(rt.release(new Float32Array(4)), 'release refuses arrays the runtime did not lend');
});
