import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataLoader, Prng, checkpointDirName, findLatestCheckpoint, listCheckpoints, readCheckpoint, writeCheckpoint } from '../../actors/src/core.js';

test('PRNG: same seed same stream; a saved state continues exactly; streams differ', (t) => {
  const a = Prng.fromSeed(42);
  const b = Prng.fromSeed(42);
  const xs = Array.from({ length: 5 }, () => a.nextUint32());
  t.deepEqual(xs, Array.from({ length: 5 }, () => b.nextUint32()));
  const saved = JSON.parse(JSON.stringify(a.state()));
  const next = Array.from({ length: 5 }, () => a.nextFloat());
  const resumed = Prng.fromState(saved);
  t.deepEqual(Array.from({ length: 5 }, () => resumed.nextFloat()), next);
  t.notDeepEqual(Prng.fromSeed(42, 'sampling').nextUint32(), Prng.fromSeed(42, 'curriculum').nextUint32());
  t.throws(() => Prng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] }), { message: /all-zero state/ });
});

test('PRNG: uniform ints cover the range evenly and floats stay in [0, 1)', (t) => {
  const p = Prng.fromSeed(1);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[p.nextInt(6)]++;
  for (const c of counts) t.true(c > 850 && c < 1150, `bucket count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const f = p.nextFloat();
    t.true(f >= 0 && f < 1);
  }
  const perm = p.shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual([...perm].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('data loader: epochs are permutations, and a restored state yields the same batches', (t) => {
  const dl = new DataLoader(10, 7);
  const e0 = [...dl.next(4).indices, ...dl.next(4).indices];
  const saved = dl.state();
  const crossing = dl.next(4); // 2 from epoch 0, 2 from epoch 1
  t.is(crossing.epoch, 0);
  t.deepEqual([...e0, ...crossing.indices.slice(0, 2)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const after = [dl.next(5).indices, dl.next(5).indices];
  const again = new DataLoader(10, 7, JSON.parse(JSON.stringify(saved)));
  t.deepEqual(again.next(4).indices, crossing.indices);
  t.deepEqual([again.next(5).indices, again.next(5).indices], after);
  t.not(DataLoader.permutation(10, 7, 0).join(), DataLoader.permutation(10, 7, 1).join());
  t.throws(() => new DataLoader(11, 7, saved), { message: /dataset of 10 examples but this one has 11/ });
  t.throws(() => new DataLoader(10, 8, saved), { message: /seed 7 but the loader was given 8/ });
});

test('checkpoints: atomic write, manifest validation, latest pointer, retention and corruption detection', (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'cohort-ckpt-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const rng = Prng.fromSeed(3);
  const loader = new DataLoader(20, 3);
  loader.next(6);
  const contents = (step: number) => ({
    step,
    policyVersion: step,
    curriculumStep: step,
    configSha256: 'a'.repeat(64),
    algorithm: 'grpo',
    rng: { trainer: rng.state() },
    dataLoader: loader.state(),
    files: { policy: Uint8Array.of(1, 2, 3, step), optimizer: new Uint8Array(64).fill(step) },
  });
  for (const s of [10, 20, 30]) writeCheckpoint(root, contents(s), { keep: 2 });
  t.deepEqual(listCheckpoints(root), ['step-000020', 'step-000030']);
  const latest = findLatestCheckpoint(root)!;
  t.is(path.basename(latest), checkpointDirName(30));
  const ck = readCheckpoint(latest, { configSha256: 'a'.repeat(64) });
  t.is(ck.manifest.step, 30);
  t.deepEqual(ck.manifest.dataLoader, loader.state());
  t.deepEqual([...ck.readFile('policy')], [1, 2, 3, 30]);
  t.deepEqual(Prng.fromState(ck.manifest.rng.trainer).nextUint32(), Prng.fromState(rng.state()).nextUint32());
  t.false(readFileSync(path.join(root, 'latest'), 'utf8').includes('tmp'));
  // A different config is refused; a corrupted file is caught.
  t.throws(() => readCheckpoint(latest, { configSha256: 'b'.repeat(64) }), { message: /different config/ });
  writeFileSync(path.join(latest, 'optimizer.safetensors'), new Uint8Array(64));
  t.throws(() => ck.readFile('optimizer'), { message: /sha256 does not match/ });
  t.throws(() => ck.readFile('critic'), { message: /no "critic" file/ });
  // A bad manifest names the field.
  const m = JSON.parse(readFileSync(path.join(latest, 'manifest.json'), 'utf8'));
  m.step = -1;
  writeFileSync(path.join(latest, 'manifest.json'), JSON.stringify(m));
  t.throws(() => readCheckpoint(latest), { message: /step:/ });
  t.throws(() => writeCheckpoint(root, { ...contents(40), files: { policy: Uint8Array.of(1) } }), { message: /must include "policy" and "optimizer"/ });
  t.false(existsSync(path.join(root, 'step-000040')));
  t.is(findLatestCheckpoint(path.join(root, 'nothing-here')), null);
});
