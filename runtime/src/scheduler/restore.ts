import { SchedulerInputError } from './errors.js';
import { actorKey, bundlePool, snapshot, type Bundle, type GroupEntry, type SchedulerState } from './state.js';
import type { Assignment, PlacementGroupSpec, PlacementGroupState } from './types.js';
import { formatQuantity, namesOf, quantify, sumQuantities } from './units.js';
import { parseAssignment, parsePlacementGroupState } from './validate.js';

// Restoring after a head restart (README.md): a cluster head rebuilds the
// scheduler from its store, group by group, then assignment by assignment,
// each taking exactly the nodes and GPU ids it had, or refused.

/**
 * Re-registers a placement group as it was (a cluster head that restarted
 * recovers it from its store): a `created` group reserves exactly its
 * recorded nodes and GPU ids; a `pending` one is created anew (and may be
 * placed at once); a `removed` one is only remembered as removed. Restore
 * groups before the actors in them. Throws SchedulerInputError when the
 * recorded placement no longer fits (nothing is reserved then).
 */
export function restorePlacementGroup(st: SchedulerState, state: PlacementGroupState, create: (spec: PlacementGroupSpec) => PlacementGroupState): PlacementGroupState {
  const r = parsePlacementGroupState(state);
  const { spec } = r;
  if (st.groups.has(spec.id)) {
    throw new SchedulerInputError(`placement group ${spec.id} already exists; restore each group once`);
  }
  if (r.state === 'removed') {
    const tomb: PlacementGroupState = { id: spec.id, strategy: spec.strategy, bundles: spec.bundles, state: 'removed' };
    if (spec.name !== undefined) tomb.name = spec.name;
    st.tombstones.set(spec.id, tomb);
    return { ...tomb };
  }
  if (r.state === 'pending') return create(spec);
  const bundles = spec.bundles.map((b) => quantify(b));
  const reserved: Bundle[] = [];
  const fail = (msg: string): never => {
    reserved.forEach((b, i) => b.nodePool.give(bundles[i], b.grant));
    throw new SchedulerInputError(`cannot restore placement group ${spec.id}: ${msg}`);
  };
  for (let i = 0; i < bundles.length; i++) {
    const nodeId = r.bundleNodes![i];
    const gpuIds = r.bundleGpuIds![i];
    const node = st.nodeMap.get(nodeId);
    if (!node) fail(`bundle ${i} was on node ${nodeId}, which is not registered (add the node first)`);
    const grant = node!.pool.takeExact(bundles[i], gpuIds);
    if (!grant) fail(`bundle ${i} ${formatQuantity(bundles[i])} no longer fits node ${nodeId} on GPU ids [${gpuIds.join(', ')}]`);
    reserved.push({ nodeId, grant: grant!, gpuIds: [...gpuIds], nodePool: node!.pool });
  }
  const g: GroupEntry = {
    spec,
    bundles,
    names: namesOf(sumQuantities(bundles)),
    state: 'created',
    reserved,
    actors: new Set(),
    waiting: new Set(),
  };
  for (const b of reserved) st.nodeMap.get(b.nodeId)?.groups.add(spec.id);
  st.groups.set(spec.id, g);
  st.tombstones.delete(spec.id);
  st.log.info({ group: spec.id, nodes: r.bundleNodes }, 'placement group restored');
  return snapshot(g);
}

/**
 * Re-registers an assignment made earlier (see `restorePlacementGroup`):
 * takes exactly its resources and GPU ids on its node, or in its bundle.
 * Throws SchedulerInputError when that no longer fits or the id is in use.
 */
export function restoreAssignment(st: SchedulerState, assignment: Assignment): Assignment {
  const a = parseAssignment(assignment);
  if (st.placed.has(a.demandId) || st.queue.has(actorKey(a.demandId))) {
    throw new SchedulerInputError(`demand ${a.demandId} is already known to the scheduler; restore each assignment once`);
  }
  const q = quantify(a.resources);
  const fail = (msg: string): never => {
    throw new SchedulerInputError(`cannot restore assignment ${a.demandId}: ${msg}`);
  };
  const gpus = `GPU ids [${a.gpuIds.join(', ')}]`;
  if (a.groupId !== undefined) {
    const g = st.groups.get(a.groupId);
    if (!g || g.state !== 'created' || !g.reserved) return fail(`placement group ${a.groupId} is not created (restore the group first)`);
    const i = a.bundleIndex!;
    if (i >= g.bundles.length) return fail(`placement group ${a.groupId} has no bundle ${i}`);
    const bundle = g.reserved[i]!; // a created group has every bundle
    if (bundle.nodeId !== a.nodeId) return fail(`bundle ${i} of placement group ${a.groupId} is on node ${bundle.nodeId}, not ${a.nodeId}`);
    const pool = bundlePool(g, i);
    const grant = pool.takeExact(q, a.gpuIds) ?? fail(`${formatQuantity(q)} on ${gpus} no longer fits bundle ${i} of placement group ${a.groupId}`);
    st.placed.set(a.demandId, { q, grant, pool, group: g, assignment: a });
    g.actors.add(a.demandId);
  } else {
    const node = st.nodeMap.get(a.nodeId) ?? fail(`node ${a.nodeId} is not registered (add the node first)`);
    const grant = node.pool.takeExact(q, a.gpuIds) ?? fail(`${formatQuantity(q)} on ${gpus} no longer fits node ${a.nodeId}`);
    st.placed.set(a.demandId, { q, grant, pool: node.pool, assignment: a });
    node.actors.add(a.demandId);
  }
  return { ...a, gpuIds: [...a.gpuIds] };
}
