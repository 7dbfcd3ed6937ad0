/**
 * Integer resource units. Amounts are held as integers so that sums never
 * drift (0.1 GPU × 10 is exactly one GPU): every resource except `memory` is
 * counted in 1/10,000ths; `memory` is counted in whole bytes.
 */

/** Units per 1.0 of a resource (every resource except `memory`). */
export const UNIT = 10_000;
/** The well-known GPU resource name. */
export const GPU = 'GPU';
/** The well-known memory resource name (bytes). */
export const MEMORY = 'memory';

/** Units per 1.0 of the named resource. */
export function unitOf(name: string): number {
  return name === MEMORY ? 1 : UNIT;
}

/** An amount in units (rounded to the resource's granularity). */
export function toUnits(name: string, amount: number): number {
  return Math.round(amount * unitOf(name));
}

/** Units back to the user-facing amount. */
export function fromUnits(name: string, units: number): number {
  const u = unitOf(name);
  return u === 1 ? units : Math.round(units) / u;
}

/**
 * A quantized, validated resource request: the non-GPU resources with a
 * positive amount (parallel arrays, in units) and the GPU amount in units.
 */
export interface Quantity {
  readonly names: readonly string[];
  readonly units: readonly number[];
  /** GPU units: < UNIT is a fraction of one device, otherwise a multiple of UNIT (whole devices). */
  readonly gpu: number;
}

/** The empty request. */
export const EMPTY: Quantity = { names: [], units: [], gpu: 0 };

/** Builds a quantity from an already validated resource map. */
export function quantify(resources: Record<string, number>): Quantity {
  const names: string[] = [];
  const units: number[] = [];
  let gpu = 0;
  for (const name of Object.keys(resources)) {
    const u = toUnits(name, resources[name]);
    if (u <= 0) continue;
    if (name === GPU) gpu = u;
    else {
      names.push(name);
      units.push(u);
    }
  }
  return { names, units, gpu };
}

/** The element-wise sum of quantities (GPU units are summed too). */
export function sumQuantities(qs: readonly Quantity[]): Quantity {
  const acc = new Map<string, number>();
  let gpu = 0;
  for (const q of qs) {
    gpu += q.gpu;
    for (let i = 0; i < q.names.length; i++) acc.set(q.names[i], (acc.get(q.names[i]) ?? 0) + q.units[i]);
  }
  return { names: [...acc.keys()], units: [...acc.values()], gpu };
}

/** Every resource name the quantity asks a positive amount of. */
export function namesOf(q: Quantity): string[] {
  return q.gpu > 0 ? [...q.names, GPU] : [...q.names];
}

/** A stable key for "same resource shape" comparisons. */
export function shapeKey(q: Quantity): string {
  let s = `GPU=${q.gpu}`;
  for (let i = 0; i < q.names.length; i++) s += `,${q.names[i]}=${q.units[i]}`;
  return s;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Formats an amount for messages: `0.5`, `2`; memory as `512B`, `1.5GiB`. */
export function formatAmount(name: string, units: number): string {
  if (name !== MEMORY) return String(fromUnits(name, units));
  let v = units;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Math.round(v * 100) / 100}${BYTE_UNITS[i]}`;
}

/** `{CPU:1, GPU:0.5}` for messages. */
export function formatQuantity(q: Quantity): string {
  const parts: string[] = [];
  for (let i = 0; i < q.names.length; i++) parts.push(`${q.names[i]}:${formatAmount(q.names[i], q.units[i])}`);
  if (q.gpu > 0) parts.push(`GPU:${formatAmount(GPU, q.gpu)}`);
  return `{${parts.join(', ')}}`;
}
