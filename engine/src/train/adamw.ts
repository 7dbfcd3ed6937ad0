import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/safetensors.js';
import { decodeOptimizerState, encodeOptimizerState } from './optimizer-state.js';

/** AdamW hyper-parameters (decoupled weight decay, bias-corrected moments). */
export const adamWOptionsSchema = z.object({
  lr: z.number().positive('lr must be > 0').default(1e-3),
  beta1: z.number().min(0).max(1, 'beta1 must be in [0, 1)').default(0.9),
  beta2: z.number().min(0).max(1, 'beta2 must be in [0, 1)').default(0.999),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0.01),
});
export type AdamWOptions = z.input<typeof adamWOptionsSchema>;

/** Exportable optimizer state. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/**
 * AdamW over named Float32Array parameters, updated in place.
 *
 * The update is one fused elementwise JS loop per tensor (no triple loops). Measured on the
 * 5M-parameter bench model it takes a few percent of a train step, so an ONNX graph for the
 * update (which would copy params, m and v in and out of ORT every step) does not pay.
 */
export class AdamW {
  readonly opts: Required<z.output<typeof adamWOptionsSchema>>;
  private stepCount = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  /**
   * @param params parameters by name (the optimizer holds these references and updates them)
   * @param decay which parameters get weight decay (default: all with 2+ dims)
   */
  constructor(
    readonly params: Map<string, Float32Array>,
    opts: AdamWOptions = {},
    private readonly decay: (name: string, p: Float32Array) => boolean = () => true,
  ) {
    const r = adamWOptionsSchema.safeParse(opts);
    if (!r.success) throw new Error(`invalid AdamW options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.opts = r.data;
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.length));
      this.v.set(name, new Float32Array(p.length));
    }
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.stepCount;
  }

  /** Applies one update with `grads` (missing names are skipped); `lr` overrides opts.lr. */
  update(grads: Map<string, Float32Array>, lr = this.opts.lr): void {
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.opts;
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      if (!p) throw new Error(`AdamW: gradient for unknown parameter '${name}'`);
      if (p.length !== g.length) throw new Error(`AdamW: gradient '${name}' has ${g.length} elements, parameter has ${p.length}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const wd = this.decay(name, p) ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const mi = b1 * m[i] + (1 - b1) * gi;
        const vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * wd - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
      }
    }
  }

  /** A copy of the state (step, first and second moments). */
  exportState(): AdamWState {
    const copy = (src: Map<string, Float32Array>) => new Map([...src].map(([k, a]) => [k, Float32Array.from(a)]));
    return { step: this.stepCount, m: copy(this.m), v: copy(this.v) };
  }

  /** Restores a state exported by {@link exportState} (names and sizes must match). */
  importState(s: AdamWState): void {
    for (const [name, p] of this.params) {
      const m = s.m.get(name);
      const v = s.v.get(name);
      if (!m || !v) throw new Error(`AdamW state has no moments for parameter '${name}'; was it saved from the same model?`);
      if (m.length !== p.length || v.length !== p.length) throw new Error(`AdamW state for '${name}' has ${m.length} elements, parameter has ${p.length}`);
      this.m.get(name)!.set(m);
      this.v.get(name)!.set(v);
    }
    this.stepCount = s.step;
  }

  /** The state as bytes ({@link encodeOptimizerState}: `m.<name>`, `v.<name>`, step and hyper-parameters in metadata). */
  stateBytes(metadata: Record<string, string> = {}): Uint8Array {
    return encodeOptimizerState({ step: this.stepCount, m: this.m, v: this.v }, { opts: JSON.stringify(this.opts), ...metadata });
  }

  /** Restores state bytes written by {@link stateBytes}; returns their metadata. */
  loadStateBytes(bytes: Uint8Array, what?: string): Record<string, string> {
    const { state, metadata } = decodeOptimizerState(bytes, what);
    this.importState(state);
    return metadata;
  }

  /** Saves the state to a file ({@link stateBytes}; written to a temp file, then renamed). */
  save(path: string): void {
    writeFileAtomic(path, this.stateBytes());
  }

  /** Loads a state written by {@link save}. */
  load(path: string): void {
    this.loadStateBytes(readFileSync(path), path);
  }
}
