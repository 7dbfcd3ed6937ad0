import type { ResourceMap } from './types.js';
import { GPU, UNIT, fromUnits, toUnits, type Quantity } from './units.js';

/** GPU units taken per device slot: `[slot, units]` pairs. */
export type Grant = Array<[slot: number, units: number]>;

/** One resource a request is short of (amounts in units). */
export interface Shortage {
  name: string;
  need: number;
  free: number;
  /** Extra context, e.g. GPU fragmentation. */
  note?: string;
}

/**
 * A set of resources with per-device GPU accounting, in integer units. A
 * node owns one; a placement-group bundle owns one carved out of its node's
 * (its GPU slots are the physical devices, each capped at what the bundle
 * reserved on it).
 */
export class ResourcePool {
  private readonly totals: Map<string, number>;
  private readonly frees: Map<string, number>;
  /** Physical GPU id of each slot. */
  readonly gpuIds: number[];
  /** Capacity of each slot in units (UNIT for a whole device). */
  readonly gpuCap: number[];
  /** Free units of each slot. */
  readonly gpuFree: number[];
  readonly gpuTotal: number;
  gpuFreeSum: number;

  constructor(totals: Map<string, number>, gpus: ReadonlyArray<{ id: number; cap: number }>) {
    this.totals = totals;
    this.frees = new Map(totals);
    this.gpuIds = gpus.map((g) => g.id);
    this.gpuCap = gpus.map((g) => g.cap);
    this.gpuFree = gpus.map((g) => g.cap);
    this.gpuTotal = this.gpuCap.reduce((a, b) => a + b, 0);
    this.gpuFreeSum = this.gpuTotal;
  }

  /** A node's pool: `GPU: n` becomes devices 0..n-1. */
  static forNode(resources: ResourceMap): ResourcePool {
    const totals = new Map<string, number>();
    let gpus = 0;
    for (const [name, amount] of Object.entries(resources)) {
      if (name === GPU) gpus = amount;
      else totals.set(name, toUnits(name, amount));
    }
    return new ResourcePool(
      totals,
      Array.from({ length: gpus }, (_, id) => ({ id, cap: UNIT })),
    );
  }

  /** A bundle's pool: the bundle's resources, and the GPU slices its grant reserved on `parent`. */
  static forBundle(q: Quantity, grant: Grant, parent: ResourcePool): ResourcePool {
    const totals = new Map<string, number>();
    for (let i = 0; i < q.names.length; i++) totals.set(q.names[i], q.units[i]);
    return new ResourcePool(
      totals,
      grant.map(([slot, units]) => ({ id: parent.gpuIds[slot], cap: units })),
    );
  }

  /** The same capacity with nothing in use (for "could it ever fit" checks). */
  emptyCopy(): ResourcePool {
    return new ResourcePool(
      this.totals,
      this.gpuIds.map((id, i) => ({ id, cap: this.gpuCap[i] })),
    );
  }

  total(name: string): number {
    return name === GPU ? this.gpuTotal : (this.totals.get(name) ?? 0);
  }

  free(name: string): number {
    return name === GPU ? this.gpuFreeSum : (this.frees.get(name) ?? 0);
  }

  /** Whether nothing is in use. */
  isIdle(): boolean {
    if (this.gpuFreeSum !== this.gpuTotal) return false;
    for (const [name, t] of this.totals) if (this.frees.get(name) !== t) return false;
    return true;
  }

  /** Whether `q` fits the free resources now. */
  fits(q: Quantity): boolean {
    for (let i = 0; i < q.names.length; i++) {
      if ((this.frees.get(q.names[i]) ?? 0) < q.units[i]) return false;
    }
    return this.gpuFits(q.gpu, this.gpuFree);
  }

  /** Whether `q` would fit if nothing were in use. */
  fitsTotal(q: Quantity): boolean {
    for (let i = 0; i < q.names.length; i++) {
      if ((this.totals.get(q.names[i]) ?? 0) < q.units[i]) return false;
    }
    return this.gpuFits(q.gpu, this.gpuCap);
  }

  private gpuFits(g: number, avail: readonly number[]): boolean {
    if (g === 0) return true;
    if (g < UNIT) {
      for (let s = 0; s < avail.length; s++) if (avail[s] >= g) return true;
      return false;
    }
    let need = g / UNIT;
    for (let s = 0; s < avail.length && need > 0; s++) {
      if (avail[s] === UNIT && this.gpuCap[s] === UNIT) need--;
    }
    return need === 0;
  }

  /**
   * Takes `q` from the free resources. Fractional GPU requests go to the
   * device with the least free room that still fits (partly used devices
   * fill up first); whole requests take fully free devices, lowest ids first.
   * Returns null (and changes nothing) when it does not fit.
   */
  take(q: Quantity): Grant | null {
    if (!this.fits(q)) return null;
    const grant: Grant = [];
    const g = q.gpu;
    if (g > 0 && g < UNIT) {
      let best = -1;
      for (let s = 0; s < this.gpuFree.length; s++) {
        const f = this.gpuFree[s];
        if (f >= g && (best < 0 || f < this.gpuFree[best])) best = s;
      }
      grant.push([best, g]);
    } else if (g > 0) {
      let need = g / UNIT;
      for (let s = 0; s < this.gpuFree.length && need > 0; s++) {
        if (this.gpuFree[s] === UNIT && this.gpuCap[s] === UNIT) {
          grant.push([s, UNIT]);
          need--;
        }
      }
    }
    this.apply(q, grant);
    return grant;
  }

  /**
   * Takes `q` on exactly the given physical GPU ids (to restore a placement
   * made earlier): one id for a fractional request with room for it, or that
   * many fully free whole devices. Returns null (changing nothing) when that
   * does not fit.
   */
  takeExact(q: Quantity, gpuIds: readonly number[]): Grant | null {
    for (let i = 0; i < q.names.length; i++) {
      if ((this.frees.get(q.names[i]) ?? 0) < q.units[i]) return null;
    }
    const grant: Grant = [];
    if (q.gpu === 0) {
      if (gpuIds.length) return null;
    } else if (q.gpu < UNIT) {
      const slot = gpuIds.length === 1 ? this.gpuIds.indexOf(gpuIds[0]) : -1;
      if (slot < 0 || this.gpuFree[slot] < q.gpu) return null;
      grant.push([slot, q.gpu]);
    } else {
      if (gpuIds.length !== q.gpu / UNIT || new Set(gpuIds).size !== gpuIds.length) return null;
      for (const id of gpuIds) {
        const slot = this.gpuIds.indexOf(id);
        if (slot < 0 || this.gpuCap[slot] !== UNIT || this.gpuFree[slot] !== UNIT) return null;
        grant.push([slot, UNIT]);
      }
    }
    this.apply(q, grant);
    return grant;
  }

  private apply(q: Quantity, grant: Grant): void {
    for (const [s, u] of grant) this.gpuFree[s] -= u;
    this.gpuFreeSum -= q.gpu;
    for (let i = 0; i < q.names.length; i++) {
      const n = q.names[i];
      this.frees.set(n, (this.frees.get(n) ?? 0) - q.units[i]);
    }
  }

  /** Returns what `take(q)` granted. */
  give(q: Quantity, grant: Grant): void {
    for (const [s, u] of grant) this.gpuFree[s] += u;
    this.gpuFreeSum += q.gpu;
    for (let i = 0; i < q.names.length; i++) {
      const n = q.names[i];
      this.frees.set(n, (this.frees.get(n) ?? 0) + q.units[i]);
    }
  }

  /** Physical GPU ids of a grant. */
  gpuIdsOf(grant: Grant): number[] {
    return grant.map(([s]) => this.gpuIds[s]);
  }

  /** What `q` is short of against the free resources (empty when it fits). */
  shortages(q: Quantity): Shortage[] {
    return this.shortagesAgainst(q, false);
  }

  /** What `q` is short of against the total resources (empty when it could ever fit). */
  totalShortages(q: Quantity): Shortage[] {
    return this.shortagesAgainst(q, true);
  }

  private shortagesAgainst(q: Quantity, total: boolean): Shortage[] {
    const out: Shortage[] = [];
    for (let i = 0; i < q.names.length; i++) {
      const n = q.names[i];
      const have = (total ? this.totals.get(n) : this.frees.get(n)) ?? 0;
      if (have < q.units[i]) out.push({ name: n, need: q.units[i], free: have });
    }
    const avail = total ? this.gpuCap : this.gpuFree;
    if (q.gpu > 0 && !this.gpuFits(q.gpu, avail)) {
      const sum = total ? this.gpuTotal : this.gpuFreeSum;
      const s: Shortage = { name: GPU, need: q.gpu, free: sum };
      if (sum >= q.gpu) {
        if (q.gpu < UNIT) {
          const most = avail.reduce((a, b) => Math.max(a, b), 0);
          s.note = `at most ${fromUnits(GPU, most)} free on one device`;
        } else {
          let whole = 0;
          for (let k = 0; k < avail.length; k++) if (avail[k] === UNIT && this.gpuCap[k] === UNIT) whole++;
          s.note = `${whole} whole device${whole === 1 ? '' : 's'} free`;
        }
      }
      out.push(s);
    }
    return out;
  }

  /**
   * How full the resources `q` uses would be after placing it: the largest
   * used/total ratio among them (0 for an empty request).
   */
  utilizationAfter(q: Quantity): number {
    let worst = 0;
    for (let i = 0; i < q.names.length; i++) {
      const n = q.names[i];
      const t = this.totals.get(n) ?? 0;
      if (t > 0) worst = Math.max(worst, (t - (this.frees.get(n) ?? 0) + q.units[i]) / t);
    }
    if (q.gpu > 0 && this.gpuTotal > 0) {
      worst = Math.max(worst, (this.gpuTotal - this.gpuFreeSum + q.gpu) / this.gpuTotal);
    }
    return worst;
  }

  /** Totals as a user-facing map (GPU included when the pool has any). */
  totalMap(): ResourceMap {
    const out: ResourceMap = {};
    for (const [n, u] of this.totals) out[n] = fromUnits(n, u);
    if (this.gpuIds.length > 0) out[GPU] = fromUnits(GPU, this.gpuTotal);
    return out;
  }

  /** Amounts in use as a user-facing map (same keys as `totalMap`). */
  usedMap(): ResourceMap {
    const out: ResourceMap = {};
    for (const [n, u] of this.totals) out[n] = fromUnits(n, u - (this.frees.get(n) ?? 0));
    if (this.gpuIds.length > 0) out[GPU] = fromUnits(GPU, this.gpuTotal - this.gpuFreeSum);
    return out;
  }

  /** Per GPU slot, the amount of the device in use (0..1 on a node). */
  gpuUsedFractions(): number[] {
    return this.gpuCap.map((c, s) => fromUnits(GPU, c - this.gpuFree[s]));
  }

  /** Resource names the pool has (GPU included when it has devices). */
  resourceNames(): string[] {
    const names = [...this.totals.keys()];
    if (this.gpuIds.length > 0) names.push(GPU);
    return names;
  }
}
