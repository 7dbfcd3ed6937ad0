import test from 'ava';
import { init } from '@cohort/runtime';
import { WeightPublisher, WeightSinkActor } from '../../actors/src/index.js';

// Weights by tensor name (a Map) cross processes on the bulk path, whatever the message
// limit, and a receiver that copied them into its own tensors gives the received arrays
// back to its runtime (what RolloutActor.setWeights does through releaseReceivedWeights).

test('a weight sync over the bulk path carries a Map larger than the message limit; the receiver releases the large arrays it got', async (t) => {
  const rt = await init({ logLevel: 'silent', resources: { CPU: 2 }, maxMessageBytes: 1 << 20 });
  t.teardown(() => rt.shutdown());
  const params = new Map<string, Float32Array>([
    ['big', new Float32Array(1 << 20).fill(0.5)], // 4 MiB, over the 1 MiB message limit
    ['small', new Float32Array(16).fill(2)], // inline
  ]);
  const keep = await rt.spawn(WeightSinkActor, [{ release: false }], { resources: { CPU: 0.5 } });
  const give = await rt.spawn(WeightSinkActor, [{ release: true }], { resources: { CPU: 0.5 } });
  const pub = new WeightPublisher(`test-${process.pid}`, undefined);
  t.teardown(() => pub.close());
  for (const v of [1, 2]) {
    const r = await pub.publish(v, params, [{ handle: keep, nodeId: undefined }, { handle: give, nodeId: undefined }], 'bulk');
    t.like(r, { version: v, bulk: 2, shm: 0, failed: [] });
  }
  const want = 0.5 * Math.ceil((1 << 20) / 4096) + 2;
  t.deepEqual(await Promise.all([keep.sum(), give.sum()]), [want, want], 'what arrived is what was sent');
  t.deepEqual(await Promise.all([keep.version(), give.version()]), [2, 2]);
  t.is(await give.released(), 2, 'one large array per sync was given back; the inline one is not the runtime\'s');
  t.is(await keep.released(), 0);
});
