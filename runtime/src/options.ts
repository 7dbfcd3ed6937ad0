import os from 'node:os';
import { z } from 'zod';
import { InvalidOptionsError } from './errors.js';
import type { PlacementStrategy, ResourceMap } from './scheduler/index.js';

const amount = z.number().finite().min(0);

/** Resources an actor needs. `GPU` may be fractional below 1 (e.g. 0.5 shares one device). */
export const ResourcesSchema = z
  .object({
    CPU: amount.optional(),
    GPU: amount.optional(),
    memory: amount.optional(),
    custom: z.record(z.string().min(1), amount).optional(),
  })
  .strict();
export type Resources = z.infer<typeof ResourcesSchema>;

const placementGroupRef = z.union([z.string().min(1), z.object({ id: z.string().min(1) }).passthrough()]);

/** Options of `spawn()`. */
export const ActorOptionsSchema = z
  .object({
    /** Named actor: unique; others reach it with `getActor(name)`. */
    name: z.string().regex(/^[A-Za-z0-9_.:\-/]{1,128}$/, 'use 1-128 letters, digits or _ . : - /').optional(),
    resources: ResourcesSchema.optional(),
    /** Restarts after a crash (constructor re-run); -1 = unlimited. */
    maxRestarts: z.number().int().min(-1).optional(),
    /** Re-sends of in-flight calls after a crash, in order; -1 = unlimited. */
    maxTaskRetries: z.number().int().min(-1).optional(),
    /** Calls running at once (async methods); 1 = sequential. */
    maxConcurrency: z.number().int().min(1).max(100000).optional(),
    /** `owned` (default): dies with its owner. `detached`: lives until killed or shutdown. */
    lifetime: z.enum(['owned', 'detached']).optional(),
    /** Place in a bundle of a placement group. */
    placementGroup: placementGroupRef.optional(),
    bundleIndex: z.number().int().min(0).optional(),
    /** Place on a given node (soft: prefer it). */
    nodeAffinity: z.object({ nodeId: z.string().min(1), soft: z.boolean().optional() }).strict().optional(),
    /** Spread actors across nodes. */
    spread: z.boolean().optional(),
    /** With `name`: return the existing actor of that name instead of failing. */
    getIfExists: z.boolean().optional(),
    /** Extra environment variables for the worker process. */
    env: z.record(z.string(), z.string()).optional(),
    /**
     * `dedicated` (default): the actor runs in its own worker process. `shared`: a
     * lightweight actor hosted beside others in a shared worker process of its node
     * (fast to start, cheap in memory; no GPU, no own `env`, a crash ends its neighbours too).
     */
    process: z.enum(['dedicated', 'shared']).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.bundleIndex !== undefined && o.placementGroup === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bundleIndex'], message: 'bundleIndex needs placementGroup as well' });
    }
    const placements = [o.placementGroup !== undefined, o.nodeAffinity !== undefined, o.spread === true].filter(Boolean).length;
    if (placements > 1) ctx.addIssue({ code: 'custom', path: ['placementGroup'], message: 'choose one of placementGroup, nodeAffinity, spread' });
    if (o.getIfExists && !o.name) ctx.addIssue({ code: 'custom', path: ['getIfExists'], message: 'getIfExists needs a name' });
    if (o.process === 'shared' && (o.resources?.GPU ?? 0) > 0) {
      ctx.addIssue({ code: 'custom', path: ['process'], message: "GPU actors run in their own process (their CUDA_VISIBLE_DEVICES is process-wide): drop process: 'shared' or the GPU demand" });
    }
    if (o.process === 'shared' && o.env && Object.keys(o.env).length) {
      ctx.addIssue({ code: 'custom', path: ['process'], message: "a shared worker process has one environment: drop env or use process: 'dedicated'" });
    }
    const g = o.resources?.GPU;
    if (g !== undefined && g > 1 && !Number.isInteger(g)) {
      ctx.addIssue({ code: 'custom', path: ['resources', 'GPU'], message: `GPU ${g}: above 1 a GPU demand must be a whole number` });
    }
  });
/** Options of `spawn()` (see ActorOptionsSchema for the meaning of each field). */
export type ActorOptions = Omit<z.input<typeof ActorOptionsSchema>, 'placementGroup'> & { placementGroup?: string | { readonly id: string } };
/** Options after validation, as stored by the control plane. */
export interface ResolvedActorOptions {
  name?: string;
  resources: Resources;
  maxRestarts: number;
  maxTaskRetries: number;
  maxConcurrency: number;
  lifetime: 'owned' | 'detached';
  placementGroup?: string;
  bundleIndex?: number;
  nodeAffinity?: { nodeId: string; soft?: boolean };
  spread: boolean;
  getIfExists: boolean;
  env: Record<string, string>;
  process: 'dedicated' | 'shared';
}

/** Formats zod issues as `field: problem` lines. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates spawn options; throws InvalidOptionsError naming each bad field. */
export function resolveActorOptions(input: unknown, what = 'actor options'): ResolvedActorOptions {
  const r = ActorOptionsSchema.safeParse(input ?? {});
  if (!r.success) throw new InvalidOptionsError(`invalid ${what}: ${describeIssues(r.error)}`);
  const o = r.data;
  const pg = o.placementGroup;
  return {
    name: o.name,
    resources: o.resources ?? {},
    maxRestarts: o.maxRestarts ?? 0,
    maxTaskRetries: o.maxTaskRetries ?? 0,
    maxConcurrency: o.maxConcurrency ?? 1,
    lifetime: o.lifetime ?? 'owned',
    placementGroup: pg === undefined ? undefined : typeof pg === 'string' ? pg : (pg.id as string),
    bundleIndex: o.bundleIndex,
    nodeAffinity: o.nodeAffinity,
    spread: o.spread ?? false,
    getIfExists: o.getIfExists ?? false,
    env: o.env ?? {},
    process: o.process ?? 'dedicated',
  };
}

/** Flattens actor resources into the scheduler's resource map (zero amounts left out). */
export function toResourceMap(r: Resources): ResourceMap {
  const out: ResourceMap = {};
  if (r.CPU) out.CPU = r.CPU;
  if (r.GPU) out.GPU = r.GPU;
  if (r.memory) out.memory = r.memory;
  for (const [k, v] of Object.entries(r.custom ?? {})) if (v) out[k] = v;
  return out;
}

/** Worker processes a worker launcher keeps booted ahead of need, and how shared ones fill. */
export const WorkerPoolSchema = z
  .object({
    /** Idle workers booted ahead (handed the next actor at once, refilled in the background); 0 turns the pool off. Default `COHORT_WORKER_POOL` or 2. */
    prestart: z.number().int().min(0).max(64).optional(),
    /** Actors one shared worker process hosts at most (`process: 'shared'`). Default 250. */
    sharedActorsPerProcess: z.number().int().min(1).max(100000).optional(),
  })
  .strict();
export type WorkerPoolOptions = z.input<typeof WorkerPoolSchema>;
export interface ResolvedWorkerPool {
  prestart: number;
  sharedActorsPerProcess: number;
}

/** Validates worker pool options and fills in defaults. */
export function resolveWorkerPool(input: unknown): ResolvedWorkerPool {
  const r = WorkerPoolSchema.safeParse(input ?? {});
  if (!r.success) throw new InvalidOptionsError(`invalid workerPool: ${describeIssues(r.error)}`);
  const env = envNumber('COHORT_WORKER_POOL');
  if (env !== undefined && (!Number.isInteger(env) || env > 64)) throw new InvalidOptionsError(`COHORT_WORKER_POOL="${env}" must be a whole number of idle workers from 0 to 64`);
  return { prestart: r.data.prestart ?? env ?? 2, sharedActorsPerProcess: r.data.sharedActorsPerProcess ?? 250 };
}

/** Configuration of `init()`. */
export const RuntimeConfigSchema = z
  .object({
    /** Resources of the local node. Default: CPU = core count, GPU = `COHORT_NUM_GPUS` or 0, memory = total RAM. */
    resources: z.record(z.string().min(1), amount).optional(),
    /** Node labels (node affinity). */
    labels: z.record(z.string(), z.string()).optional(),
    /** pino level; default `COHORT_LOG_LEVEL` or `info`. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    /** Limit on one serialized (non-bulk) value; default `COHORT_MAX_MESSAGE_BYTES` or 64 MiB. */
    maxMessageBytes: z.number().int().min(1024).optional(),
    /** Binary payloads at least this big take the bulk socket; default 64 KiB. */
    bulkThresholdBytes: z.number().int().min(0).optional(),
    /** Limit on one bulk attachment (a typed array or Buffer sent or received); default `COHORT_MAX_BULK_BYTES` or 4 GiB. */
    maxBulkBytes: z.number().int().min(1024).optional(),
    /** First restart delay; doubles per restart up to 5 s. Default 100 ms. */
    restartBackoffMs: z.number().int().min(0).optional(),
    /** Host to bind the data plane to; default 127.0.0.1. */
    host: z.string().min(1).optional(),
    /** gRPC port of this process's data plane; default 0 (a free port). A cluster head binds a fixed one. */
    port: z.number().int().min(0).max(65535).optional(),
    workerPool: WorkerPoolSchema.optional(),
  })
  .strict();
export type RuntimeConfig = z.input<typeof RuntimeConfigSchema>;

export interface ResolvedRuntimeConfig {
  resources: ResourceMap;
  labels: Record<string, string>;
  logLevel?: string;
  maxMessageBytes: number;
  bulkThresholdBytes: number;
  maxBulkBytes: number;
  restartBackoffMs: number;
  host: string;
  port: number;
  workerPool: ResolvedWorkerPool;
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidOptionsError(`environment variable ${name}="${v}" is not a non-negative number`);
  return n;
}

/** Validates `init()` configuration and fills in defaults. */
export function resolveRuntimeConfig(input: unknown): ResolvedRuntimeConfig {
  const r = RuntimeConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new InvalidOptionsError(`invalid runtime config: ${describeIssues(r.error)}`);
  const c = r.data;
  const resources: ResourceMap = { CPU: os.cpus().length, GPU: envNumber('COHORT_NUM_GPUS') ?? 0, memory: os.totalmem(), ...(c.resources ?? {}) };
  return {
    resources,
    labels: c.labels ?? {},
    logLevel: c.logLevel,
    maxMessageBytes: c.maxMessageBytes ?? envNumber('COHORT_MAX_MESSAGE_BYTES') ?? 64 * 1024 * 1024,
    bulkThresholdBytes: c.bulkThresholdBytes ?? 64 * 1024,
    maxBulkBytes: c.maxBulkBytes ?? envNumber('COHORT_MAX_BULK_BYTES') ?? 4 * 1024 ** 3,
    restartBackoffMs: c.restartBackoffMs ?? 100,
    host: c.host ?? '127.0.0.1',
    port: c.port ?? 0,
    workerPool: resolveWorkerPool(c.workerPool),
  };
}

/** Placement group specification given to `createPlacementGroup()`. */
export const PlacementGroupOptionsSchema = z
  .object({
    bundles: z.array(z.record(z.string().min(1), amount)).min(1, 'a placement group needs at least one bundle'),
    strategy: z.enum(['PACK', 'SPREAD', 'STRICT_PACK', 'STRICT_SPREAD']).optional(),
    name: z.string().min(1).optional(),
    /** Node labels every bundle must run on (e.g. `{ role: 'simulator' }`). */
    labels: z.record(z.string().min(1), z.string()).optional(),
  })
  .strict();
export type PlacementGroupOptions = { bundles: ResourceMap[]; strategy?: PlacementStrategy; name?: string; labels?: Record<string, string> };

/** Validates placement group options. */
export function resolvePlacementGroupOptions(input: unknown): { bundles: ResourceMap[]; strategy: PlacementStrategy; name?: string; labels?: Record<string, string> } {
  const r = PlacementGroupOptionsSchema.safeParse(input);
  if (!r.success) throw new InvalidOptionsError(`invalid placement group options: ${describeIssues(r.error)}`);
  const labels = r.data.labels && Object.keys(r.data.labels).length ? r.data.labels : undefined;
  return { bundles: r.data.bundles, strategy: r.data.strategy ?? 'PACK', name: r.data.name, ...(labels ? { labels } : {}) };
}
