import test from 'ava';
import { decodeBatch, encodeBatch, FrameKind, FrameFlags, verifyFrame, type Frame } from '@cohort/protos';

const frame = (over: Partial<Frame> = {}): Frame => ({ kind: FrameKind.Call, id: 7, target: 'a1-Counter', method: 'add', payload: new Uint8Array([1, 2, 3]), flags: FrameFlags.Special, bulk: [], count: 16, ...over });

test('a batch of frames round-trips through the proto schema, bulk lengths above 4 GiB included', (t) => {
  const frames = [frame(), frame({ id: 8, bulk: [2 ** 33 + 5, 0] }), frame({ kind: FrameKind.Result, payload: new Uint8Array(0), target: '', method: '' })];
  const back = decodeBatch(encodeBatch(frames));
  t.is(back.length, 3);
  t.deepEqual(back[1].bulk, [2 ** 33 + 5, 0]);
  t.deepEqual([...back[0].payload], [1, 2, 3]);
  t.is(back[2].kind, FrameKind.Result);
  t.is(back[2].target, '');
  t.is(verifyFrame(back[0]), null);
});

test('garbage does not decode as a batch', (t) => {
  t.throws(() => decodeBatch(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])));
});
