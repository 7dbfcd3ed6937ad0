import { z } from 'zod';

import { EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.js';

export { EXECUTION_PROVIDERS, type ExecutionProvider };

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** Where kernels run (default 'cpu'). 'cuda' needs onnxruntime-node's CUDA binaries. */
  executionProvider?: ExecutionProvider;
  /**
   * An ordered provider list (overrides `executionProvider`): ONNX Runtime places each node on
   * the first provider that has a kernel for it, e.g. ['cuda', 'cpu']. Every provider must be in
   * the installed onnxruntime-node (checked when the session is created).
   */
  executionProviders?: ExecutionProvider[];
  /**
   * Outputs to leave in device memory between runs (IO binding), e.g. a KV cache fed back as the
   * next step's input. Honoured where ONNX Runtime's node binding allows it (the webgpu provider);
   * elsewhere outputs come back to CPU memory as usual. See `deviceOutputLocations`.
   */
  deviceOutputs?: string[];
  /**
   * Intra-op threads (default: the `COHORT_ORT_THREADS` environment variable,
   * else ONNX Runtime's choice, one per core). Processes that share cores (a
   * worker holding a fraction of a CPU) should use 1.
   */
  threads?: number;
  /** GPU ordinal for 'cuda' / 'webgpu'. */
  deviceId?: number;
  /** Graph optimization level (default 'all'). */
  graphOptimization?: 'all' | 'basic' | 'none';
  /** Log level for ONNX Runtime's own stderr messages (default 'fatal': run errors are thrown anyway). */
  ortLogLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
}

/** zod schema for {@link SessionOptions}; unknown keys are rejected. */
export const SessionOptionsSchema = z
  .object({
    executionProvider: z
      .string()
      .refine((v) => (EXECUTION_PROVIDERS as readonly string[]).includes(v), {
        message: `unknown execution provider; supported: ${EXECUTION_PROVIDERS.map((p) => `'${p}'`).join(', ')} ('cuda' needs onnxruntime-node's CUDA binaries: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)`,
      })
      .optional(),
    executionProviders: z
      .array(z.enum(EXECUTION_PROVIDERS, { message: `unknown execution provider; supported: ${EXECUTION_PROVIDERS.map((p) => `'${p}'`).join(', ')}` }))
      .min(1, 'executionProviders must list at least one provider')
      .refine((l) => new Set(l).size === l.length, { message: 'executionProviders lists a provider twice' })
      .optional(),
    deviceOutputs: z.array(z.string().min(1)).optional(),
    threads: z.number().int().min(1).max(1024).optional(),
    deviceId: z.number().int().min(0).optional(),
    graphOptimization: z.enum(['all', 'basic', 'none']).optional(),
    ortLogLevel: z.enum(['verbose', 'info', 'warning', 'error', 'fatal']).optional(),
  })
  .strict();

/** Intra-op threads from `COHORT_ORT_THREADS` (undefined when unset); a bad value is an error that says what is expected. */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.COHORT_ORT_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new Error(`COHORT_ORT_THREADS must be an integer from 1 to 1024 (ONNX Runtime intra-op threads), got "${raw}"; unset it to let ONNX Runtime use one thread per core`);
  return n;
}

/**
 * Default providers from `COHORT_EXECUTION_PROVIDERS` (comma-separated, e.g. `webgpu,cpu`) for
 * sessions that name none: how scripts/gpu-check.sh runs the engine's tests on a GPU provider.
 * undefined when unset; a bad value is an error naming the accepted ones.
 */
export function providersFromEnv(env: NodeJS.ProcessEnv = process.env): ExecutionProvider[] | undefined {
  const raw = env.COHORT_EXECUTION_PROVIDERS?.trim();
  if (!raw) return undefined;
  const list = raw.split(',').map((x) => x.trim());
  const bad = list.filter((x) => !(EXECUTION_PROVIDERS as readonly string[]).includes(x));
  if (bad.length || new Set(list).size !== list.length) throw new Error(`COHORT_EXECUTION_PROVIDERS must be a comma-separated list of distinct providers from ${EXECUTION_PROVIDERS.join(', ')}, got "${raw}"`);
  return list as ExecutionProvider[];
}

/** Validates session options, throwing an error that names each problem. */
export function parseSessionOptions(opts: unknown): SessionOptions {
  const r = SessionOptionsSchema.safeParse(opts ?? {});
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new Error(`invalid session options: ${msg}`);
  }
  return r.data as SessionOptions;
}
