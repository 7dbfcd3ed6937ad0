import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { Graph } from '../graph/graph.js';
import { formatShape, type Dim } from '../graph/tensor.js';
import { engineLogger } from './logger.js';
import { checkProviders, deviceIdFor, deviceOutputLocations } from './providers.js';
import { parseSessionOptions, providersFromEnv, threadsFromEnv, type SessionOptions } from './options.js';

const ORT_LEVEL = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;
const OPT_LEVEL = { all: 'all', basic: 'basic', none: 'disabled' } as const;


interface InputSpec {
  dtype: string;
  shape: Dim[];
}

/**
 * An ONNX Runtime inference session, created once and reused for many runs. Built from a
 * {@link Graph} (feeds are then checked against its declared inputs) or ModelProto bytes.
 */
export class Session {
  private released = false;
  private onDevice = new Set<string>();

  private constructor(
    private readonly ort: ort.InferenceSession,
    private readonly specs: Map<string, InputSpec> | null,
    private readonly graph: Graph | null,
    /** Options the session was created with. */
    readonly options: SessionOptions,
    private readonly log: Logger,
  ) {}

  /** Creates a session; options are validated (unknown provider → clear error). */
  static async create(model: Graph | Uint8Array, opts: SessionOptions = {}, logger?: Logger): Promise<Session> {
    const o = parseSessionOptions(opts);
    const bytes = model instanceof Graph ? model.toOnnx() : model;
    if (!(bytes instanceof Uint8Array)) throw new Error('Session.create: model must be a Graph or ONNX ModelProto bytes (Uint8Array)');
    const providers = o.executionProviders ?? (o.executionProvider ? [o.executionProvider] : (providersFromEnv() ?? ['cpu']));
    checkProviders(providers);
    const ep = providers.join(',');
    const threads = o.threads ?? threadsFromEnv();
    const epConfigs = providers.map((p): ort.InferenceSession.ExecutionProviderConfig => {
      if (p === 'cpu') return 'cpu';
      const id = p === 'cuda' ? (o.deviceId ?? deviceIdFor('cuda')) : undefined;
      return { name: p, ...(id !== undefined ? { deviceId: id } : {}) } as ort.InferenceSession.ExecutionProviderConfig;
    });
    let locations: Record<string, 'gpu-buffer' | 'cpu'> | undefined;
    if (o.deviceOutputs?.length) {
      if (!(model instanceof Graph)) throw new Error('Session.create: deviceOutputs needs a Graph (its output names), not ModelProto bytes');
      locations = deviceOutputLocations(providers, o.deviceOutputs, model.outputs.map((x) => x.name));
    }
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: epConfigs,
      graphOptimizationLevel: OPT_LEVEL[o.graphOptimization ?? 'all'],
      logSeverityLevel: ORT_LEVEL[o.ortLogLevel ?? 'fatal'],
      ...(threads !== undefined ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
      ...(locations ? { preferredOutputLocation: locations } : {}),
    };
    const log = (logger ?? engineLogger()).child({ component: 'session', graph: model instanceof Graph ? model.name : undefined, ep });
    let inner: ort.InferenceSession;
    try {
      inner = await ort.InferenceSession.create(bytes, so);
    } catch (err) {
      const m = err instanceof Error ? err.message : String(err);
      if (providers.includes('cuda')) {
        throw new Error(`Session.create: the 'cuda' execution provider failed (${m}); it needs onnxruntime-node's CUDA 12 binaries and a visible NVIDIA GPU (CUDA_VISIBLE_DEVICES), or use 'cpu'`);
      }
      if (providers.includes('webgpu')) {
        throw new Error(`Session.create: the 'webgpu' execution provider failed (${m}); it needs a GPU adapter (Vulkan/Metal/D3D12) visible to this process; use 'cpu' here`);
      }
      throw new Error(`Session.create: ONNX Runtime rejected the model: ${m}`);
    }
    const specs = model instanceof Graph ? new Map(model.inputs.map((t) => [t.name, { dtype: t.dtype, shape: t.shape }])) : null;
    log.debug({ inputs: inner.inputNames.length, outputs: inner.outputNames.length }, 'session created');
    const session = new Session(inner, specs, model instanceof Graph ? model : null, o, log);
    session.onDevice = new Set(Object.entries(locations ?? {}).filter(([, l]) => l === 'gpu-buffer').map(([n]) => n));
    return session;
  }

  /** Whether an output stays in device memory between runs (see `SessionOptions.deviceOutputs`). */
  keepsOnDevice(output: string): boolean {
    return this.onDevice.has(output);
  }

  /** Graph input names, in declaration order. */
  get inputNames(): string[] {
    return [...this.ort.inputNames];
  }

  /** Graph output names. */
  get outputNames(): string[] {
    return [...this.ort.outputNames];
  }

  /**
   * Runs the model. Every graph input must be fed; feeds are checked for dtype and static
   * dims (and consistent symbolic dims) first. `fetches` defaults to all outputs.
   */
  async run(feeds: Record<string, ort.Tensor>, fetches?: string[]): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new Error('Session.run: session was released');
    this.checkFeeds(feeds);
    const names = fetches ?? this.ort.outputNames;
    for (const f of names) {
      if (!this.ort.outputNames.includes(f)) {
        throw new Error(`Session.run: unknown fetch '${f}'; outputs are ${this.ort.outputNames.join(', ')}`);
      }
    }
    try {
      const res = await this.ort.run(feeds, names);
      return res as Record<string, ort.Tensor>;
    } catch (err) {
      throw new Error(`Session.run: ${err instanceof Error ? err.message.trim() : String(err)}${this.describeFailure(err)}`);
    }
  }

  /** Frees native resources; the session is unusable afterwards. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.ort.release();
    this.log.debug('session released');
  }

  /** Points a run-time failure at the builder's view of the failing node (op, static shapes). */
  private describeFailure(err: unknown): string {
    const m = /Name:'(n(\d+)_\w+)'/.exec(err instanceof Error ? err.message : String(err));
    const node = m && this.graph ? this.graph.nodes[Number(m[2])] : undefined;
    if (!node || !this.graph || node.name !== m![1]) return '';
    const values = new Map<string, string>();
    for (const t of this.graph.inputs) values.set(t.name, t.toString());
    for (const e of this.graph.tape) for (const t of [...e.inputs, ...e.outputs]) if (t) values.set(t.name, t.toString());
    const show = (n: string) => values.get(n) ?? n;
    return `\n  in graph '${this.graph.name}', node ${node.name}: ${node.opType}(${node.inputs.filter(Boolean).map(show).join(', ')}) -> ${node.outputs.map(show).join(', ')}`;
  }

  private checkFeeds(feeds: Record<string, ort.Tensor>): void {
    if (!feeds || typeof feeds !== 'object') throw new Error('Session.run: feeds must be an object of name → ort.Tensor');
    const expected = this.ort.inputNames;
    const missing = expected.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`Session.run: missing feeds ${missing.map((n) => `'${n}'`).join(', ')}; the graph inputs are ${expected.join(', ')}`);
    const extra = Object.keys(feeds).filter((n) => !expected.includes(n));
    if (extra.length) throw new Error(`Session.run: unknown feeds ${extra.map((n) => `'${n}'`).join(', ')}; the graph inputs are ${expected.join(', ')}`);
    if (!this.specs) return;
    const bound = new Map<string, { size: number; from: string }>();
    for (const [name, t] of Object.entries(feeds)) {
      const spec = this.specs.get(name);
      if (!spec) continue;
      if (!(t instanceof ort.Tensor)) throw new Error(`Session.run: feed '${name}' must be an onnxruntime-node Tensor`);
      if (t.type !== spec.dtype) throw new Error(`Session.run: feed '${name}' must be ${spec.dtype}, got ${t.type}`);
      const dims = t.dims;
      if (dims.length !== spec.shape.length || spec.shape.some((d, i) => typeof d === 'number' && d !== dims[i])) {
        throw new Error(`Session.run: feed '${name}' must have shape ${formatShape(spec.shape)}, got ${formatShape([...dims])}`);
      }
      spec.shape.forEach((d, i) => {
        if (typeof d !== 'string') return;
        const b = bound.get(d);
        if (!b) bound.set(d, { size: dims[i], from: name });
        else if (b.size !== dims[i]) {
          throw new Error(`Session.run: symbolic dim '${d}' is ${b.size} in feed '${b.from}' but ${dims[i]} in feed '${name}'`);
        }
      });
    }
  }
}
