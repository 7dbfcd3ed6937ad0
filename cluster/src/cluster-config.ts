import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { WorkerPoolSchema } from '@cohort/runtime';
import type { ResourceMap } from '@cohort/runtime';

/**
 * A strict object: unknown keys are refused with the list of known ones, so a
 * typo (`nodetypes`) never silently falls back to a default.
 */
function strict<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `"${k}"`).join(', ')}; known keys: ${known}` : undefined),
  });
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** Parses a byte amount: a number of bytes, or a string like `64Gi`, `16GB`, `512Mi`. */
export function parseBytes(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

const bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseBytes(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected bytes as a number or a string like "64Gi" / "16GB", found ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const nonNeg = z.number().min(0);
const idPattern = /^[A-Za-z0-9_-]+$/;
const name = z.string().regex(idPattern, 'expected letters, digits, "-" or "_" only');
const port = z.number().int().min(0).max(65535);

/** Resources of one node: `{CPU, GPU, memory, custom}`. */
export const NodeResourcesSchema = strict({
  CPU: nonNeg.optional(),
  GPU: z.number().int('expected a whole number of GPUs per node').min(0).optional(),
  memory: bytes.optional(),
  custom: z.record(name, nonNeg).default({}),
});

export const NodeTypeSchema = strict({
  resources: NodeResourcesSchema.default({ custom: {} }),
  labels: z.record(z.string(), z.string()).default({}),
  /** How many nodes of this type. */
  count: z.number().int().min(0).default(1),
  /** ssh provider: the hosts that run this type (one agent per entry). */
  hosts: z.array(z.string().min(1)).optional(),
  /** Extra environment for the agents of this type. */
  env: z.record(z.string(), z.string()).default({}),
  /** Worker processes the agents keep booted (`prestart`, default 2; 0 = off) and actors per shared process (`sharedActorsPerProcess`, default 250). */
  workerPool: strict(WorkerPoolSchema.shape).optional(),
});

const LocalProviderSchema = strict({
  type: z.literal('local'),
  /** Where `cohort up` keeps pids, ports and logs. Default `~/.cohort/clusters/<clusterName>`. */
  stateDir: z.string().optional(),
});

const SshProviderSchema = strict({
  type: z.literal('ssh'),
  /** Fixed hosts. The head runs on `head.host` (default: the first). */
  hosts: z.array(z.string().min(1)).min(1, 'expected at least one host'),
  user: z.string().min(1),
  /** Private key file given to `ssh -i`. */
  sshKey: z.string().optional(),
  sshPort: port.default(22),
  /** Extra `ssh -o` options, e.g. `StrictHostKeyChecking=accept-new`. */
  sshOptions: z.array(z.string()).default(['BatchMode=yes']),
  /** Directory on each host where Cohort is checked out and where logs and pid files go. */
  workdir: z.string().default('~/cohort'),
  /** How to run the CLI on the hosts (from `workdir`). */
  cohortCommand: z.string().default('node cli/bin/cohort.mjs'),
  /** Directory on each host for pid files, logs and the head's NATS store. Default `~/.cohort/<clusterName>`. */
  stateDir: z.string().optional(),
});

const ProviderSchema = z.discriminatedUnion('type', [LocalProviderSchema, SshProviderSchema], {
  error: (iss) => (iss.code === 'invalid_union' ? 'expected provider.type "local" or "ssh"' : undefined),
});

const TlsSchema = strict({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1) });

export const SecuritySchema = strict({
  /** The cluster token itself (prefer tokenEnv / tokenFile so it stays out of the file). */
  token: z.string().min(8, 'expected a token of at least 8 characters').optional(),
  /** Environment variable that holds the token. */
  tokenEnv: z.string().optional(),
  /** File that holds the token. */
  tokenFile: z.string().optional(),
  /** NATS `.creds` file (JWT + nkey) instead of a token. */
  natsCreds: z.string().optional(),
  /** gRPC TLS between cluster processes. */
  tls: TlsSchema.optional(),
});

const HeadSchema = strict({
  /** Address other nodes reach the head at. Default `127.0.0.1` (local) or the first ssh host. */
  host: z.string().optional(),
  nats: strict({
    /** Use this NATS server instead of starting one. */
    url: z.string().regex(/^nats:\/\/[^/]+:\d+$/, 'expected nats://HOST:PORT').optional(),
    /** Port of the managed NATS server (0 = any free port). Default 0 with the local provider, 4222 with ssh. */
    port: port.optional(),
  }).default({}),
  /** Fixed port of the head's gRPC data plane (the control API drivers and workers dial); 0 = any free port (default). */
  grpcPort: port.optional(),
  /** The head also runs a node agent of this type. */
  nodeType: z.string().optional(),
});

const MembershipSchema = strict({
  heartbeatMs: z.number().int().min(50).default(1000),
  /** A node silent this long is declared dead (default 5 s; must be ≤ 10 s for the default detection bound). */
  timeoutMs: z.number().int().min(100).default(5000),
});

export const ClusterConfigSchema = strict({
  clusterName: name,
  provider: ProviderSchema,
  /**
   * Interface that every cluster process listens on (NATS, gRPC data plane, bulk sockets). Default loopback;
   * set `0.0.0.0` to accept other hosts (each process then advertises its host's name: `--advertise HOST`).
   */
  bind: z.string().default('127.0.0.1'),
  head: HeadSchema.default({ nats: {} }),
  nodeTypes: z.record(name, NodeTypeSchema).refine((r) => Object.keys(r).length > 0, 'expected at least one node type'),
  /** Commands run on every host before anything starts (ssh provider). */
  setupCommands: z.array(z.string()).default([]),
  security: SecuritySchema.default({}),
  membership: MembershipSchema.default({ heartbeatMs: 1000, timeoutMs: 5000 }),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
}).superRefine((c, ctx) => {
  if (c.membership.timeoutMs < 2 * c.membership.heartbeatMs) {
    ctx.addIssue({ code: 'custom', path: ['membership', 'timeoutMs'], message: `expected at least 2 × heartbeatMs (${2 * c.membership.heartbeatMs}), found ${c.membership.timeoutMs}` });
  }
  if (c.head.nodeType !== undefined && !(c.head.nodeType in c.nodeTypes)) {
    ctx.addIssue({ code: 'custom', path: ['head', 'nodeType'], message: `expected one of the node types (${Object.keys(c.nodeTypes).join(', ')}), found "${c.head.nodeType}"` });
  }
  const tokenSources = ['token', 'tokenEnv', 'tokenFile'].filter((k) => c.security[k as 'token'] !== undefined);
  if (c.head.grpcPort && c.head.nats.port && c.head.grpcPort === c.head.nats.port) {
    ctx.addIssue({ code: 'custom', path: ['head', 'grpcPort'], message: `expected a port other than head.nats.port (${c.head.nats.port}), found ${c.head.grpcPort}` });
  }
  if (tokenSources.length > 1) ctx.addIssue({ code: 'custom', path: ['security'], message: `expected one token source, found ${tokenSources.join(' and ')}` });
  const loopback = c.bind === '127.0.0.1' || c.bind === 'localhost' || c.bind === '::1';
  if (c.provider.type === 'ssh') {
    // loopback is fine when every host is this machine (e.g. a launcher test against an sshd on 127.0.0.1)
    const loopbackHost = (h: string) => /^127\./.test(h) || h === 'localhost' || h === '::1';
    if (loopback && !c.provider.hosts.every(loopbackHost)) {
      ctx.addIssue({ code: 'custom', path: ['bind'], message: `expected a non-loopback bind address (e.g. "0.0.0.0") with the ssh provider, found "${c.bind}": agents on other hosts could not reach the head` });
    }
    if (tokenSources.length === 0 && c.security.natsCreds === undefined) {
      ctx.addIssue({ code: 'custom', path: ['security'], message: 'expected tokenEnv, tokenFile, token or natsCreds with the ssh provider: a cluster reachable from other hosts needs credentials' });
    }
    else if (tokenSources.length === 0 && c.security.tls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['security'], message: 'expected a token source (tokenEnv, tokenFile, token) or tls beside natsCreds with the ssh provider: natsCreds protect NATS only, and the gRPC data plane (actor calls) would accept any peer' });
    }
    const hosts = new Set(c.provider.hosts);
    if (c.head.host !== undefined && !hosts.has(c.head.host)) ctx.addIssue({ code: 'custom', path: ['head', 'host'], message: `expected one of provider.hosts (${[...hosts].join(', ')}), found "${c.head.host}"` });
    for (const [tn, t] of Object.entries(c.nodeTypes)) {
      for (const [i, h] of (t.hosts ?? []).entries()) {
        if (!hosts.has(h)) ctx.addIssue({ code: 'custom', path: ['nodeTypes', tn, 'hosts', i], message: `expected one of provider.hosts (${[...hosts].join(', ')}), found "${h}"` });
      }
      if (t.hosts && t.hosts.length !== t.count) ctx.addIssue({ code: 'custom', path: ['nodeTypes', tn, 'count'], message: `expected count to equal the number of hosts listed (${t.hosts.length}), found ${t.count}` });
    }
  }
});

/** A validated cluster config (defaults filled in). */
export type ClusterConfig = z.output<typeof ClusterConfigSchema>;
export type NodeTypeConfig = z.output<typeof NodeTypeSchema>;
export type SecurityConfig = z.output<typeof SecuritySchema>;

/** Raised for an invalid cluster config; `problems` lists each one as `path: message`. */
export class ClusterConfigError extends Error {
  override readonly name = 'ClusterConfigError';
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: invalid cluster config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function formatIssue(iss: z.core.$ZodIssue): string {
  const where = iss.path.length ? iss.path.map(String).join('.') : '(top level)';
  const input = (iss as { input?: unknown }).input;
  switch (iss.code) {
    case 'invalid_type':
      return `${where}: ${iss.message.startsWith('Invalid input') ? `expected ${iss.expected === 'int' ? 'a whole number' : iss.expected}` : iss.message}, found ${describe(input)}`;
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
    case 'not_multiple_of':
      return `${where}: ${iss.message.replace(/^Too (small|big): /, '')}, found ${describe(input)}`;
    case 'invalid_value':
      return `${where}: expected one of ${iss.values.map((x) => JSON.stringify(x)).join(', ')}, found ${describe(input)}`;
    default:
      return `${where}: ${iss.message}`;
  }
}

/** Validates a parsed config object; throws {@link ClusterConfigError} naming every problem. */
export function validateClusterConfig(raw: unknown, source = 'cluster config'): ClusterConfig {
  const r = ClusterConfigSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new ClusterConfigError(source, r.error.issues.map(formatIssue));
  return r.data;
}

/** Parses YAML text into a validated config. */
export function parseClusterConfig(text: string, source = 'cluster config'): ClusterConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ClusterConfigError(source, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ClusterConfigError(source, [`(top level): expected a mapping, found ${describe(raw)}`]);
  return validateClusterConfig(raw, source);
}

/** Reads and validates a cluster config file (`configs/cluster/*.yaml`). */
export function loadClusterConfig(file: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read cluster config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; pass a path such as configs/cluster/local.yaml`);
  }
  return parseClusterConfig(text, file);
}

/** The runtime resource map of a node type: `{CPU, GPU, memory, ...custom}`. */
export function nodeTypeResources(t: NodeTypeConfig): ResourceMap {
  const r: ResourceMap = {};
  if (t.resources.CPU !== undefined) r.CPU = t.resources.CPU;
  if (t.resources.GPU !== undefined) r.GPU = t.resources.GPU;
  if (t.resources.memory !== undefined) r.memory = t.resources.memory;
  for (const [k, v] of Object.entries(t.resources.custom)) r[k] = v;
  return r;
}

/** Port of the managed NATS server: the configured one, else 0 (any) for local and 4222 for ssh. */
export function headNatsPort(c: ClusterConfig): number {
  return c.head.nats.port ?? (c.provider.type === 'local' ? 0 : 4222);
}

/** Resolves the cluster token from the security section (token, tokenEnv, tokenFile), or undefined. */
export function resolveToken(sec: SecurityConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (sec.token) return sec.token;
  if (sec.tokenEnv) {
    const v = env[sec.tokenEnv];
    if (!v) throw new Error(`security.tokenEnv: environment variable ${sec.tokenEnv} is not set; export it with the cluster token`);
    return v;
  }
  if (sec.tokenFile) {
    try {
      const v = readFileSync(sec.tokenFile, 'utf8').trim();
      if (!v) throw new Error('empty file');
      return v;
    } catch (err) {
      throw new Error(`security.tokenFile: cannot read a token from ${sec.tokenFile} (${(err as Error).message}); write the cluster token into that file`);
    }
  }
  return undefined;
}
