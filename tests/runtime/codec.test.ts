import test from 'ava';
import { encodeValue, decodeValue, MessageTooLargeError, SerializationError } from '@cohort/runtime';

const hooks = { revive: (d: unknown) => ({ revived: d }) };
const opts = { bulkThreshold: 1024, maxBytes: 1 << 20, what: 'test value' };

test('small values stay inline; large binary goes to bulk attachments without copying', (t) => {
  const big = new Float64Array(1000).fill(1.5);
  const small = new Int16Array([1, -2]);
  const v = { big, small, list: [1, 'two', new Map([['k', 3]])] };
  const enc = encodeValue(v, opts);
  t.is(enc.bulk.length, 1);
  t.is(enc.bulk[0].buffer, big.buffer, 'the attachment is a view of the original array');
  t.true(enc.special);
  t.true(enc.payload.byteLength < 8000);
  const copy = enc.bulk.map((b) => new Uint8Array(b)); // as if received into fresh memory
  const back = decodeValue(enc.payload, enc.special, copy, hooks) as typeof v;
  t.true(back.big instanceof Float64Array);
  t.deepEqual([...back.big.slice(0, 3)], [1.5, 1.5, 1.5]);
  t.deepEqual([...back.small], [1, -2]);
  t.is((back.list[2] as Map<string, number>).get('k'), 3);
  t.is(v.big, big, 'the input object was not modified');
});

test('large arrays inside a Map (weights by tensor name) take the bulk path too; the Map sent is left as it was', (t) => {
  const w = new Float32Array(4096).fill(0.25);
  const params = new Map<string, unknown>([
    ['w', w],
    ['nested', { b: new Uint8Array(2048).fill(7) }],
    ['tiny', new Float32Array([1, 2])],
    ['n', 3],
  ]);
  const enc = encodeValue([1, params], opts);
  t.is(enc.bulk.length, 2, 'both large arrays are attachments');
  t.is(enc.bulk[0].buffer, w.buffer, 'without copying');
  t.true(enc.payload.byteLength < 1024, `payload ${enc.payload.byteLength} bytes`);
  t.is(params.get('w'), w, 'the input Map was not modified');
  const back = decodeValue(enc.payload, enc.special, enc.bulk.map((b) => new Uint8Array(b)), hooks) as [number, Map<string, unknown>];
  const got = back[1];
  t.true(got.get('w') instanceof Float32Array);
  t.is((got.get('w') as Float32Array)[4095], 0.25);
  t.is((got.get('nested') as { b: Uint8Array }).b[2047], 7);
  t.deepEqual([...(got.get('tiny') as Float32Array)], [1, 2]);
  t.is(got.get('n'), 3);
});

test('small values take the JSON fast path and keep their exact value; others fall back to v8', (t) => {
  const cases: unknown[] = [undefined, null, 0, 1.5, -3, 'héllo ✓', true, [], [1, 'a', null, false], -0, NaN, Infinity, [undefined], [1, [2]], new Date(5), 'x'.repeat(5000), 2n ** 70n];
  for (const v of cases) {
    const enc = encodeValue(v, opts);
    const back = decodeValue(enc.payload, enc.special, enc.bulk, hooks);
    t.deepEqual(back, v, `round trip of ${String(v)}`);
    if (Object.is(v, -0)) t.true(Object.is(back, -0));
  }
  t.is(encodeValue(1, opts).payload[0], 0x01);
  t.is(encodeValue(new Date(5), opts).payload[0], 0xff);
});

test('plain data has no special marker', (t) => {
  const enc = encodeValue([1, { a: 'b' }], opts);
  t.false(enc.special);
  t.deepEqual(decodeValue(enc.payload, false, [], hooks), [1, { a: 'b' }]);
});

test('unserializable values and oversized messages get errors that name the problem and the fix', (t) => {
  const e1 = t.throws(() => encodeValue({ a: [1, { cb: () => 0 }] }, opts), { instanceOf: SerializationError });
  t.regex(e1!.message, /value\.a\.1\.cb is a function/);
  const e2 = t.throws(() => encodeValue({ p: Promise.resolve(1) }, opts), { instanceOf: SerializationError });
  t.regex(e2!.message, /value\.p is a Promise/);
  const e3 = t.throws(() => encodeValue('x'.repeat(2 << 20), opts), { instanceOf: MessageTooLargeError });
  t.regex(e3!.message, /over the 1048576-byte message limit.*maxMessageBytes.*put\(\)/);
  t.notThrows(() => encodeValue(new Uint8Array(4 << 20), opts), 'binary data over the limit takes the bulk path');
});
