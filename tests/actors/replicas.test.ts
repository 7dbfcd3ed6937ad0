import test from 'ava';
import { pino } from 'pino';
import { ActorDiedError, type ActorHandle } from '@cohort/runtime';
import { AllReplicasLostError, ReplicaGroup } from '../../actors/src/trainer/replicas.js';

/** A stand-in replica: a version, a state, and a step whose collective waits for every member (or for a re-formed group). */
interface Fake {
  $id: string;
  $name: string;
  dead: boolean;
  version: number;
  state: string;
  /** Resolves the collective this member waits in. */
  release?: (ok: boolean) => void;
}

function harness(n: number) {
  let seq = 0;
  const make = (name: string, version = 0, state = 'init'): Fake =>
    Object.assign({ $id: `id${seq++}`, $name: name, dead: false, version, state }, { $kill: async () => undefined, $info: async () => undefined, $ready: async () => undefined });
  const hs: Fake[] = Array.from({ length: n }, (_, r) => make(`r-${r}`));
  const formed: number[] = [];
  const group = new ReplicaGroup<ActorHandle<unknown>>(
    {
      role: 'learner',
      handles: () => hs as unknown as ActorHandle<unknown>[],
      set: (r, h) => (hs[r] = h as unknown as Fake),
      spawn: async (r) => make(`r-${r}.new`) as unknown as ActorHandle<unknown>,
      formGroup: async () => {
        formed.push(hs.length);
        // A re-formed group frees whoever still waits in the old collective (it fails).
        for (const h of hs) h.release?.(false);
      },
      version: async (h) => (h as unknown as Fake).version,
      loadStateFrom: async (h, src) => {
        const [a, b] = [h as unknown as Fake, src as unknown as Fake];
        a.version = b.version;
        a.state = b.state;
        return { version: b.version, bytes: 10, seconds: 0 };
      },
    },
    pino({ level: 'silent' }),
    async () => 'node-a',
  );
  return { hs, group, formed, make };
}

const died = (h: Fake) => Promise.reject(new ActorDiedError(h.$id, h.$name, 'worker process 1 ended (signal SIGKILL)'));

test('each(): a replica that died is replaced, takes a survivor\'s state, and the call is made again', async (t) => {
  const { hs, group, formed } = harness(3);
  hs.forEach((h) => ((h.version = 5), (h.state = 'v5')));
  hs[1].dead = true;
  let calls = 0;
  const out = await group.each('score', async (h) => {
    calls++;
    const f = h as unknown as Fake;
    if (f.dead) return died(f);
    return `${f.$name}:${f.state}`;
  });
  t.deepEqual(out, ['r-0:v5', 'r-1.new:v5', 'r-2:v5']);
  t.is(calls, 6, 'all three called twice');
  t.deepEqual(formed, [3]);
  const ev = group.drainEvents();
  t.is(ev.length, 1);
  t.like(ev[0], { kind: 'replaced', role: 'learner', actor: 'r-1', node: 'node-a' });
  t.regex(ev[0].detail!, /state of version 5 .* from r-0/);
});

test('update(): a replica lost mid-update after the survivors applied it is not redone; the replacement takes the new state', async (t) => {
  const { hs, group } = harness(3);
  let calls = 0;
  const res = await group.update('update 1', 0, (h) => {
    calls++;
    const f = h as unknown as Fake;
    if (f.$name === 'r-2') return died(f);
    // Survivors 0 and 1 finish the collective and apply (as the last ring steps may have reached them).
    f.version = 1;
    f.state = 'v1';
    return Promise.resolve({ rank: f.$name });
  });
  t.is(calls, 3, 'not redone');
  t.deepEqual(res, [{ rank: 'r-0' }, { rank: 'r-1' }]);
  t.deepEqual(hs.map((h) => [h.$name, h.version, h.state]), [['r-0', 1, 'v1'], ['r-1', 1, 'v1'], ['r-2.new', 1, 'v1']]);
});

test('update(): when no survivor applied it (they were stuck in the collective), the group is re-formed, brought level and the update made once', async (t) => {
  const { hs, group, formed } = harness(3);
  hs.forEach((h) => ((h.version = 4), (h.state = 'v4')));
  let attempts = 0;
  const res = await group.update('update 1', 4, (h, r) => {
    const f = h as unknown as Fake;
    if (r === 0) attempts++;
    if (f.$name === 'r-1') return died(f);
    if (formed.length === 0) {
      // Stuck in the collective until the group is formed again, then failing like a broken collective.
      return new Promise<string>((resolve, reject) => (f.release = (ok) => (ok ? resolve(f.$name) : reject(new Error('collective: the group was formed again')))));
    }
    f.version = 5;
    return Promise.resolve(f.$name);
  });
  t.is(attempts, 2);
  t.deepEqual(res, ['r-0', 'r-1.new', 'r-2']);
  t.deepEqual(formed, [3]);
  t.deepEqual(hs.map((h) => [h.$name, h.version]), [['r-0', 5], ['r-1.new', 5], ['r-2', 5]]);
  t.is(hs[1].state, 'v4', 'the replacement took a survivor\'s state before the update was made again');
  t.deepEqual(group.drainEvents().map((e) => e.kind).sort(), ['redone', 'replaced']);
});

test('losing every replica throws AllReplicasLostError (the run goes back to its checkpoint); a plain error is not recovered from', async (t) => {
  const { group } = harness(2);
  const err = await t.throwsAsync(group.each('score', (h) => died(h as unknown as Fake)));
  t.true(err instanceof AllReplicasLostError);
  t.regex(err!.message, /every learner was lost \(score: r-0, r-1 died\)/);
  const h2 = harness(2);
  await t.throwsAsync(h2.group.update('update', 0, () => Promise.reject(new Error('NaN in the loss'))), { message: 'NaN in the loss' });
  // ZeRO-1: a lost learner's optimizer shard is on no peer, so even one loss goes back to the checkpoint.
  const { hs } = harness(1);
  const zero = new ReplicaGroup<ActorHandle<unknown>>(
    { role: 'learner', handles: () => [hs[0], { ...hs[0], $id: 'z2', $name: 'r-1' }] as never, set: () => undefined, spawn: async () => hs[0] as never, formGroup: async () => undefined, version: async () => 0, loadStateFrom: async () => ({ version: 0, bytes: 0, seconds: 0 }), noPeerState: 'optimizer.zeroStage 1' },
    pino({ level: 'silent' }),
  );
  const z = await t.throwsAsync(zero.each('score', (h, r) => (r === 1 ? died(h as unknown as Fake) : 'ok')));
  t.true(z instanceof AllReplicasLostError);
  t.regex(z!.message, /score: r-1 died, and its state is on no peer \(optimizer.zeroStage 1\)/);
});

test('SimulatorPool: a simulator that died for good (an elastic one whose node left) is skipped from then on; other errors are raised', async (t) => {
  const { SimulatorPool } = await import('../../actors/src/simulator/simulator-pool.js');
  const calls: string[] = [];
  const fake = (name: string, fail?: Error) => ({
    $name: name,
    search: async (reqs: unknown[]) => {
      calls.push(name);
      if (fail) throw fail;
      return reqs.map(() => ({ docs: [name] }));
    },
  });
  const gone = fake('s-gone', new ActorDiedError('id1', 's-gone', 'node n2 was lost'));
  const pool = new SimulatorPool([gone, fake('s-ok')] as never);
  const req = { query: 'q', question: 'q?', goldenAnswers: ['a'], mode: 'useful' as const };
  for (let i = 0; i < 3; i++) t.deepEqual(await pool.search([req]), [{ docs: ['s-ok'] }] as never);
  t.deepEqual(calls, ['s-gone', 's-ok', 's-ok', 's-ok'], 'the dead one was tried once');
  const broken = new SimulatorPool([fake('s-bad', new Error('HTTP 500'))] as never);
  await t.throwsAsync(broken.search([req]), { message: 'HTTP 500' });
  const allGone = new SimulatorPool([gone] as never);
  await t.throwsAsync(allGone.search([req]), { message: /every simulator of the pool died/ });
});
