import type { AdamWState } from '@cohort/engine';

/** Views of one flat range split by tensor: for each tensor overlapping [start, end), its part. */
interface Piece {
  name: string;
  /** Offsets inside the tensor. */
  from: number;
  to: number;
  /** Offset inside the range. */
  at: number;
}

/**
 * A data-parallel learner's ZeRO-1 shard. The parameters are laid end to end, in a fixed order,
 * in one flat buffer (the model's parameter arrays become views of it, so updates to the buffer
 * are the model's); the learner owns the range [start, end) of it that a ring reduce-scatter
 * leaves on its rank, keeps AdamW moments only for that range (views per tensor: `paramViews`),
 * and after its update all-gathers the buffer so every learner holds the whole new model.
 */
export class ZeroShard {
  /** Every parameter, end to end in `names` order. */
  readonly flat: Float32Array;
  /** [start, end) of `flat` this learner owns. */
  readonly range: [number, number];
  /** Owned part of each parameter overlapping the range (subarrays of the parameters, same names). */
  readonly paramViews: Map<string, Float32Array>;
  private readonly pieces: Piece[];
  private readonly offsets = new Map<string, number>();
  private gradBuf: Float32Array | undefined;

  /**
   * Re-homes `params` (in `names` order) into one flat buffer, replacing each map entry by a view
   * of it; `ownedRange` gives the owned range for the total length (the collective's shard).
   */
  constructor(
    private readonly params: Map<string, Float32Array>,
    readonly names: readonly string[],
    ownedRange: (length: number) => [number, number],
  ) {
    if (names.length !== params.size || names.some((n) => !params.has(n))) throw new Error('ZeroShard: names must list every parameter exactly once');
    const total = names.reduce((n, k) => n + params.get(k)!.length, 0);
    this.flat = new Float32Array(total);
    let off = 0;
    for (const name of names) {
      const p = params.get(name)!;
      this.flat.set(p, off);
      params.set(name, this.flat.subarray(off, off + p.length));
      this.offsets.set(name, off);
      off += p.length;
    }
    this.range = ownedRange(total);
    this.pieces = this.piecesOf(this.range[0], this.range[1]);
    this.paramViews = new Map(this.pieces.map((p) => [p.name, params.get(p.name)!.subarray(p.from, p.to)]));
  }

  private piecesOf(start: number, end: number): Piece[] {
    const out: Piece[] = [];
    for (const name of this.names) {
      const off = this.offsets.get(name)!;
      const len = this.params.get(name)!.length;
      const a = Math.max(start, off);
      const b = Math.min(end, off + len);
      if (a < b) out.push({ name, from: a - off, to: b - off, at: a - start });
    }
    return out;
  }

  /** Owned elements. */
  get size(): number {
    return this.range[1] - this.range[0];
  }

  /** The gradients laid out like `flat`, in a buffer reused across steps (names the shard does not know are an error). */
  flattenGrads(grads: Map<string, Float32Array>): Float32Array {
    this.gradBuf ??= new Float32Array(this.flat.length);
    for (const name of this.names) {
      const g = grads.get(name);
      const off = this.offsets.get(name)!;
      const len = this.params.get(name)!.length;
      if (!g) this.gradBuf.fill(0, off, off + len);
      else if (g.length !== len) throw new Error(`ZeroShard: gradient '${name}' has ${g.length} values, the parameter ${len}`);
      else this.gradBuf.set(g, off);
    }
    for (const name of grads.keys()) if (!this.offsets.has(name)) throw new Error(`ZeroShard: gradient for unknown parameter '${name}'`);
    return this.gradBuf;
  }

  /** An owned-range array (e.g. the reduce-scattered gradient) as per-tensor views, named like `paramViews`. */
  views(owned: Float32Array): Map<string, Float32Array> {
    if (owned.length !== this.size) throw new Error(`ZeroShard: expected ${this.size} owned values, got ${owned.length}`);
    return new Map(this.pieces.map((p) => [p.name, owned.subarray(p.at, p.at + p.to - p.from)]));
  }

  /** This shard's part of full AdamW moments (as a checkpoint holds them): copies for the shard's optimizer. */
  sliceState(full: AdamWState): AdamWState {
    const part = (src: Map<string, Float32Array>, what: string) =>
      new Map(
        this.pieces.map((p) => {
          const a = src.get(p.name);
          const len = this.params.get(p.name)!.length;
          if (!a || a.length !== len) throw new Error(`the optimizer state's ${what} moment of '${p.name}' ${a ? `has ${a.length} values, the parameter ${len}` : 'is missing'}; was it saved from the same model?`);
          return [p.name, a.slice(p.from, p.to)];
        }),
      );
    return { step: full.step, m: part(full.m, 'first'), v: part(full.v, 'second') };
  }

  /**
   * Full moments from every shard's (by the shards' ranges, any order): each tensor's values put
   * back at their offsets. The shards must tile the whole buffer.
   */
  assembleState(shards: { range: [number, number]; state: AdamWState }[]): AdamWState {
    const m = new Map(this.names.map((n) => [n, new Float32Array(this.params.get(n)!.length)]));
    const v = new Map(this.names.map((n) => [n, new Float32Array(this.params.get(n)!.length)]));
    let covered = 0;
    for (const s of shards) {
      covered += s.range[1] - s.range[0];
      for (const p of this.piecesOf(s.range[0], s.range[1])) {
        const sm = s.state.m.get(p.name);
        const sv = s.state.v.get(p.name);
        if (!sm || !sv || sm.length !== p.to - p.from || sv.length !== p.to - p.from) throw new Error(`ZeroShard: the shard [${s.range}] has no moments of the right size for '${p.name}'`);
        m.get(p.name)!.set(sm, p.from);
        v.get(p.name)!.set(sv, p.from);
      }
    }
    if (covered !== this.flat.length) throw new Error(`ZeroShard: the shards cover ${covered} of ${this.flat.length} values`);
    const steps = new Set(shards.map((s) => s.state.step));
    if (steps.size !== 1) throw new Error(`ZeroShard: the shards are at different optimizer steps (${[...steps].join(', ')})`);
    return { step: shards[0].state.step, m, v };
  }
}
