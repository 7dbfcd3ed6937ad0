import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../../engine/src/random/rng.js';
import { DataLoader, checkpointDirName, findLatestCheckpoint, listCheckpoints, readCheckpoint, writeCheckpoint } from '../../actors/src/core.js';

test('PRNG: same seed same stream; a saved state continues exactly; streams differ', (t) => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const xs = Array.from({ length: 5 }, () => a.uint32());
  t.deepEqual(xs, Array.from({ length: 5 }, () => b.uint32()));
  const saved = JSON.parse(JSON.stringify(a.state()));
  const next = Array.from({ length: 5 }, () => a.next());
  const resumed = Rng.fromState(saved);
  t.deepEqual(Array.from({ length: 5 }, () => resumed.next()), next);
  t.notDeepEqual(Rng.fromSeed(42, 'sampling').uint32(), Rng.fromSeed(42, 'curriculum').uint32());
  // A state of another algorithm (a checkpoint from before the one PRNG) is refused by name.
  t.throws(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4] }), { message: /invalid PRNG state: algorithm: .*mulberry32.*pass what Rng.state\(\) returned/ });
  t.throws(() => Rng.fromState({ algorithm: 'mulberry32', s: -1 }), { message: /invalid PRNG state: s:/ });
});

test('PRNG: uniform ints cover the range evenly and floats stay in [0, 1)', (t) => {
  const p = Rng.fromSeed(1);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[p.int(6)]++;
  for (const c of counts) t.true(c > 850 && c < 1150, `bucket count ${c}`);
  for (let i = 0; i < 1000; i++) {
    const f = p.next();
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
  const rng = Rng.fromSeed(3);
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
  t.deepEqual(Rng.fromState(ck.manifest.rng.trainer).uint32(), Rng.fromState(rng.state()).uint32());
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
