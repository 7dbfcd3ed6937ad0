// A small SVG renderer for run plots: line charts and grouped bar charts, no browser needed.

/** One line of a {@link lineChartSvg}. */
export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  /** Draw a marker at every point (for short series). */
  markers?: boolean;
}

/** One group of bars in a {@link barChartSvg}. */
export interface BarGroup {
  label: string;
  /** `err`: an interval drawn as an error bar (e.g. a 95% CI over seeds). */
  values: Array<{ name: string; value: number; err?: readonly [number, number] }>;
}

/** Size and labels shared by the charts. */
export interface ChartFrame {
  title: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

const PALETTE = ['#4a7bd1', '#d1694a', '#3aa76d', '#b04ad1', '#d1b44a', '#4ac3d1', '#7d8597'];
const M = { left: 62, right: 16, top: 36, bottom: 66 };

/** Escapes text for SVG. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi === lo) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toFixed(10)));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function frame(f: ChartFrame, w: number, h: number, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(f.title)}</text>`,
    body,
    f.xLabel ? `<text x="${M.left + (w - M.left - M.right) / 2}" y="${h - 36}" text-anchor="middle">${xmlEscape(f.xLabel)}</text>` : '',
    f.yLabel ? `<text transform="translate(16 ${M.top + (h - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(f.yLabel)}</text>` : '',
    '</svg>',
    '',
  ].join('\n');
}

function legend(names: string[], w: number, h: number): string {
  let x = M.left;
  return names
    .map((n, i) => {
      const s = `<rect x="${x}" y="${h - 18}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 16}" y="${h - 8}">${xmlEscape(n)}</text>`;
      x += 28 + n.length * 7;
      return s;
    })
    .join('\n');
}

function yAxis(ticks: number[], y: (v: number) => number, w: number): string {
  return ticks
    .map((t) => `<line x1="${M.left}" x2="${w - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e3e6eb"/><text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`)
    .join('\n');
}

/** A line chart of one or more series over a shared numeric x axis. */
export function lineChartSvg(f: ChartFrame & { series: LineSeries[] }): string {
  const w = f.width ?? 640;
  const h = f.height ?? 360;
  const pts = f.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return frame(f, w, h, `<text x="${w / 2}" y="${h / 2}" text-anchor="middle" fill="#687083">no data</text>`);
  const xt = niceTicks(Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0])), 6);
  const yt = niceTicks(Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1])), 5);
  const [x0, x1, y0, y1] = [xt[0], xt.at(-1)!, yt[0], yt.at(-1)!];
  const x = (v: number) => M.left + ((v - x0) / (x1 - x0 || 1)) * (w - M.left - M.right);
  const y = (v: number) => h - M.bottom - ((v - y0) / (y1 - y0 || 1)) * (h - M.top - M.bottom);
  const parts = [yAxis(yt, y, w)];
  parts.push(xt.map((t) => `<text x="${x(t).toFixed(1)}" y="${h - M.bottom + 16}" text-anchor="middle">${fmtTick(t)}</text>`).join('\n'));
  parts.push(`<line x1="${M.left}" x2="${w - M.right}" y1="${h - M.bottom}" y2="${h - M.bottom}" stroke="#687083"/>`);
  f.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const good = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    if (!good.length) return;
    const d = good.map(([a, b], j) => `${j ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
    parts.push(`<path class="series" data-name="${xmlEscape(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (s.markers || good.length <= 2) parts.push(good.map(([a, b]) => `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3.5" fill="${color}"/>`).join(''));
  });
  parts.push(legend(f.series.map((s) => s.name), w, h));
  return frame(f, w, h, parts.join('\n'));
}

/** A grouped bar chart: one cluster of bars per group, one colour per value name. */
export function barChartSvg(f: ChartFrame & { groups: BarGroup[] }): string {
  const w = f.width ?? Math.max(480, 120 + f.groups.length * 110);
  const h = f.height ?? 360;
  const names = [...new Set(f.groups.flatMap((g) => g.values.map((v) => v.name)))];
  const vals = f.groups.flatMap((g) => g.values.flatMap((v) => [v.value, ...(v.err ?? [])])).filter(Number.isFinite);
  if (!vals.length) return frame(f, w, h, `<text x="${w / 2}" y="${h / 2}" text-anchor="middle" fill="#687083">no data</text>`);
  const yt = niceTicks(Math.min(0, ...vals), Math.max(0, ...vals), 5);
  const [y0, y1] = [yt[0], yt.at(-1)!];
  const y = (v: number) => h - M.bottom - ((v - y0) / (y1 - y0 || 1)) * (h - M.top - M.bottom);
  const gw = (w - M.left - M.right) / f.groups.length;
  const bw = Math.min(36, (gw * 0.8) / Math.max(1, names.length));
  const parts = [yAxis(yt, y, w)];
  f.groups.forEach((g, gi) => {
    const gx = M.left + gi * gw + (gw - bw * names.length) / 2;
    g.values.forEach((v) => {
      if (!Number.isFinite(v.value)) return;
      const k = names.indexOf(v.name);
      const top = Math.min(y(v.value), y(0));
      const hh = Math.abs(y(v.value) - y(0));
      parts.push(`<rect class="bar" data-group="${xmlEscape(g.label)}" data-name="${xmlEscape(v.name)}" data-value="${v.value}" x="${(gx + k * bw).toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${hh.toFixed(1)}" fill="${PALETTE[k % PALETTE.length]}"/>`);
      const cx = gx + k * bw + bw / 2 - 1;
      let labelY = top - 3;
      if (v.err && v.err.every(Number.isFinite)) {
        const [e0, e1] = [y(v.err[0]), y(v.err[1])];
        parts.push(`<path class="error-bar" data-group="${xmlEscape(g.label)}" data-lo="${v.err[0]}" data-hi="${v.err[1]}" d="M${cx.toFixed(1)},${e0.toFixed(1)} V${e1.toFixed(1)} M${(cx - 5).toFixed(1)},${e0.toFixed(1)} h10 M${(cx - 5).toFixed(1)},${e1.toFixed(1)} h10" stroke="#222" stroke-width="1.2" fill="none"/>`);
        labelY = Math.min(labelY, Math.min(e0, e1) - 3);
      }
      parts.push(`<text x="${cx.toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="middle" font-size="10">${fmtTick(Number(v.value.toFixed(1)))}</text>`);
    });
    parts.push(`<text x="${(M.left + gi * gw + gw / 2).toFixed(1)}" y="${h - M.bottom + 16}" text-anchor="middle">${xmlEscape(g.label)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${w - M.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#687083"/>`);
  parts.push(legend(names, w, h));
  return frame(f, w, h, parts.join('\n'));
}
