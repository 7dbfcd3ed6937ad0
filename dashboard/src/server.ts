import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { z } from 'zod';
import { tokensEqual } from '@cohort/runtime';
import type { ClusterSnapshot, DashboardDataSource } from './data-source.js';
import { PAGE_CSS, PAGE_JS, pageHtml } from './page.js';
import { PromWriter, clusterMetrics, trainingMetrics } from './prometheus.js';
import { TrainingFeed, TrainingStepError } from './training-feed.js';

/** Options of {@link startDashboard}. */
export const DashboardOptionsSchema = z.strictObject({
  /** Interface to bind. Default 127.0.0.1 (loopback only); `0.0.0.0` exposes it. */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port; 0 picks a free one. Default 8265 (Ray's). */
  port: z.number().int().min(0).max(65535).default(8265),
  /** How often the cluster state is re-read for live clients, in ms. */
  pollMs: z.number().int().min(50).max(60_000).default(1000),
  /** Page title. */
  title: z.string().default('Cohort dashboard'),
  /** Accept step metrics by HTTP POST on /api/training/<run>. Default true. */
  acceptPosts: z.boolean().default(true),
  /**
   * The cluster token. Required when `host` is not a loopback address: `/api/*` and
   * `/metrics` then answer only requests that carry it (`Authorization: Bearer`,
   * `x-cohort-token`, or the cookie set by opening `/?token=...` once).
   */
  token: z.string().min(1).optional(),
});
export type DashboardOptions = z.input<typeof DashboardOptionsSchema>;

/** A running dashboard. */
export interface DashboardServer {
  /** `http://host:port` (what `cohort status --json` reports as `dashboard_url`). */
  readonly url: string;
  readonly port: number;
  readonly training: TrainingFeed;
  /** Live SSE clients now. */
  clients(): number;
  /** Closes the server and every live connection. */
  close(): Promise<void>;
}

/** Raised for invalid dashboard options; names the option and what it takes. */
export class DashboardConfigError extends Error {
  override readonly name = 'DashboardConfigError';
}

function staticFile(rel: string): Buffer {
  const dist = path.dirname(createRequire(import.meta.url).resolve('uplot'));
  return readFileSync(path.join(dist, rel));
}

const SSE_KEEPALIVE_MS = 15_000;
const COOKIE = 'cohort_token';

/** True for interfaces only this machine reaches (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The token a request carries: bearer header, `x-cohort-token`, `?token=`, or the dashboard cookie. */
function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const h = req.headers['x-cohort-token'];
  if (typeof h === 'string') return h;
  const q = url.searchParams.get('token');
  if (q) return q;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/**
 * Serves the dashboard over HTTP: the page at `/`, JSON at `/api/cluster`,
 * `/api/training`, `/api/actors/<name>/logs?lines=N`, live updates as
 * server-sent events at `/api/events` (`cluster`, `training`, `step`),
 * Prometheus text at `/metrics` (every name prefixed `cohort_`), and step
 * metrics pushed by POST to `/api/training/<run>`.
 */
export async function startDashboard(source: DashboardDataSource, options: DashboardOptions = {}, deps: { training?: TrainingFeed; logger?: Logger } = {}): Promise<DashboardServer> {
  const parsed = DashboardOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    const known = Object.keys(DashboardOptionsSchema.shape).join(', ');
    if (i.code === 'unrecognized_keys') throw new DashboardConfigError(`unknown dashboard option${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}; known options: ${known}`);
    throw new DashboardConfigError(`dashboard option ${i.path.join('.')}: ${i.message} (known options: ${known})`);
  }
  const o = parsed.data;
  const log = (deps.logger ?? pino({ level: 'silent' })).child({ component: 'dashboard' });
  // bound beyond loopback, the data (cluster state, logs, training metrics) needs the cluster token
  const guarded = !isLoopbackHost(o.host);
  if (guarded && !o.token) {
    throw new DashboardConfigError(`the dashboard binds ${o.host}, which other machines reach: give it the cluster token (the head passes its own; a cluster with natsCreds only has none) so /api/* and /metrics require it, or bind it to 127.0.0.1 (--dashboard-host)`);
  }
  const allowed = (req: IncomingMessage, url: URL) => {
    if (!guarded) return true;
    const t = tokenOf(req, url);
    return t !== undefined && tokensEqual(t, o.token!);
  };
  const training = deps.training ?? new TrainingFeed();
  const assets: Record<string, { type: string; body: Buffer | string }> = {
    '/static/uplot.js': { type: 'text/javascript; charset=utf-8', body: staticFile('uPlot.iife.min.js') },
    '/static/uplot.css': { type: 'text/css; charset=utf-8', body: staticFile('uPlot.min.css') },
    '/static/app.js': { type: 'text/javascript; charset=utf-8', body: PAGE_JS },
    '/static/app.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
    '/': { type: 'text/html; charset=utf-8', body: pageHtml(o.title) },
  };

  const clients = new Set<ServerResponse>();
  // reads in flight: close() waits for them so the caller may close the source's connection right after
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.then(
      () => inflight.delete(p),
      () => inflight.delete(p),
    );
    return p;
  };
  const snapshot = () => track(source.snapshot());
  let lastCluster = '';
  let polling: NodeJS.Timeout | undefined;
  let reading = false;

  const send = (res: ServerResponse, event: string, data: string) => res.write(`event: ${event}\ndata: ${data}\n\n`);
  const broadcast = (event: string, data: string) => {
    for (const c of clients) send(c, event, data);
  };
  const readCluster = async (): Promise<string | undefined> => {
    try {
      return JSON.stringify(await snapshot());
    } catch (err) {
      log.warn({ err }, 'could not read the cluster state');
      return undefined;
    }
  };
  const poll = async () => {
    if (reading || clients.size === 0) return;
    reading = true;
    try {
      const s = await readCluster();
      if (s && s !== lastCluster) {
        lastCluster = s;
        broadcast('cluster', s);
      }
    } finally {
      reading = false;
    }
  };
  const unStep = training.onStep((u) => broadcast('step', JSON.stringify(u)));
  const keepalive = setInterval(() => {
    for (const c of clients) c.write(': keepalive\n\n');
  }, SSE_KEEPALIVE_MS);
  keepalive.unref();

  const trainingJson = () => {
    const runs: Record<string, unknown> = {};
    for (const r of training.runNames()) runs[r] = training.steps(r);
    return JSON.stringify({ runs });
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const p = url.pathname;
    if ((p.startsWith('/api/') || p === '/metrics') && !allowed(req, url)) {
      res.setHeader('www-authenticate', 'Bearer realm="cohort"');
      return json(res, 401, { error: `this dashboard is reachable beyond this machine, so ${p} needs the cluster token: send "Authorization: Bearer TOKEN" (or x-cohort-token), or open /?token=TOKEN once in the browser` });
    }
    if (p === '/' && guarded && url.searchParams.has('token')) {
      // the browser keeps the token as a cookie for the page's own API calls
      if (!allowed(req, url)) return json(res, 401, { error: 'wrong cluster token' });
      res.writeHead(303, { location: '/', 'set-cookie': `${COOKIE}=${encodeURIComponent(o.token!)}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store' });
      return res.end();
    }
    if (req.method === 'POST') {
      const m = /^\/api\/training\/([^/]+)$/.exec(p);
      if (!m || !o.acceptPosts) return json(res, 404, { error: `POST ${p}: only /api/training/<run> takes posts` });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > 1 << 20) return json(res, 413, { error: 'step metrics larger than 1 MiB' });
        chunks.push(c as Buffer);
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, 400, { error: 'body is not JSON; post one StepMetrics object (or an array of them)' });
      }
      try {
        const run = decodeURIComponent(m[1]);
        const steps = Array.isArray(body) ? body : [body];
        for (const s of steps) training.push(run, s);
        return json(res, 200, { accepted: steps.length });
      } catch (err) {
        if (err instanceof TrainingStepError) return json(res, 400, { error: err.message });
        throw err;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: `${req.method} is not served; use GET` });
    const asset = assets[p];
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': p === '/' ? 'no-store' : 'max-age=300' });
      return res.end(asset.body);
    }
    if (p === '/metrics') {
      const w = new PromWriter();
      let snap: ClusterSnapshot | undefined;
      try {
        snap = await snapshot();
      } catch (err) {
        log.warn({ err }, 'could not read the cluster state for /metrics');
      }
      if (snap) clusterMetrics(w, snap);
      else w.gauge('up', 'Whether the dashboard could read the cluster state (1) or not (0).', 0);
      trainingMetrics(w, training);
      w.gauge('dashboard_clients', 'Browsers following the live view.', clients.size);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      return res.end(w.toString());
    }
    if (p === '/api/cluster') return json(res, 200, await snapshot());
    if (p === '/api/training') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(trainingJson());
    }
    const logs = /^\/api\/actors\/([^/]+)\/logs$/.exec(p);
    if (logs) {
      const n = Number(url.searchParams.get('lines') ?? '100');
      if (!Number.isInteger(n) || n < 0 || n > 100_000) return json(res, 400, { error: `lines=${url.searchParams.get('lines')}: expected an integer from 0 to 100000` });
      const actor = decodeURIComponent(logs[1]);
      return json(res, 200, { actor, lines: await track(source.actorLogs(actor, n)) });
    }
    if (p === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      send(res, 'training', trainingJson());
      const s = lastCluster && polling ? lastCluster : await readCluster();
      if (s) {
        lastCluster = s;
        send(res, 'cluster', s);
      }
      return;
    }
    return json(res, 404, { error: `no page at ${p}; see / (dashboard), /metrics, /api/cluster, /api/training, /api/events` });
  };

  // slow or idle clients cannot hold connections for long: headers within 10 s, a whole request within 30 s (SSE responses are not limited)
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err) => {
      log.error({ err, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) json(res, 500, { error: (err as Error).message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new DashboardConfigError(`dashboard port ${o.port} on ${o.host} is in use; pick another (dashboard.port, or 0 for any free port)`) : err),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  polling = setInterval(() => void poll(), o.pollMs);
  polling.unref();
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
  const url = `http://${hostForUrl}:${port}`;
  log.info({ url }, 'dashboard serving');
  return {
    url,
    port,
    training,
    clients: () => clients.size,
    async close() {
      clearInterval(polling);
      clearInterval(keepalive);
      unStep();
      for (const c of clients) c.end();
      clients.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.allSettled([...inflight]);
    },
  };
}
