import { z } from 'zod';
import { SchedulerInputError } from './errors.js';
import type { Assignment, Demand, NodeSpec, PlacementGroupSpec, PlacementGroupState, ResourceMap } from './types.js';
import { GPU, MEMORY, UNIT } from './units.js';

/** Largest amount of a non-memory resource (keeps unit sums exact). */
const MAX_AMOUNT = 1e11;

const idSchema = z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' });
const resourcesSchema = z.record(z.string(), z.unknown(), { error: 'must be an object of resource name → amount' });

const placementSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('any') }),
    z.strictObject({ kind: z.literal('spread') }),
    z.strictObject({
      kind: z.literal('node'),
      nodeId: idSchema,
      soft: z.boolean({ error: 'must be true or false' }).optional(),
    }),
    z.strictObject({
      kind: z.literal('labels'),
      labels: z
        .record(z.string(), z.string({ error: 'label values must be strings' }), { error: 'must be an object of label → value' })
        .refine((l) => Object.keys(l).length > 0, { error: 'must name at least one label (e.g. {role: "simulator"})' }),
      soft: z.boolean({ error: 'must be true or false' }).optional(),
    }),
    z.strictObject({
      kind: z.literal('group'),
      groupId: idSchema,
      bundleIndex: z
        .number({ error: 'must be a whole number ≥ 0' })
        .int({ error: 'must be a whole number ≥ 0' })
        .min(0, { error: 'must be a whole number ≥ 0' })
        .optional(),
    }),
  ],
  { error: "must be one of {kind:'any'}, {kind:'spread'}, {kind:'node', nodeId, soft?}, {kind:'labels', labels, soft?}, {kind:'group', groupId, bundleIndex?}" },
);

const demandSchema = z.object({ id: idSchema, resources: resourcesSchema, placement: placementSchema });

const nodeSchema = z.object({
  id: idSchema,
  resources: resourcesSchema,
  labels: z.record(z.string(), z.string({ error: 'label values must be strings' })).optional(),
});

const strategySchema = z.enum(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD'], {
  error: 'must be one of PACK, SPREAD, STRICT_PACK, STRICT_SPREAD',
});

const groupSchema = z.object({
  id: idSchema,
  name: z.string({ error: 'must be a string' }).optional(),
  bundles: z.array(resourcesSchema, { error: 'must be a non-empty array of resource maps' }).min(1, {
    error: 'must be a non-empty array of resource maps (one per bundle)',
  }),
  strategy: strategySchema,
  labels: z
    .record(z.string(), z.string({ error: 'label values must be strings' }), { error: 'must be an object of label → value' })
    .optional(),
});

function describe(what: string, error: z.ZodError): SchedulerInputError {
  const lines = error.issues.map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(root)';
    return `${path}: ${i.message}`;
  });
  return new SchedulerInputError(`invalid ${what}: ${lines.join('; ')}`);
}

const WELL_KNOWN: Record<string, string> = { cpu: 'CPU', gpu: GPU, memory: MEMORY, mem: MEMORY };

type ResourceRole = 'demand' | 'node' | 'bundle';

/** Checks one resource map; returns it typed. Throws SchedulerInputError naming the bad entry. */
function checkResources(what: string, raw: Record<string, unknown>, role: ResourceRole): ResourceMap {
  const out: ResourceMap = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.length === 0 || /\s/.test(name)) {
      throw new SchedulerInputError(`invalid ${what}: resource name ${JSON.stringify(name)} — names must be non-empty without spaces`);
    }
    const canonical = WELL_KNOWN[name.toLowerCase()];
    if (canonical && canonical !== name) {
      throw new SchedulerInputError(`invalid ${what}: resource name "${name}" — did you mean "${canonical}"? (names are case-sensitive)`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw badAmount(what, name, value, 'amounts must be finite numbers ≥ 0');
    }
    if (name === MEMORY) {
      if (value > Number.MAX_SAFE_INTEGER) throw badAmount(what, name, value, `memory is in bytes and must be ≤ ${Number.MAX_SAFE_INTEGER}`);
    } else {
      if (value > MAX_AMOUNT) throw badAmount(what, name, value, `amounts must be ≤ ${MAX_AMOUNT}`);
      if (value > 0 && Math.round(value * UNIT) === 0) {
        throw badAmount(what, name, value, `below the ${1 / UNIT} granularity; use 0 or at least ${1 / UNIT}`);
      }
    }
    if (name === GPU) {
      if (role === 'node' && !Number.isInteger(value)) {
        throw badAmount(what, name, value, "a node's GPU total counts physical devices and must be a whole number");
      }
      if (role !== 'node' && value >= 1 && !Number.isInteger(value)) {
        throw badAmount(what, name, value, 'fractional GPU requests must be < 1 or whole');
      }
    }
    out[name] = value;
  }
  return out;
}

function badAmount(what: string, name: string, value: unknown, msg: string): SchedulerInputError {
  return new SchedulerInputError(`invalid ${what}: ${name}: ${String(value)} — ${msg}`);
}

/** Validates a node spec. */
export function parseNodeSpec(input: unknown): NodeSpec {
  const r = nodeSchema.safeParse(input);
  if (!r.success) throw describe(`node spec${idHint(input)}`, r.error);
  const resources = checkResources(`node ${r.data.id}`, r.data.resources, 'node');
  return { id: r.data.id, resources, labels: r.data.labels ?? {} };
}

/** Validates a demand. */
export function parseDemand(input: unknown): Demand {
  const r = demandSchema.safeParse(input);
  if (!r.success) throw describe(`demand${idHint(input)}`, r.error);
  const resources = checkResources(`demand ${r.data.id}`, r.data.resources, 'demand');
  return { id: r.data.id, resources, placement: r.data.placement };
}

/** Validates a placement-group spec. */
export function parsePlacementGroupSpec(input: unknown): PlacementGroupSpec {
  const r = groupSchema.safeParse(input);
  if (!r.success) throw describe(`placement group${idHint(input)}`, r.error);
  const bundles = r.data.bundles.map((b, i) => {
    const what = `placement group ${r.data.id} bundle ${i}`;
    const checked = checkResources(what, b, 'bundle');
    if (!Object.values(checked).some((v) => v > 0)) {
      throw new SchedulerInputError(`invalid ${what}: the bundle is empty — give it at least one resource > 0 (e.g. {CPU: 1})`);
    }
    return checked;
  });
  const spec: PlacementGroupSpec = { id: r.data.id, bundles, strategy: r.data.strategy };
  if (r.data.name !== undefined) spec.name = r.data.name;
  if (r.data.labels && Object.keys(r.data.labels).length) spec.labels = { ...r.data.labels };
  return spec;
}

function idHint(input: unknown): string {
  const id = (input as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? ` ${id}` : '';
}

const gpuIdsSchema = z.array(z.number().int().min(0), { error: 'must be an array of GPU ids (whole numbers ≥ 0)' });

const assignmentSchema = z.object({
  demandId: idSchema,
  nodeId: idSchema,
  resources: resourcesSchema,
  gpuIds: gpuIdsSchema,
  groupId: idSchema.optional(),
  bundleIndex: z.number({ error: 'must be a whole number ≥ 0' }).int().min(0).optional(),
});

/** Validates an assignment handed to `restoreAssignment`. */
export function parseAssignment(input: unknown): Assignment {
  const r = assignmentSchema.safeParse(input);
  const id = (input as { demandId?: unknown } | null)?.demandId;
  if (!r.success) throw describe(`assignment${typeof id === 'string' && id ? ` ${id}` : ''}`, r.error);
  const resources = checkResources(`assignment ${r.data.demandId}`, r.data.resources, 'demand');
  const a: Assignment = { demandId: r.data.demandId, nodeId: r.data.nodeId, resources, gpuIds: r.data.gpuIds };
  if (r.data.groupId !== undefined) {
    if (r.data.bundleIndex === undefined) {
      throw new SchedulerInputError(`invalid assignment ${a.demandId}: groupId without bundleIndex — a restored group placement names its bundle`);
    }
    a.groupId = r.data.groupId;
    a.bundleIndex = r.data.bundleIndex;
  }
  return a;
}

const groupStateSchema = z.object({
  state: z.enum(['pending', 'created', 'removed'], { error: 'must be pending, created or removed' }),
  bundleNodes: z.array(idSchema).optional(),
  bundleGpuIds: z.array(gpuIdsSchema).optional(),
});

/** Validates a group state handed to `restorePlacementGroup`: the spec part plus where its bundles are. */
export function parsePlacementGroupState(input: unknown): { spec: PlacementGroupSpec; state: PlacementGroupState['state']; bundleNodes?: string[]; bundleGpuIds?: number[][] } {
  const spec = parsePlacementGroupSpec(input);
  const r = groupStateSchema.safeParse(input);
  if (!r.success) throw describe(`placement group ${spec.id}`, r.error);
  const { state, bundleNodes, bundleGpuIds } = r.data;
  if (state === 'created') {
    const n = spec.bundles.length;
    if (bundleNodes?.length !== n || bundleGpuIds?.length !== n) {
      throw new SchedulerInputError(`invalid placement group ${spec.id}: a created group needs bundleNodes and bundleGpuIds with one entry per bundle (${n})`);
    }
  }
  return { spec, state, bundleNodes, bundleGpuIds };
}
