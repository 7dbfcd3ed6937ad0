// Terminal output shared by commands: colour that honours NO_COLOR, and
// progress bars that redraw in place on a TTY and print plain lines otherwise.

/** A stream progress and colour write to (stderr by default). */
export interface OutStream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Whether to colour output on `stream`: never under `NO_COLOR` (any non-empty
 * value, see no-color.org) or `TERM=dumb`; always under `FORCE_COLOR` (not "0");
 * else only on a TTY.
 */
export function colorEnabled(stream: OutStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return Boolean(stream.isTTY);
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1, dim: 2 } as const;
export type Colour = keyof typeof CODES;

/** `paint(on)('red', text)`: ANSI-coloured text when `on`, plain text otherwise. */
export function paint(on: boolean): (c: Colour, s: string) => string {
  return (c, s) => (on ? `\x1b[${CODES[c]}m${s}\x1b[0m` : s);
}

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** What is progressing ("eval nq", "download"). */
  label: string;
  /** Units to reach; omit for a counter without a bar. */
  total?: number;
  /** Where to draw; default process.stderr (stdout stays for results). */
  stream?: OutStream;
  /** Force TTY (redraw) or plain-line mode; default the stream's isTTY. */
  tty?: boolean;
  /** Colour; default {@link colorEnabled}. */
  color?: boolean;
  /** Plain mode prints a line every `plainEveryPercent` percent (default 10) or every `plainEveryMs` (default 10 s) without a total. */
  plainEveryPercent?: number;
  plainEveryMs?: number;
  /** Clock (ms), for tests and replays; default Date.now. */
  now?: () => number;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * A progress bar. On a TTY it redraws one line in place (at most ~10 times a
 * second) with bar, percent, count, rate and ETA; elsewhere (CI logs, pipes)
 * it prints plain lines at every `plainEveryPercent` step, so logs stay readable.
 */
export class ProgressBar {
  private current = 0;
  private note = '';
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastPlainPct = -1;
  private lastPlainAt: number;
  private finished = false;
  private readonly stream: OutStream;
  private readonly tty: boolean;
  private readonly c: (c: Colour, s: string) => string;
  private readonly now: () => number;

  constructor(private readonly o: ProgressOptions) {
    if (o.total !== undefined && (!Number.isFinite(o.total) || o.total < 0)) throw new Error(`progress "${o.label}": total must be a number ≥ 0, found ${o.total}`);
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? Boolean(this.stream.isTTY);
    this.c = paint(o.color ?? colorEnabled(this.stream));
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.lastPlainAt = this.started;
  }

  /** Adds `n` units (default 1); `note` replaces the trailing note. */
  tick(n = 1, note?: string): void {
    this.update(this.current + n, note);
  }

  /** Sets the count to `value`. */
  update(value: number, note?: string): void {
    if (this.finished) return;
    this.current = this.o.total !== undefined ? Math.min(value, this.o.total) : value;
    if (note !== undefined) this.note = note;
    this.draw(false);
  }

  /** Ends the bar with a final line (✔ / ✘ on a TTY, `done` / `failed` in plain mode). */
  done(note?: string): void {
    this.finish(true, note);
  }

  fail(note?: string): void {
    this.finish(false, note);
  }

  private finish(ok: boolean, note?: string): void {
    if (this.finished) return;
    if (note !== undefined) this.note = note;
    this.finished = true;
    const secs = (this.now() - this.started) / 1000;
    const count = this.o.total !== undefined ? `${this.current}/${this.o.total}` : String(this.current);
    if (this.tty) {
      const mark = ok ? this.c('green', '✔') : this.c('red', '✘');
      this.stream.write(`\r\x1b[K${mark} ${this.o.label} ${count} in ${fmtDuration(secs)}${this.note ? ` ${this.c('dim', this.note)}` : ''}\n`);
    } else {
      this.stream.write(`${this.o.label}: ${ok ? 'done' : 'failed'} ${count} in ${fmtDuration(secs)}${this.note ? ` (${this.note})` : ''}\n`);
    }
  }

  private draw(force: boolean): void {
    const t = this.now();
    const total = this.o.total;
    const pct = total ? Math.floor((100 * this.current) / total) : total === 0 ? 100 : -1;
    const elapsed = (t - this.started) / 1000;
    const rate = elapsed > 0 ? this.current / elapsed : 0;
    if (this.tty) {
      if (!force && t - this.lastDraw < 100 && this.current !== total) return;
      this.lastDraw = t;
      const cols = this.stream.columns ?? 80;
      let line: string;
      if (total !== undefined) {
        const eta = rate > 0 ? (total - this.current) / rate : NaN;
        const tail = ` ${String(pct).padStart(3)}% ${this.current}/${total} ${rate.toFixed(rate < 10 ? 1 : 0)}/s eta ${fmtDuration(eta)}`;
        const width = Math.max(10, Math.min(40, cols - this.o.label.length - tail.length - 4));
        const fill = total ? Math.round((width * this.current) / total) : width;
        line = `${this.o.label} ${this.c('cyan', '█'.repeat(fill))}${this.c('gray', '░'.repeat(width - fill))}${tail}`;
      } else {
        line = `${this.o.label} ${this.current} (${rate.toFixed(1)}/s, ${fmtDuration(elapsed)})`;
      }
      if (this.note) line += ` ${this.c('dim', this.note)}`;
      this.stream.write(`\r\x1b[K${line}`);
      return;
    }
    const every = this.o.plainEveryPercent ?? 10;
    const due = total !== undefined && total > 0 ? Math.floor(pct / every) > Math.floor(this.lastPlainPct / every) || this.lastPlainPct < 0 : t - this.lastPlainAt >= (this.o.plainEveryMs ?? 10_000);
    if (!due && !force) return;
    this.lastPlainPct = pct;
    this.lastPlainAt = t;
    const count = total !== undefined ? `${this.current}/${total} (${pct}%)` : `${this.current}`;
    this.stream.write(`${this.o.label}: ${count}${this.note ? ` ${this.note}` : ''}\n`);
  }
}
