import test from 'ava';
import {
  InfeasibleError,
  Scheduler,
  SchedulerInputError,
  type Demand,
  type NodeSpec,
  type PlacementRequest,
  type ResourceMap,
  type ScheduleResult,
} from '../../runtime/src/scheduler/index.js';

function cluster(nodes: Array<[string, ResourceMap, Record<string, string>?]>, opts?: ConstructorParameters<typeof Scheduler>[0]): Scheduler {
  const s = new Scheduler(opts);
  for (const [id, resources, labels] of nodes) s.addNode({ id, resources, ...(labels ? { labels } : {}) } as NodeSpec);
  return s;
}

function demand(id: string, resources: ResourceMap, placement: PlacementRequest = { kind: 'any' }): Demand {
  return { id, resources, placement };
}

function scheduled(r: ScheduleResult) {
  if (r.status !== 'scheduled') throw new Error(`expected scheduled, got pending: ${r.reason}`);
  return r.assignment;
}

function pendingReason(r: ScheduleResult): string {
  if (r.status !== 'pending') throw new Error(`expected pending, got scheduled on ${r.assignment.nodeId}`);
  return r.reason;
}

function used(s: Scheduler, node: string): ResourceMap {
  return s.nodes().find((n) => n.id === node)!.used;
}

// ------------------------------------------------------------------ GPUs

test('two 0.5-GPU actors share one device id; the third goes to the next device', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 2 }]]);
  t.deepEqual(scheduled(s.submit(demand('a', { GPU: 0.5 }))).gpuIds, [0]);
  t.deepEqual(scheduled(s.submit(demand('b', { GPU: 0.5 }))).gpuIds, [0]);
  t.deepEqual(scheduled(s.submit(demand('c', { GPU: 0.5 }))).gpuIds, [1]);
  t.deepEqual(s.nodes()[0].gpuUsed, [1, 0.5]);
});

test('fractional demands best-fit onto the partly used device with the least room left', (t) => {
  const s = cluster([['n1', { GPU: 3 }]]);
  t.deepEqual(scheduled(s.submit(demand('a', { GPU: 0.7 }))).gpuIds, [0]);
  t.deepEqual(scheduled(s.submit(demand('b', { GPU: 0.6 }))).gpuIds, [1]);
  // 0.3 fits GPU 0 (0.3 left) and GPU 1 (0.4 left) and GPU 2 (1 left): best fit is GPU 0.
  t.deepEqual(scheduled(s.submit(demand('c', { GPU: 0.3 }))).gpuIds, [0]);
  // 0.4 now fits GPU 1 exactly.
  t.deepEqual(scheduled(s.submit(demand('d', { GPU: 0.4 }))).gpuIds, [1]);
  t.deepEqual(s.nodes()[0].gpuUsed, [1, 1, 0]);
});

test('ten 0.1-GPU actors fill exactly one device (integer units, no float drift)', (t) => {
  const s = cluster([['n1', { GPU: 2 }]]);
  for (let i = 0; i < 10; i++) t.deepEqual(scheduled(s.submit(demand(`a${i}`, { GPU: 0.1 }))).gpuIds, [0]);
  t.deepEqual(s.nodes()[0].gpuUsed, [1, 0]);
  t.deepEqual(scheduled(s.submit(demand('whole', { GPU: 1 }))).gpuIds, [1]);
  t.is(pendingReason(s.submit(demand('more', { GPU: 0.1 }))), 'waiting: needs GPU:0.1, free GPU:0');
  for (let i = 0; i < 10; i++) s.release(`a${i}`);
  t.deepEqual(s.nodes()[0].gpuUsed, [0, 1]);
});

test('whole-GPU demands take whole free devices; a partly used device is not handed out', (t) => {
  const s = cluster([['n1', { GPU: 4 }]]);
  t.deepEqual(scheduled(s.submit(demand('frac', { GPU: 0.25 }))).gpuIds, [0]);
  t.deepEqual(scheduled(s.submit(demand('two', { GPU: 2 }))).gpuIds, [1, 2]);
  t.deepEqual(scheduled(s.submit(demand('one', { GPU: 1 }))).gpuIds, [3]);
  t.is(pendingReason(s.submit(demand('late', { GPU: 1 }))), 'waiting: needs GPU:1, free GPU:0.75');
  s.release('frac');
  const { assignments } = s.drainPending();
  t.deepEqual(assignments.map((a) => [a.demandId, a.gpuIds]), [['late', [0]]]);
});

test('fractional fragmentation is explained in the pending reason', (t) => {
  const s = cluster([['n1', { GPU: 2 }]]);
  scheduled(s.submit(demand('a', { GPU: 0.6 })));
  scheduled(s.submit(demand('b', { GPU: 0.6 })));
  t.is(pendingReason(s.submit(demand('c', { GPU: 0.5 }))), 'waiting: needs GPU:0.5, free GPU:0.8 (at most 0.4 free on one device)');
  const s3 = cluster([['n1', { GPU: 3 }]]);
  for (const id of ['a', 'b', 'c']) t.deepEqual(scheduled(s3.submit(demand(id, { GPU: 0.6 }))).gpuIds.length, 1);
  t.is(pendingReason(s3.submit(demand('d', { GPU: 1 }))), 'waiting: needs GPU:1, free GPU:1.2 (0 whole devices free)');
});

// ------------------------------------------------------------------ validation and infeasibility

test('bad inputs are rejected with messages that name the problem and the fix', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 2 }]]);
  const msg = (f: () => unknown) => t.throws(f, { instanceOf: SchedulerInputError })!.message;
  t.is(msg(() => s.submit(demand('a', { GPU: 1.5 }))), 'invalid demand a: GPU: 1.5 — fractional GPU requests must be < 1 or whole');
  t.regex(msg(() => s.submit(demand('a', { CPU: -1 }))), /CPU: -1 — amounts must be finite numbers ≥ 0/);
  t.regex(msg(() => s.submit(demand('a', { CPU: Number.NaN }))), /CPU: NaN — amounts must be finite/);
  t.regex(msg(() => s.submit(demand('a', { CPU: 0.00001 }))), /below the 0.0001 granularity/);
  t.regex(msg(() => s.submit(demand('a', { gpu: 1 }))), /did you mean "GPU"/);
  t.regex(msg(() => s.submit({ id: 'a', resources: {}, placement: { kind: 'nowhere' } } as unknown as Demand)), /placement.kind: must be one of/);
  t.regex(msg(() => s.submit({ id: '', resources: {}, placement: { kind: 'any' } })), /id: must be a non-empty string/);
  t.regex(msg(() => s.submit(demand('a', {}, { kind: 'group', groupId: 'g', bundleIndex: -1 }))), /bundleIndex: must be a whole number ≥ 0/);
  t.regex(msg(() => s.addNode({ id: 'n2', resources: { GPU: 1.5 } })), /node n2: GPU: 1.5 — a node's GPU total counts physical devices/);
  t.regex(msg(() => s.addNode({ id: 'n1', resources: { CPU: 1 } })), /node n1 is already registered/);
  t.regex(msg(() => s.createPlacementGroup({ id: 'g', bundles: [], strategy: 'PACK' })), /bundles: must be a non-empty array/);
  t.regex(msg(() => s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 0 }], strategy: 'PACK' })), /bundle 0: the bundle is empty/);
  t.regex(
    msg(() => s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 1 }], strategy: 'TIGHT' as 'PACK' })),
    /strategy: must be one of PACK, SPREAD, STRICT_PACK, STRICT_SPREAD/,
  );
  t.regex(msg(() => s.removePlacementGroup('nope')), /unknown placement group nope/);
  scheduled(s.submit(demand('dup', { CPU: 1 })));
  t.regex(msg(() => s.submit(demand('dup', { CPU: 1 }))), /already scheduled on node n1; release it/);
  // Nothing above consumed resources.
  t.deepEqual(used(s, 'n1'), { CPU: 1, GPU: 0 });
});

test('a demand that can never fit throws InfeasibleError naming the resource', (t) => {
  const s = cluster([
    ['n1', { CPU: 8, GPU: 2, memory: 1024 }],
    ['n2', { CPU: 16, tpu: 4 }],
  ]);
  const err = (f: () => unknown) => t.throws(f, { instanceOf: InfeasibleError })!.message;
  t.is(err(() => s.submit(demand('a', { CPU: 1, foo: 1 }))), 'demand a {CPU:1, foo:1} cannot be scheduled: no node has "foo" (nodes offer: CPU, GPU, memory, tpu)');
  t.is(err(() => s.submit(demand('b', { GPU: 4 }))), 'demand b {GPU:4} is larger than any node: needs GPU:4, total GPU:2 (best node n1)');
  t.regex(err(() => s.submit(demand('c', { CPU: 10, GPU: 1 }))), /larger than any node: needs CPU:10, total CPU:8/);
  t.regex(err(() => s.submit(demand('d', { CPU: 1 }, { kind: 'node', nodeId: 'n9' }))), /hard affinity to node n9 but there is no node n9 \(nodes: n1, n2\); use soft: true/);
  t.regex(err(() => s.submit(demand('e', { GPU: 1 }, { kind: 'node', nodeId: 'n2' }))), /can never fit node n2 \(hard affinity\): needs GPU:1, total GPU:0/);
  t.is(s.pending().length, 0);
});

test('with keepInfeasible, an infeasible demand waits for a node that can take it', (t) => {
  const s = new Scheduler({ keepInfeasible: true });
  t.is(pendingReason(s.submit(demand('a', { GPU: 1 }))), 'infeasible: demand a {GPU:1} cannot be scheduled: the cluster has no nodes');
  s.addNode({ id: 'n1', resources: { GPU: 1 } });
  t.deepEqual(s.drainPending().assignments.map((a) => a.demandId), ['a']);
});

// ------------------------------------------------------------------ pending queue

test('pending reasons read "waiting: needs X:a, free X:b" for each short resource', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 1 }]]);
  scheduled(s.submit(demand('gpu', { CPU: 2, GPU: 1 })));
  t.is(pendingReason(s.submit(demand('a', { GPU: 1 }))), 'waiting: needs GPU:1, free GPU:0');
  const s2 = cluster([['n1', { CPU: 4, GPU: 1 }]]);
  scheduled(s2.submit(demand('x', { CPU: 3, GPU: 1 })));
  t.is(pendingReason(s2.submit(demand('b', { CPU: 2, GPU: 1 }))), 'waiting: needs CPU:2, free CPU:1; needs GPU:1, free GPU:0');
  t.deepEqual(s2.pending(), [{ kind: 'actor', id: 'b', reason: 'waiting: needs CPU:2, free CPU:1; needs GPU:1, free GPU:0' }]);
});

test('drainPending places waiting demands in FIFO order as resources come back', (t) => {
  const s = cluster([['n1', { CPU: 2 }]]);
  scheduled(s.submit(demand('r1', { CPU: 1 })));
  scheduled(s.submit(demand('r2', { CPU: 1 })));
  for (const id of ['p1', 'p2', 'p3']) pendingReason(s.submit(demand(id, { CPU: 1 })));
  t.deepEqual(s.drainPending().assignments, []);
  s.release('r2');
  t.deepEqual(s.drainPending().assignments.map((a) => a.demandId), ['p1']);
  s.release('r1');
  s.release('p1');
  t.deepEqual(s.drainPending().assignments.map((a) => a.demandId), ['p2', 'p3']);
  t.deepEqual(s.pending(), []);
});

test('FIFO fairness: a big pending demand holds back later small ones of the same resource, not others', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 2 }]]);
  scheduled(s.submit(demand('half', { GPU: 0.5 })));
  scheduled(s.submit(demand('one', { GPU: 1 })));
  t.is(pendingReason(s.submit(demand('big', { GPU: 1 }))), 'waiting: needs GPU:1, free GPU:0.5');
  // 0.5 GPU is free but goes to nobody before "big".
  t.is(pendingReason(s.submit(demand('small', { GPU: 0.5 }))), 'waiting: queued behind big, which needs GPU first (FIFO)');
  // A CPU-only demand is not held back.
  scheduled(s.submit(demand('cpu', { CPU: 1 })));
  s.release('half');
  t.deepEqual(s.drainPending().assignments.map((a) => [a.demandId, a.gpuIds]), [['big', [0]]]);
  t.is(s.pending()[0].reason, 'waiting: needs GPU:0.5, free GPU:0');
  s.release('one');
  t.deepEqual(s.drainPending().assignments.map((a) => [a.demandId, a.gpuIds]), [['small', [1]]]);
});

test('greedy fairness lets later demands that fit go first', (t) => {
  const s = cluster([['n1', { GPU: 2 }]], { fairness: 'greedy' });
  scheduled(s.submit(demand('half', { GPU: 0.5 })));
  scheduled(s.submit(demand('one', { GPU: 1 })));
  pendingReason(s.submit(demand('big', { GPU: 1 })));
  t.deepEqual(scheduled(s.submit(demand('small', { GPU: 0.5 }))).gpuIds, [0]);
});

test('cancel and release drop pending demands; both are idempotent', (t) => {
  const s = cluster([['n1', { CPU: 1 }]]);
  scheduled(s.submit(demand('a', { CPU: 1 })));
  pendingReason(s.submit(demand('b', { CPU: 1 })));
  pendingReason(s.submit(demand('c', { CPU: 1 })));
  s.cancel('b');
  s.cancel('b');
  s.release('zzz');
  t.deepEqual(s.pending().map((p) => p.id), ['c']);
  s.release('a');
  s.release('a');
  t.deepEqual(s.drainPending().assignments.map((x) => x.demandId), ['c']);
  t.is(s.assignment('c')?.nodeId, 'n1');
  t.is(s.assignment('a'), undefined);
});

// ------------------------------------------------------------------ node choice

test('any packs onto the first node until half full, then picks the least utilized', (t) => {
  const s = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
  ]);
  const nodes = ['a', 'b', 'c', 'd', 'e'].map((id) => scheduled(s.submit(demand(id, { CPU: 1 }))).nodeId);
  // n1 up to 2/4 (50%), then n2 (n1 would be 75%), then n2 again (50%), then least utilized.
  t.deepEqual(nodes, ['n1', 'n1', 'n2', 'n2', 'n1']);
  // Zero-resource actors count as one actor per CPU, so they spread the same way.
  const z = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
  ]);
  t.deepEqual(
    ['a', 'b', 'c', 'd', 'e'].map((id) => scheduled(z.submit(demand(id, {}))).nodeId),
    ['n1', 'n1', 'n2', 'n2', 'n1'],
  );
});

test('any keeps CPU-only actors off GPU nodes when another node has room', (t) => {
  const s = cluster([
    ['gpu', { CPU: 8, GPU: 4 }],
    ['cpu', { CPU: 2 }],
  ]);
  t.is(scheduled(s.submit(demand('a', { CPU: 1 }))).nodeId, 'cpu');
  t.is(scheduled(s.submit(demand('b', { CPU: 1 }))).nodeId, 'cpu');
  t.is(scheduled(s.submit(demand('c', { CPU: 1 }))).nodeId, 'gpu');
  t.is(scheduled(s.submit(demand('g', { CPU: 1, GPU: 1 }))).nodeId, 'gpu');
});

test('spread places on the least loaded node, zero-resource actors included', (t) => {
  const s = cluster([
    ['n1', { CPU: 8 }],
    ['n2', { CPU: 8 }],
    ['n3', { CPU: 8 }],
  ]);
  const cpu = ['a', 'b', 'c'].map((id) => scheduled(s.submit(demand(id, { CPU: 1 }, { kind: 'spread' }))).nodeId);
  t.deepEqual(new Set(cpu).size, 3);
  const zero = ['x', 'y', 'z'].map((id) => scheduled(s.submit(demand(id, {}, { kind: 'spread' }))).nodeId);
  t.deepEqual(new Set(zero).size, 3);
});

test('node affinity: hard waits for its node, soft falls back', (t) => {
  const s = cluster([
    ['n1', { CPU: 1 }],
    ['n2', { CPU: 1 }],
  ]);
  t.is(scheduled(s.submit(demand('a', { CPU: 1 }, { kind: 'node', nodeId: 'n2' }))).nodeId, 'n2');
  t.is(pendingReason(s.submit(demand('b', { CPU: 1 }, { kind: 'node', nodeId: 'n2' }))), 'waiting: needs CPU:1, free CPU:0 on node n2');
  // The hard-affinity wait holds back n2 only: a CPU demand still goes to n1.
  t.is(scheduled(s.submit(demand('c', { CPU: 1 }, { kind: 'node', nodeId: 'n2', soft: true }))).nodeId, 'n1');
  t.is(scheduled(s.submit(demand('d', {}, { kind: 'node', nodeId: 'gone', soft: true }))).nodeId, 'n1');
  s.release('a');
  t.deepEqual(s.drainPending().assignments.map((x) => [x.demandId, x.nodeId]), [['b', 'n2']]);
});

// ------------------------------------------------------------------ placement groups

test('PACK puts all bundles on one node when they fit, and spills over when not', (t) => {
  const s = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
  ]);
  const a = s.createPlacementGroup({ id: 'a', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'PACK' });
  t.is(a.state, 'created');
  t.deepEqual(a.bundleNodes, ['n1', 'n1', 'n1']);
  const b = s.createPlacementGroup({ id: 'b', bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: 'PACK' });
  t.deepEqual(b.bundleNodes, ['n2', 'n2']);
  s.removePlacementGroup('a');
  s.removePlacementGroup('b');
  const c = s.createPlacementGroup({ id: 'c', bundles: [{ CPU: 3 }, { CPU: 3 }], strategy: 'PACK' });
  t.deepEqual(c.bundleNodes, ['n1', 'n2']);
});

test('SPREAD puts bundles on distinct nodes when it can, and shares nodes when not', (t) => {
  const s = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
  ]);
  t.deepEqual(s.createPlacementGroup({ id: 'a', bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'SPREAD' }).bundleNodes, ['n1', 'n2']);
  const b = s.createPlacementGroup({ id: 'b', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'SPREAD' });
  t.is(b.state, 'created');
  t.deepEqual([...new Set(b.bundleNodes)].sort(), ['n1', 'n2']);
});

test('STRICT_PACK needs one node: pending while no node has room, infeasible when none ever could', (t) => {
  const s = cluster([
    ['n1', { CPU: 4, GPU: 2 }],
    ['n2', { CPU: 4, GPU: 2 }],
  ]);
  scheduled(s.submit(demand('x', { GPU: 1 })));
  scheduled(s.submit(demand('y', { GPU: 1 }, { kind: 'node', nodeId: 'n2' })));
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ GPU: 1 }, { GPU: 1 }], strategy: 'STRICT_PACK' });
  t.is(g.state, 'pending');
  t.is(g.reason, 'waiting: needs {GPU:2} on one node for STRICT_PACK: needs GPU:2, free GPU:1 (best node n1)');
  t.deepEqual(s.pending(), [{ kind: 'placement-group', id: 'g', reason: g.reason! }]);
  t.throws(() => s.createPlacementGroup({ id: 'h', bundles: [{ GPU: 2 }, { GPU: 1 }], strategy: 'STRICT_PACK' }), {
    instanceOf: InfeasibleError,
    message: /needs \{GPU:3\} on one node, more than any node has: needs GPU:3, total GPU:2/,
  });
  s.release('y');
  const { groups } = s.drainPending();
  t.deepEqual(groups.map((x) => [x.id, x.state, x.bundleNodes, x.bundleGpuIds]), [['g', 'created', ['n2', 'n2'], [[0], [1]]]]);
});

test('STRICT_SPREAD gives each bundle its own node, finding an assignment greedy order would miss', (t) => {
  const s = cluster([
    ['big', { CPU: 4, GPU: 1 }],
    ['small', { CPU: 4 }],
  ]);
  // Bundle 0 fits both nodes, bundle 1 only "big": a matching is needed.
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 1 }, { GPU: 1 }], strategy: 'STRICT_SPREAD' });
  t.deepEqual(g.bundleNodes, ['small', 'big']);
  t.throws(() => s.createPlacementGroup({ id: 'h', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD' }), {
    instanceOf: InfeasibleError,
    message: 'placement group h (STRICT_SPREAD, 3 bundles) needs 3 distinct nodes but the cluster has 2; use SPREAD for best-effort spreading',
  });
  const p = s.createPlacementGroup({ id: 'p', bundles: [{ CPU: 1 }, { GPU: 1 }], strategy: 'STRICT_SPREAD' });
  t.is(p.state, 'pending');
  t.regex(p.reason!, /^waiting: bundle 1 needs \{GPU:1\}: needs GPU:1, free GPU:0/);
});

test('a placement group reserves atomically: all bundles or none', (t) => {
  const s = cluster([
    ['n1', { CPU: 2 }],
    ['n2', { CPU: 2 }],
  ]);
  scheduled(s.submit(demand('x', { CPU: 2 }, { kind: 'node', nodeId: 'n2' })));
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: 'SPREAD' });
  t.is(g.state, 'pending');
  t.deepEqual(used(s, 'n1'), { CPU: 0 });
  s.release('x');
  t.deepEqual(s.drainPending().groups.map((x) => x.bundleNodes), [['n1', 'n2']]);
  t.deepEqual(used(s, 'n1'), { CPU: 2 });
  t.deepEqual(used(s, 'n2'), { CPU: 2 });
});

test('actors in a group draw from their bundle, not the node, and share bundle GPUs', (t) => {
  const s = cluster([['n1', { CPU: 8, GPU: 4 }]]);
  scheduled(s.submit(demand('outside', { GPU: 1 })));
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2, GPU: 1 }, { CPU: 1, GPU: 2 }], strategy: 'PACK' });
  t.deepEqual(g.bundleGpuIds, [[1], [2, 3]]);
  const before = used(s, 'n1');
  t.deepEqual(before, { CPU: 3, GPU: 4 });
  const a = scheduled(s.submit(demand('a', { CPU: 1, GPU: 0.5 }, { kind: 'group', groupId: 'g', bundleIndex: 0 })));
  const b = scheduled(s.submit(demand('b', { CPU: 1, GPU: 0.5 }, { kind: 'group', groupId: 'g', bundleIndex: 0 })));
  t.deepEqual([a.gpuIds, b.gpuIds, a.groupId, a.bundleIndex], [[1], [1], 'g', 0]);
  t.deepEqual(used(s, 'n1'), before, 'the node pool is untouched by actors in the group');
  t.is(
    pendingReason(s.submit(demand('c', { CPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 0 }))),
    'waiting: needs CPU:1, free CPU:0 in bundle 0 of placement group g',
  );
  // No bundle index: any bundle with room (bundle 1 here), whole GPUs from its reservation.
  const d = scheduled(s.submit(demand('d', { GPU: 2 }, { kind: 'group', groupId: 'g' })));
  t.deepEqual([d.bundleIndex, d.gpuIds], [1, [2, 3]]);
  s.release('a');
  t.deepEqual(s.drainPending().assignments.map((x) => [x.demandId, x.bundleIndex]), [['c', 0]]);
});

test('group placement errors: bigger than the bundle, bad bundle index, unknown or removed group', (t) => {
  const s = cluster([['n1', { CPU: 8, GPU: 2 }]]);
  s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 1, GPU: 0.5 }], strategy: 'PACK' });
  const err = (d: Demand) => t.throws(() => s.submit(d), { instanceOf: InfeasibleError })!.message;
  t.regex(err(demand('a', { GPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 0 })), /\{GPU:1\} exceeds bundle 0 \{CPU:1, GPU:0.5\} of placement group g/);
  t.regex(err(demand('a', { memory: 1 }, { kind: 'group', groupId: 'g' })), /exceeds every bundle of placement group g/);
  t.regex(err(demand('a', {}, { kind: 'group', groupId: 'g', bundleIndex: 3 })), /asks for bundle 3 of placement group g, which has 1 bundle \(indexes 0..0\)/);
  t.regex(err(demand('a', {}, { kind: 'group', groupId: 'nope' })), /placement group nope, which does not exist/);
  s.removePlacementGroup('g');
  t.regex(err(demand('a', {}, { kind: 'group', groupId: 'g' })), /placement group g, which was removed/);
});

test('actors wait for a pending group and are placed in the same drain that creates it', (t) => {
  const s = cluster([['n1', { CPU: 2, GPU: 1 }]]);
  scheduled(s.submit(demand('hog', { GPU: 1 })));
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ GPU: 1 }], strategy: 'STRICT_PACK' });
  t.is(g.state, 'pending');
  t.is(
    pendingReason(s.submit(demand('a', { GPU: 0.5 }, { kind: 'group', groupId: 'g', bundleIndex: 0 }))),
    'waiting: placement group g is pending (waiting: needs {GPU:1} on one node for STRICT_PACK: needs GPU:1, free GPU:0)',
  );
  s.release('hog');
  const r = s.drainPending();
  t.deepEqual(r.groups.map((x) => x.id), ['g']);
  t.deepEqual(r.assignments.map((x) => [x.demandId, x.gpuIds]), [['a', [0]]]);
  t.is(s.group('g')?.state, 'created');
});

test('removing a group reports its actors (placed and waiting) and frees its reservation', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 2 }]]);
  s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2, GPU: 1 }], strategy: 'PACK' });
  scheduled(s.submit(demand('a', { CPU: 1 }, { kind: 'group', groupId: 'g' })));
  scheduled(s.submit(demand('b', { CPU: 1, GPU: 1 }, { kind: 'group', groupId: 'g' })));
  pendingReason(s.submit(demand('c', { CPU: 1 }, { kind: 'group', groupId: 'g' })));
  t.deepEqual(used(s, 'n1'), { CPU: 2, GPU: 1 });
  t.deepEqual(s.removePlacementGroup('g').actors.sort(), ['a', 'b', 'c']);
  t.deepEqual(used(s, 'n1'), { CPU: 0, GPU: 0 });
  t.deepEqual(s.nodes()[0].gpuUsed, [0, 0]);
  t.is(s.group('g')?.state, 'removed');
  t.deepEqual(s.pending(), []);
  t.is(s.assignment('a'), undefined);
  t.deepEqual(s.removePlacementGroup('g'), { actors: [] });
  // Releasing an actor of a removed group is harmless.
  s.release('a');
  t.deepEqual(used(s, 'n1'), { CPU: 0, GPU: 0 });
  // The id can be reused.
  t.is(s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 4 }], strategy: 'PACK' }).state, 'created');
});

test('a pending group is removed from the queue when removed', (t) => {
  const s = cluster([['n1', { CPU: 1 }]]);
  scheduled(s.submit(demand('x', { CPU: 1 })));
  s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 1 }], strategy: 'PACK' });
  t.deepEqual(s.removePlacementGroup('g'), { actors: [] });
  s.release('x');
  t.deepEqual(s.drainPending(), { assignments: [], groups: [] });
  t.deepEqual(used(s, 'n1'), { CPU: 0 });
});

// ------------------------------------------------------------------ node removal

test('removeNode reports its actors and re-places only the bundles a group had there; the others keep their reservation and actors', (t) => {
  const s = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
    ['n3', { CPU: 4 }],
  ]);
  scheduled(s.submit(demand('on2', { CPU: 1 }, { kind: 'node', nodeId: 'n2' })));
  scheduled(s.submit(demand('on1', { CPU: 1 }, { kind: 'node', nodeId: 'n1' })));
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2 }, { CPU: 2 }], strategy: 'STRICT_SPREAD' });
  t.deepEqual(g.bundleNodes, ['n1', 'n2']);
  scheduled(s.submit(demand('g0', { CPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 0 })));
  scheduled(s.submit(demand('g1', { CPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 1 })));
  scheduled(s.submit(demand('fill', { CPU: 3 }, { kind: 'node', nodeId: 'n3' })));
  pendingReason(s.submit(demand('hard2', { CPU: 4 }, { kind: 'node', nodeId: 'n2' })));

  const r = s.removeNode('n2');
  t.deepEqual(r.actors.sort(), ['g1', 'hard2', 'on2'], 'g0 runs in bundle 0 on n1, which survives');
  t.deepEqual(r.groups, ['g']);
  t.deepEqual(used(s, 'n1'), { CPU: 3 }, 'bundle 0 on n1 keeps its reservation');
  t.is(s.group('g')?.state, 'pending');
  t.regex(s.group('g')!.reason!, /rescheduling bundle 1 after node n2 was removed/);
  t.is(s.assignment('g0')?.nodeId, 'n1');
  t.deepEqual(s.pending().map((p) => p.id), ['g']);
  // the survivor's bundle still takes actors while bundle 1 waits
  t.is(scheduled(s.submit(demand('g0b', { CPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 0 }))).nodeId, 'n1');
  t.regex(pendingReason(s.submit(demand('g1b', { CPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 1 }))), /placement group g is pending/);
  t.deepEqual(s.removeNode('n2'), { actors: [], groups: [] });
  t.throws(() => s.submit(demand('again', {}, { kind: 'node', nodeId: 'n2' })), { instanceOf: InfeasibleError, message: /node n2 was removed/ });

  // Only two nodes left and n3 is busy: bundle 1 may not join bundle 0 on n1 (STRICT_SPREAD), so the group waits.
  t.deepEqual(s.drainPending().groups, []);
  t.regex(s.pending()[0].reason, /bundle 1 .*STRICT_SPREAD|bundle 1 needs/);
  s.release('fill');
  const again = s.drainPending();
  t.deepEqual(again.groups.map((x) => x.bundleNodes), [['n1', 'n3']]);
  t.deepEqual(again.assignments.map((a) => [a.demandId, a.nodeId]), [['g1b', 'n3']]);
  t.is(s.assignment('g0')?.nodeId, 'n1');
  // A node can come back under the same id.
  s.addNode({ id: 'n2', resources: { CPU: 4 } });
  t.is(scheduled(s.submit(demand('back', { CPU: 4 }, { kind: 'node', nodeId: 'n2' }))).nodeId, 'n2');
});

test('bundles lost with a node are re-placed by the strategy, counting the bundles the group kept', (t) => {
  const s = cluster([
    ['n1', { CPU: 4 }],
    ['n2', { CPU: 4 }],
    ['n3', { CPU: 4 }],
  ]);
  // SPREAD over three nodes, n2 dies: bundle 1 goes to a node with fewest of the group's bundles (a tie of n1 and n3: the less used, n3)
  s.createPlacementGroup({ id: 'sp', bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }], strategy: 'SPREAD' });
  t.deepEqual(s.group('sp')!.bundleNodes, ['n1', 'n2', 'n3']);
  scheduled(s.submit(demand('x1', { CPU: 1 }, { kind: 'node', nodeId: 'n1' })));
  scheduled(s.submit(demand('in-sp0', { CPU: 1 }, { kind: 'group', groupId: 'sp', bundleIndex: 0 })));
  const r = s.removeNode('n2');
  t.deepEqual(r.groups, ['sp']);
  t.deepEqual(r.actors, []);
  const d = s.drainPending();
  t.deepEqual(d.groups.map((g) => [g.id, g.bundleNodes]), [['sp', ['n1', 'n3', 'n3']]]);
  t.is(s.assignment('in-sp0')?.nodeId, 'n1', 'the actor in the kept bundle stays');

  // PACK that spilled over two nodes: the lost bundle comes back to the node the group still uses, not the first node with room
  const p = cluster([
    ['m1', { CPU: 2 }],
    ['m2', { CPU: 2 }],
    ['m3', { CPU: 5 }],
  ]);
  scheduled(p.submit(demand('f3', { CPU: 1 }, { kind: 'node', nodeId: 'm3' })));
  p.createPlacementGroup({ id: 'pk', bundles: [{ CPU: 3 }, { CPU: 2 }], strategy: 'PACK' });
  t.deepEqual(p.group('pk')!.bundleNodes, ['m3', 'm1']);
  p.release('f3');
  t.deepEqual(p.removeNode('m1').groups, ['pk']);
  t.deepEqual(p.drainPending().groups.map((g) => g.bundleNodes), [['m3', 'm3']]);

  // STRICT_PACK keeps its bundles on one node: losing it re-places the whole group
  const q = cluster([
    ['k1', { CPU: 2 }],
    ['k2', { CPU: 2 }],
  ]);
  q.createPlacementGroup({ id: 'sk', bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_PACK' });
  scheduled(q.submit(demand('in-sk', { CPU: 1 }, { kind: 'group', groupId: 'sk', bundleIndex: 1 })));
  t.deepEqual(q.removeNode('k1'), { actors: ['in-sk'], groups: ['sk'] });
  t.deepEqual(q.drainPending().groups.map((g) => g.bundleNodes), [['k2', 'k2']]);
});

test('nodes() reports totals, usage, labels and per-GPU use', (t) => {
  const s = cluster([['n1', { CPU: 4, GPU: 2, memory: 2 ** 30, slots: 3 }, { role: 'simulator' }]]);
  scheduled(s.submit(demand('a', { CPU: 1.5, GPU: 0.25, memory: 2 ** 29, slots: 1 })));
  t.deepEqual(s.nodes(), [
    {
      id: 'n1',
      labels: { role: 'simulator' },
      total: { CPU: 4, GPU: 2, memory: 2 ** 30, slots: 3 },
      used: { CPU: 1.5, GPU: 0.25, memory: 2 ** 29, slots: 1 },
      gpuUsed: [0.25, 0],
    },
  ]);
});

test('1,000 actors across 100 nodes submit and release cleanly', (t) => {
  const s = new Scheduler();
  for (let i = 0; i < 100; i++) s.addNode({ id: `n${i}`, resources: { CPU: 16, GPU: 8 } });
  const perNode = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const a = scheduled(s.submit(demand(`a${i}`, { CPU: 1, GPU: i % 2 ? 0.5 : 0 }, { kind: i % 3 ? 'any' : 'spread' })));
    perNode.set(a.nodeId, (perNode.get(a.nodeId) ?? 0) + 1);
  }
  t.true(Math.max(...perNode.values()) <= 16);
  for (let i = 0; i < 1000; i++) s.release(`a${i}`);
  t.true(s.nodes().every((n) => n.used.CPU === 0 && n.used.GPU === 0));
});

test('label affinity: hard keeps to matching nodes, soft prefers them', (t) => {
  const s = cluster([
    ['p1', { CPU: 2, GPU: 1 }, { role: 'policy' }],
    ['s1', { CPU: 2, GPU: 1 }, { role: 'simulator', zone: 'a' }],
    ['s2', { CPU: 2, GPU: 1 }, { role: 'simulator', zone: 'b' }],
  ]);
  const sim: PlacementRequest = { kind: 'labels', labels: { role: 'simulator' } };
  t.is(scheduled(s.submit(demand('a', { GPU: 1 }, sim))).nodeId, 's1');
  t.is(scheduled(s.submit(demand('b', { GPU: 1 }, sim))).nodeId, 's2');
  t.is(pendingReason(s.submit(demand('c', { GPU: 1 }, sim))), 'waiting: needs GPU:1, free GPU:0 on nodes labelled role=simulator (best node s1 of 2)');
  // The wait holds GPUs back only on the simulator nodes: the policy node still takes GPU work.
  t.is(scheduled(s.submit(demand('d', { GPU: 0.5 }, { kind: 'labels', labels: { role: 'simulator' }, soft: true }))).nodeId, 'p1');
  t.is(scheduled(s.submit(demand('e', { CPU: 1 }, { kind: 'labels', labels: { role: 'simulator', zone: 'b' } }))).nodeId, 's2');
  t.throws(() => s.submit(demand('f', {}, { kind: 'labels', labels: { role: 'judge' } })), {
    instanceOf: InfeasibleError,
    message: /needs a node labelled role=judge and no node is \(nodes: p1 \{role=policy\}, s1 \{role=simulator,zone=a\}, s2 \{role=simulator,zone=b\}\)/,
  });
  t.throws(() => s.submit(demand('g', { GPU: 2 }, sim)), { instanceOf: InfeasibleError, message: /larger than any node labelled role=simulator/ });
  t.throws(() => s.submit(demand('h', {}, { kind: 'labels', labels: {} })), { instanceOf: SchedulerInputError, message: /must name at least one label/ });
  s.release('a');
  t.deepEqual(s.drainPending().assignments.map((x) => [x.demandId, x.nodeId]), [['c', 's1']]);
});

test('a restarted head restores groups and assignments exactly, and refuses ones that no longer fit', (t) => {
  const nodes: Array<[string, ResourceMap]> = [
    ['n1', { CPU: 8, GPU: 4 }],
    ['n2', { CPU: 8, GPU: 2 }],
  ];
  const a = cluster(nodes);
  a.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2, GPU: 1 }, { CPU: 1, GPU: 0.5 }], strategy: 'STRICT_SPREAD' });
  const ids = ['x', 'y', 'z', 'w'];
  scheduled(a.submit(demand('x', { GPU: 0.3 })));
  scheduled(a.submit(demand('y', { CPU: 1, GPU: 2 })));
  scheduled(a.submit(demand('z', { GPU: 0.25 }, { kind: 'group', groupId: 'g', bundleIndex: 1 })));
  scheduled(a.submit(demand('w', { CPU: 1, GPU: 1 }, { kind: 'group', groupId: 'g', bundleIndex: 0 })));

  const b = cluster(nodes);
  t.deepEqual(b.restorePlacementGroup(a.group('g')!), a.group('g'));
  for (const id of ids) b.restoreAssignment(a.assignment(id)!);
  t.deepEqual(b.nodes(), a.nodes());
  for (const id of ids) t.deepEqual(b.assignment(id), a.assignment(id));
  // Both make the same next decision.
  t.deepEqual(b.submit(demand('next', { GPU: 0.5 })), a.submit(demand('next', { GPU: 0.5 })));
  t.deepEqual(
    b.submit(demand('in-g', { GPU: 0.25 }, { kind: 'group', groupId: 'g' })),
    a.submit(demand('in-g', { GPU: 0.25 }, { kind: 'group', groupId: 'g' })),
  );

  // Conflicts are refused and change nothing.
  const before = b.nodes();
  const y = a.assignment('y')!;
  t.throws(() => b.restoreAssignment({ ...y, demandId: 'y2' }), { instanceOf: SchedulerInputError, message: /no longer fits node n\d/ });
  t.throws(() => b.restoreAssignment(y), { instanceOf: SchedulerInputError, message: /already known/ });
  t.throws(() => b.restoreAssignment({ demandId: 'q', nodeId: 'n9', resources: {}, gpuIds: [] }), { message: /node n9 is not registered/ });
  const g = a.group('g')!;
  t.throws(() => b.restorePlacementGroup({ ...g, id: 'g2', bundles: [{ CPU: 1 }, { CPU: 1 }], bundleNodes: ['n1', 'n9'], bundleGpuIds: [[], []] }), {
    instanceOf: SchedulerInputError,
    message: /bundle 1 was on node n9, which is not registered/,
  });
  t.deepEqual(b.nodes(), before, 'a refused group gives back the bundles it had reserved');
  t.is(b.group('g2'), undefined);
  // A pending group is simply created again.
  t.is(b.restorePlacementGroup({ id: 'p', bundles: [{ CPU: 1 }], strategy: 'PACK', state: 'pending' }).state, 'created');
});

test('cancelling the head of the queue lifts its FIFO hold at once', (t) => {
  const s = cluster([['n1', { GPU: 1 }]]);
  scheduled(s.submit(demand('half', { GPU: 0.5 })));
  pendingReason(s.submit(demand('big', { GPU: 1 })));
  t.regex(pendingReason(s.submit(demand('small', { GPU: 0.5 }))), /queued behind big/);
  s.cancel('small');
  s.cancel('big');
  t.deepEqual(scheduled(s.submit(demand('small2', { GPU: 0.5 }))).gpuIds, [0]);
});

test('a group sent back by node loss goes to the front of the queue and is re-placed first', (t) => {
  const s = cluster([
    ['n1', { CPU: 2 }],
    ['n2', { CPU: 2 }],
  ]);
  s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 2 }], strategy: 'PACK' });
  t.deepEqual(s.group('g')!.bundleNodes, ['n1']);
  scheduled(s.submit(demand('x', { CPU: 2 })));
  pendingReason(s.submit(demand('late', { CPU: 2 })));
  t.deepEqual(s.removeNode('n1'), { actors: [], groups: ['g'] });
  t.deepEqual(s.pending().map((p) => p.id), ['g', 'late']);
  s.release('x');
  const r = s.drainPending();
  t.deepEqual(r.groups.map((g) => [g.id, g.bundleNodes]), [['g', ['n2']]]);
  t.deepEqual(r.assignments, []);
  t.regex(s.pending()[0].reason, /^waiting: needs CPU:2, free CPU:0/);
});

test('with keepInfeasible, a group waits for nodes that can hold it', (t) => {
  const s = cluster([['n1', { CPU: 2 }]], { keepInfeasible: true });
  const g = s.createPlacementGroup({ id: 'g', bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD' });
  t.is(g.state, 'pending');
  t.regex(g.reason!, /^infeasible: placement group g \(STRICT_SPREAD, 2 bundles\) needs 2 distinct nodes but the cluster has 1/);
  s.addNode({ id: 'n2', resources: { CPU: 1 } });
  t.deepEqual(s.drainPending().groups.map((x) => x.bundleNodes), [['n1', 'n2']]);
});

test('a group with node labels places every bundle on matching nodes only, waits for one (keepInfeasible) or is infeasible with the nodes named', (t) => {
  const s = cluster([
    ['t1', { CPU: 4, GPU: 4 }, { role: 'trainer' }],
    ['s1', { CPU: 4, GPU: 4 }, { role: 'simulator' }],
  ]);
  // PACK would take t1 (first node) without the selector.
  const sims = s.createPlacementGroup({ id: 'sims', bundles: [{ GPU: 1 }, { GPU: 1 }, { GPU: 1 }, { GPU: 1 }], strategy: 'PACK', labels: { role: 'simulator' } });
  t.deepEqual(sims.bundleNodes, ['s1', 's1', 's1', 's1']);
  t.deepEqual(sims.bundleGpuIds, [[0], [1], [2], [3]]);
  t.deepEqual(sims.labels, { role: 'simulator' });
  const more = s.createPlacementGroup({ id: 'more', bundles: [{ GPU: 1 }], strategy: 'PACK', labels: { role: 'simulator' } });
  t.is(more.state, 'pending', 't1 has free GPUs but the wrong label');
  t.regex(more.reason!, /^waiting: bundle 0 needs \{GPU:1\}: needs GPU:1, free GPU:0/);
  t.throws(() => s.createPlacementGroup({ id: 'x', bundles: [{ CPU: 1 }], strategy: 'PACK', labels: { role: 'judge' } }), {
    instanceOf: InfeasibleError,
    message: /placement group x \(PACK, 1 bundle, nodes labelled role=judge\) cannot be placed: no node is labelled role=judge \(nodes: t1 \{role=trainer\}, s1 \{role=simulator\}\)/,
  });
  t.throws(() => s.createPlacementGroup({ id: 'y', bundles: [{ CPU: 1 }, { CPU: 1 }], strategy: 'STRICT_SPREAD', labels: { role: 'trainer' } }), { instanceOf: InfeasibleError, message: /needs 2 distinct nodes but the cluster has 1 with those labels/ });
  // A waiting labelled group is placed when a matching node joins (not on the free unlabelled one).
  const k = cluster([['t1', { CPU: 4, GPU: 4 }, { role: 'trainer' }]], { keepInfeasible: true });
  const g = k.createPlacementGroup({ id: 'g', bundles: [{ GPU: 1 }], strategy: 'PACK', labels: { role: 'simulator' } });
  t.is(g.state, 'pending');
  t.regex(g.reason!, /^infeasible: .*no node is labelled role=simulator/);
  k.addNode({ id: 's2', resources: { GPU: 2 }, labels: { role: 'simulator', zone: 'b' } });
  t.deepEqual(k.drainPending().groups.map((x) => x.bundleNodes), [['s2']]);
  t.throws(() => k.createPlacementGroup({ id: 'bad', bundles: [{ CPU: 1 }], strategy: 'PACK', labels: { role: 3 } as never }), { instanceOf: SchedulerInputError, message: /labels.*label values must be strings/ });
});

test('memory amounts read in binary units in reasons and errors', (t) => {
  const s = cluster([['n1', { CPU: 4, memory: 8 * 2 ** 30 }]]);
  scheduled(s.submit(demand('a', { memory: 6 * 2 ** 30 })));
  t.is(pendingReason(s.submit(demand('b', { memory: 3 * 2 ** 30 }))), 'waiting: needs memory:3GiB, free memory:2GiB');
  t.throws(() => s.submit(demand('c', { memory: 1.5 * 2 ** 40 })), { instanceOf: InfeasibleError, message: /needs memory:1.5TiB, total memory:8GiB/ });
  t.deepEqual(used(s, 'n1'), { CPU: 0, memory: 6 * 2 ** 30 });
});
