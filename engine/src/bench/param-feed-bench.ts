import * as ort from 'onnxruntime-node';
import { grad } from '../autodiff/grad.js';
import { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add, mul } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { mean } from '../ops/reduce.js';
import { silu } from '../ops/unary.js';
import { Session } from '../session/session.js';
import type { SessionOptions } from '../session/options.js';

/**
 * Result of {@link benchParamFeeding} (milliseconds, medians). Times are process CPU time
 * (all ONNX Runtime threads), which a loaded shared machine disturbs far less than wall time;
 * `wall` has the same figures in wall-clock time.
 */
export interface ParamFeedingReport {
  params: number;
  /** One forward+backward run with weights fed as graph inputs. */
  runInputsMs: number;
  /** The same run with weights baked in as initializers. */
  runInitializersMs: number;
  /** Creating a session for the initializer model (needed after every weight update). */
  createInitializersMs: number;
  /** Extra cost per training step of initializers: re-creation + run, minus an input-fed run. */
  initializerStepOverheadMs: number;
  wall: { runInputsMs: number; runInitializersMs: number; createInitializersMs: number };
}

/**
 * Measures whether parameters should be graph inputs (fed per run) or initializers (baked in,
 * session re-created per weight update), on an MLP forward+backward of `layers` × [width, width].
 */
export async function benchParamFeeding(opts: { width?: number; layers?: number; rows?: number; runs?: number; session?: SessionOptions } = {}): Promise<ParamFeedingReport> {
  const width = opts.width ?? 256;
  const layers = opts.layers ?? 4;
  const rows = opts.rows ?? 64;
  const runs = opts.runs ?? 20;
  // One intra-op thread by default: ORT's spinning pool threads would inflate CPU time.
  const sessionOpts: SessionOptions = opts.session ?? { threads: 1 };
  const weights = Array.from({ length: layers }, (_, l) => Float32Array.from({ length: width * width }, (_, i) => Math.sin(i * 0.37 + l) * 0.05));
  const xData = Float32Array.from({ length: rows * width }, (_, i) => Math.cos(i * 0.11));
  const build = (asInputs: boolean): Graph => {
    const g = new Graph(asInputs ? 'feed_inputs' : 'feed_initializers');
    const x = g.input('x', 'float32', ['rows', width]);
    const ws: Tensor[] = weights.map((w, l) => (asInputs ? g.param(`w${l}`, [width, width]) : g.constant(w, [width, width])));
    let h = x;
    for (const w of ws) h = add(h, silu(matmul(h, w)));
    const loss = mean(mul(h, h));
    g.output('loss', loss);
    grad(loss, [x, ...ws]).forEach((gt, i) => g.output(`g${i}`, gt));
    return g;
  };
  const feeds = (asInputs: boolean): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xData, [rows, width]) };
    if (asInputs) weights.forEach((w, l) => (f[`w${l}`] = new ort.Tensor('float32', w, [width, width])));
    return f;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  /** Runs `fn`, returning [cpu ms, wall ms]. */
  const time = async (fn: () => Promise<unknown>): Promise<[number, number]> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const c = process.cpuUsage(c0);
    return [(c.user + c.system) / 1000, performance.now() - t0];
  };
  const inGraph = build(true);
  const initBytes = build(false).toOnnx();
  const creates: [number, number][] = [];
  let sInit: Session | undefined;
  for (let i = 0; i < 5; i++) {
    if (sInit) await sInit.release();
    creates.push(await time(async () => (sInit = await Session.create(initBytes, sessionOpts))));
  }
  const sIn = await Session.create(inGraph, sessionOpts);
  const fIn = feeds(true);
  const fInit = feeds(false);
  await sIn.run(fIn);
  await sInit!.run(fInit);
  // Interleave the two variants so machine noise hits both alike.
  const tIn: [number, number][] = [];
  const tInit: [number, number][] = [];
  for (let i = 0; i < runs; i++) {
    tIn.push(await time(() => sIn.run(fIn)));
    tInit.push(await time(() => sInit!.run(fInit)));
  }
  await sIn.release();
  await sInit!.release();
  const cpu = (xs: [number, number][]) => median(xs.map((x) => x[0]));
  const wall = (xs: [number, number][]) => median(xs.map((x) => x[1]));
  const runInputsMs = cpu(tIn);
  const runInitializersMs = cpu(tInit);
  const createInitializersMs = cpu(creates);
  return {
    params: layers * width * width,
    runInputsMs,
    runInitializersMs,
    createInitializersMs,
    initializerStepOverheadMs: createInitializersMs + runInitializersMs - runInputsMs,
    wall: { runInputsMs: wall(tIn), runInitializersMs: wall(tInit), createInitializersMs: wall(creates) },
  };
}
