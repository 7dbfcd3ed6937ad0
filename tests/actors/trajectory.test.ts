import test from 'ava';
import {
  checkGroups,
  collate,
  decodeTrajectories,
  decodeTrajectory,
  encodeTrajectories,
  encodeTrajectory,
  makeGroupId,
  parseGroupId,
  selectRows,
  shardRows,
  trimTrailingEnvironmentTokens,
  TrajectoryBuilder,
  validateTrajectory,
  type Trajectory,
} from '../../actors/src/core.js';
import { makeTrajectory } from './helpers.js';

const multiTurn = (promptIndex: number, sampleIndex: number, reward: number, extra = 0) =>
  makeTrajectory({
    step: 2,
    promptIndex,
    sampleIndex,
    reward,
    prompt: Array.from({ length: 3 + promptIndex }, (_, k) => 100 + k),
    segments: [
      { by: 'policy', ids: [1, 2, 3] },
      { by: 'env', ids: [50, 51, 52, 53] },
      { by: 'policy', ids: Array.from({ length: 2 + extra }, (_, k) => 4 + k) },
    ],
  });

test('collate: left-padded prompts, right-padded responses, observation tokens masked, reward on the last response token', (t) => {
  const trajs = [multiTurn(0, 0, 0.75, 0), multiTurn(1, 0, 0.25, 3)];
  const b = collate(trajs, { padId: -7 });
  t.is(b.promptLength, 4);
  t.is(b.responseLength, 12);
  const T = b.promptLength + b.responseLength;
  // Row 0: prompt of 3 left-padded by 1, response of 9 right-padded by 3.
  t.deepEqual([...b.inputIds.subarray(0, T)], [-7, 100, 101, 102, 1, 2, 3, 50, 51, 52, 53, 4, 5, -7, -7, -7]);
  t.deepEqual([...b.attentionMask.subarray(0, T)], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  t.deepEqual([...b.positionIds.subarray(0, 6)], [0, 0, 1, 2, 3, 4]);
  t.deepEqual([...b.lossMask.subarray(0, 12)], [1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
  t.deepEqual([...b.policyVersions.subarray(0, 12)], [0, 0, 0, -1, -1, -1, -1, 0, 0, -1, -1, -1]);
  // Reward: exactly one non-zero per row, on the last response token, which is a policy token.
  for (let row = 0; row < 2; row++) {
    const rewards = [...b.tokenRewards.subarray(row * 12, row * 12 + 12)];
    const last = b.responseLengths[row] - 1;
    t.is(rewards.filter((x) => x !== 0).length, 1);
    t.is(rewards[last], trajs[row].reward!);
    t.is(b.lossMask[row * 12 + last], 1);
  }
  t.deepEqual(b.groupIds, ['2:0', '2:1']);
  t.throws(() => collate(trajs, { padId: 0, responseLength: 5 }), { message: /shorter than the longest response \(12 tokens\)/ });
  t.throws(() => collate([{ ...trajs[0], reward: null }], { padId: 0 }), { message: /has no reward; score it/ });
});

test('group ids are unique per prompt; merged or duplicated groups are rejected', (t) => {
  t.is(makeGroupId(12, 3), '12:3');
  t.deepEqual(parseGroupId('12:3'), { step: 12, promptIndex: 3 });
  t.throws(() => parseGroupId('nq-3'), { message: /malformed group id/ });
  const a = multiTurn(0, 0, 1);
  const b = { ...multiTurn(0, 1, 1), question: 'another question' };
  t.throws(() => checkGroups([a, b]), { message: /merges different prompts/ });
  t.throws(() => checkGroups([a, { ...a }]), { message: /sample 0 twice/ });
  const groups = checkGroups([a, multiTurn(0, 1, 0), multiTurn(1, 0, 0)]);
  t.deepEqual([...groups.entries()], [['2:0', [0, 1]], ['2:1', [2]]]);
});

test('validation names the bad field and the fix', (t) => {
  const good = multiTurn(0, 0, 1);
  t.notThrows(() => validateTrajectory(good));
  t.throws(() => validateTrajectory({ ...good, lossMask: good.lossMask.slice(1) }), { message: /lossMask has 8 entries but responseIds has 9/ });
  t.throws(() => validateTrajectory({ ...good, groupId: '3:0' }), { message: /does not match step 2 and promptIndex 0/ });
  t.throws(() => validateTrajectory({ ...good, responseIds: Array.from(good.responseIds) as unknown as Int32Array }), { message: /responseIds must be a Int32Array, found Array/ });
  const envLast = makeTrajectory({ promptIndex: 0, segments: [{ by: 'policy', ids: [1, 2] }, { by: 'env', ids: [9, 9] }] });
  t.throws(() => validateTrajectory(envLast), { message: /last response token has loss mask 0/ });
  const trimmed = trimTrailingEnvironmentTokens(envLast);
  t.deepEqual([...trimmed.responseIds], [1, 2]);
  t.notThrows(() => validateTrajectory(trimmed));
  const v = Int32Array.from(good.policyVersions);
  v[0] = -1;
  t.throws(() => validateTrajectory({ ...good, policyVersions: v }), { message: /policyVersions\[0\] is -1 on a policy token/ });
  t.throws(() => validateTrajectory({ ...good, reward: 1.5 }), { message: /reward/ });
});

function sameTrajectory(t: import('ava').ExecutionContext, a: Trajectory, b: Trajectory) {
  t.deepEqual({ ...a }, { ...b });
  t.true(b.promptIds instanceof Int32Array && b.lossMask instanceof Uint8Array && b.behaviourLogprobs instanceof Float32Array);
}

test('binary codec round-trips trajectories, including from a misaligned buffer', (t) => {
  const list = [multiTurn(0, 0, 0.5), { ...multiTurn(1, 0, 1, 1), question: 'Wer schrieb "Faust"? ✓', prediction: null, answered: false, reward: 0 }];
  const one = encodeTrajectory(list[1]);
  sameTrajectory(t, list[1], decodeTrajectory(one).trajectory);
  const bytes = encodeTrajectories(list);
  // No JSON for token arrays: the encoded size is close to the raw typed-array size plus a small header.
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const back = decodeTrajectories(shifted.subarray(3));
  t.is(back.length, 2);
  back.forEach((b, i) => sameTrajectory(t, list[i], b));
  // Token ids are stored raw: search for the 4 little-endian bytes of a prompt id sequence.
  const needle = new Uint8Array(Int32Array.of(100, 101, 102).buffer);
  t.true(Buffer.from(bytes).includes(Buffer.from(needle)));
});

test('codec errors: truncation, bad magic, trailing bytes', (t) => {
  const bytes = encodeTrajectories([multiTurn(0, 0, 0.5), multiTurn(0, 1, 0.5)]);
  t.throws(() => decodeTrajectories(bytes.subarray(0, bytes.length - 10)), { message: /truncated/ });
  const bad = Uint8Array.from(bytes);
  bad[0] ^= 0xff;
  t.throws(() => decodeTrajectories(bad), { message: /bad magic/ });
  const extra = new Uint8Array(bytes.length + 4);
  extra.set(bytes);
  t.throws(() => decodeTrajectories(extra), { message: /4 trailing bytes/ });
});

test('selectRows and shardRows split a batch without mixing rows', (t) => {
  const trajs = [0, 1, 2, 3, 4].map((p) => multiTurn(p, 0, p / 4, p % 2));
  const b = collate(trajs, { padId: 0 });
  const sub = selectRows(b, [3, 1]);
  const T = b.promptLength + b.responseLength;
  t.deepEqual([...sub.inputIds.subarray(0, T)], [...b.inputIds.subarray(3 * T, 4 * T)]);
  t.deepEqual(sub.groupIds, ['2:3', '2:1']);
  t.deepEqual([...sub.scores], [0.75, 0.25]);
  t.deepEqual(shardRows(5, 0, 2), [0, 1, 2]);
  t.deepEqual(shardRows(5, 1, 2), [3, 4]);
  const all = [0, 1, 2].flatMap((r) => shardRows(7, r, 3));
  t.deepEqual(all, [0, 1, 2, 3, 4, 5, 6]);
  t.throws(() => selectRows(b, [5]), { message: /outside 0\.\.4/ });
});

test('TrajectoryBuilder: policy and environment tokens, trailing observation trimmed, validated', (t) => {
  const b = new TrajectoryBuilder({ step: 4, promptIndex: 2, sampleIndex: 1, question: 'q', answers: ['a'], dataSource: 'two-hop', promptIds: [5, 6] });
  b.addPolicyTokens([1, 2], [-0.5, -0.25], 3).addEnvironmentTokens([9, 9, 9]).addPolicyTokens([3], [-1], 4).addEnvironmentTokens([8]);
  t.is(b.length, 7);
  const traj = b.finish({ turns: 2, searches: 1, noisySearches: 0, answered: false, prediction: null, reward: 0 });
  t.is(traj.id, '4:2#1');
  t.is(traj.groupId, '4:2');
  t.deepEqual([...traj.responseIds], [1, 2, 9, 9, 9, 3]);
  t.deepEqual([...traj.lossMask], [1, 1, 0, 0, 0, 1]);
  t.deepEqual([...traj.policyVersions], [3, 3, -1, -1, -1, 4]);
  t.throws(() => b.addPolicyTokens([1], [], 0), { message: /1 ids but 0 log-probs/ });
  const empty = new TrajectoryBuilder({ step: 0, promptIndex: 0, sampleIndex: 0, question: 'q', answers: ['a'], dataSource: 'x', promptIds: [1] }).addEnvironmentTokens([1]);
  t.throws(() => empty.finish({ turns: 0, searches: 0, noisySearches: 0, answered: false, prediction: null, reward: 0 }), { message: /generated no tokens/ });
});
