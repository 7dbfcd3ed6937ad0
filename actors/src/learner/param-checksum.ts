/** A cheap checksum of parameters (every 7th value, position-weighted) to check that two copies agree. */
export function paramChecksum(params: Map<string, Float32Array>): number {
  let s = 0;
  let k = 0;
  for (const p of params.values()) for (let i = 0; i < p.length; i += 7) s += p[i] * (1 + (k++ % 13));
  return s;
}
