import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, HttpApiError as ApiError, listen, readJsonBody, sendJson } from './http-serve.js';
import type { Logger } from 'pino';
import { tokensEqual } from '@cohort/runtime';
import { z } from 'zod';
import type { GenerateOptions, TextGenerator } from './text-generator.js';

const Stop = z.union([z.string(), z.array(z.string()).max(16)]).optional().nullable();
const Common = {
  model: z.string().optional(),
  max_tokens: z.number().int().positive().max(32768).optional().nullable(),
  temperature: z.number().min(0).max(2).optional().nullable(),
  top_p: z.number().gt(0).max(1).optional().nullable(),
  stop: Stop,
  seed: z.number().int().optional().nullable(),
  n: z.literal(1, { message: 'only n = 1 is supported' }).optional().nullable(),
  stream: z.literal(false, { message: 'streaming is not supported; send stream: false' }).optional().nullable(),
};
const Content = z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() }).passthrough())]);
const ChatRequest = z
  .object({
    ...Common,
    max_completion_tokens: z.number().int().positive().max(32768).optional().nullable(),
    messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant', 'developer']), content: Content }).passthrough()).min(1, 'messages must hold at least one message'),
  })
  .passthrough();
const CompletionRequest = z
  .object({ ...Common, prompt: z.union([z.string(), z.array(z.string()).min(1).max(256)]) })
  .passthrough();

/** Options of the OpenAI-compatible server. */
export interface OpenAIServerOptions {
  readonly generator: TextGenerator;
  readonly port?: number;
  readonly host?: string;
  /** The model id shown by `/v1/models` (default: the generator's name). */
  readonly modelName?: string;
  /** Default `max_tokens` when a request gives none (600, the simulator's). */
  readonly defaultMaxTokens?: number;
  /** Most prompts handed to the generator at once (requests arriving together are batched). */
  readonly maxBatch?: number;
  /**
   * When set, every route but `/health` requires `Authorization: Bearer <apiKey>` (as vLLM's
   * `--api-key`). Required when `host` is not a loopback address.
   */
  readonly apiKey?: string;
  readonly logger?: Logger;
}

/** A running server. */
export interface OpenAIServer {
  readonly url: string;
  readonly port: number;
  /** Requests served, failed generator calls. */
  readonly stats: { requests: number; errors: number; batches: number };
  close(): Promise<void>;
}

const send = sendJson;
const readJson = (req: IncomingMessage) => readJsonBody(req, 4 << 20);

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ApiError(400, `${i.path.join('.') || 'body'}: ${i.message}`, 'invalid_request_error', i.path.join('.') || null);
  }
  return r.data;
}

/** Renders chat messages as one prompt: a lone user message as is, else `role: content` lines. */
export function renderChat(messages: { role: string; content: string | { text: string }[] }[]): string {
  const text = (c: string | { text: string }[]) => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));
  if (messages.length === 1 && messages[0].role === 'user') return text(messages[0].content);
  return messages.map((m) => `${m.role}: ${text(m.content)}`).join('\n') + '\nassistant:';
}

/** Drops a trailing stop string (OpenAI semantics) and reports the finish reason. */
function finish(text: string, stop: string[], maxTokens: number): { text: string; reason: 'stop' | 'length' } {
  for (const s of stop) if (s && text.endsWith(s)) return { text: text.slice(0, -s.length), reason: 'stop' };
  return { text, reason: text.split(/\s+/).length >= maxTokens ? 'length' : 'stop' };
}

/**
 * Serves a TextGenerator over OpenAI-compatible HTTP: `POST /v1/chat/completions`,
 * `POST /v1/completions`, `GET /v1/models`, `GET /health`. Bodies are validated
 * (zod) and errors come back as OpenAI-style `{ error: { message, type, param, code } }`.
 * Requests that arrive together with the same sampling options go to the
 * generator as one batch.
 */
export async function startOpenAIServer(opts: OpenAIServerOptions): Promise<OpenAIServer> {
  const model = opts.modelName ?? opts.generator.name;
  const maxBatch = opts.maxBatch ?? 64;
  const stats = { requests: 0, errors: 0, batches: 0 };
  type Pending = { prompt: string; resolve: (s: string) => void; reject: (e: Error) => void };
  const queues = new Map<string, { opts: GenerateOptions; items: Pending[] }>();

  const flush = (key: string) => {
    const q = queues.get(key);
    if (!q) return;
    queues.delete(key);
    for (let i = 0; i < q.items.length; i += maxBatch) {
      const items = q.items.slice(i, i + maxBatch);
      stats.batches++;
      opts.generator.generate(
        items.map((p) => p.prompt),
        q.opts,
      ).then(
        (outs) => items.forEach((p, j) => (typeof outs[j] === 'string' ? p.resolve(outs[j]) : p.reject(new Error(`generator returned no output for prompt ${j}`)))),
        (err: Error) => items.forEach((p) => p.reject(err)),
      );
    }
  };
  const generate = (prompts: string[], g: GenerateOptions): Promise<string[]> => {
    const key = JSON.stringify(g);
    let q = queues.get(key);
    if (!q) {
      q = { opts: g, items: [] };
      queues.set(key, q);
      setImmediate(() => flush(key));
    }
    const qq = q;
    return Promise.all(prompts.map((prompt) => new Promise<string>((resolve, reject) => qq.items.push({ prompt, resolve, reject }))));
  };

  const options = (body: z.infer<typeof ChatRequest> | z.infer<typeof CompletionRequest>, maxTokens: number | null | undefined): GenerateOptions => {
    const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
    return {
      maxTokens: maxTokens ?? opts.defaultMaxTokens ?? 600,
      temperature: body.temperature ?? 1,
      ...(body.top_p != null ? { topP: body.top_p } : {}),
      ...(stop.length ? { stop } : {}),
      ...(body.seed != null ? { seed: body.seed } : {}),
    };
  };
  const usage = (prompt: string[], out: string[]) => {
    const count = (s: string) => s.split(/\s+/).filter(Boolean).length;
    const p = prompt.reduce((a, s) => a + count(s), 0);
    const c = out.reduce((a, s) => a + count(s), 0);
    return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
  };
  let seq = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '');
    const created = Math.floor(Date.now() / 1000);
    if (req.method === 'GET' && (path === '/health' || path === '/v1/health')) return send(res, 200, { status: 'ok', model });
    if (opts.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
      if (!given || !tokensEqual(given, opts.apiKey)) throw new ApiError(401, given ? 'incorrect API key provided' : 'missing API key: send "Authorization: Bearer KEY"', 'invalid_request_error');
    }
    if (req.method === 'GET' && path === '/v1/models') return send(res, 200, { object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'cohort' }] });
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      if (req.method !== 'POST') throw new ApiError(405, `${path} accepts POST only`);
      const body = await readJson(req);
      if (path === '/v1/chat/completions') {
        const b = parse(ChatRequest, body);
        const prompt = renderChat(b.messages);
        const g = options(b, b.max_completion_tokens ?? b.max_tokens);
        const [raw] = await generate([prompt], g);
        const f = finish(raw, g.stop ? [...g.stop] : [], g.maxTokens);
        return send(res, 200, {
          id: `chatcmpl-${++seq}`,
          object: 'chat.completion',
          created,
          model: b.model ?? model,
          choices: [{ index: 0, message: { role: 'assistant', content: f.text }, finish_reason: f.reason, logprobs: null }],
          usage: usage([prompt], [f.text]),
        });
      }
      const b = parse(CompletionRequest, body);
      const prompts = typeof b.prompt === 'string' ? [b.prompt] : b.prompt;
      const g = options(b, b.max_tokens);
      const outs = await generate(prompts, g);
      const fs = outs.map((o) => finish(o, g.stop ? [...g.stop] : [], g.maxTokens));
      return send(res, 200, {
        id: `cmpl-${++seq}`,
        object: 'text_completion',
        created,
        model: b.model ?? model,
        choices: fs.map((f, index) => ({ index, text: f.text, finish_reason: f.reason, logprobs: null })),
        usage: usage(prompts, fs.map((f) => f.text)),
      });
    }
    throw new ApiError(404, `no route ${req.method} ${path}; try POST /v1/chat/completions, POST /v1/completions, GET /v1/models or GET /health`, 'not_found_error');
  };

  const loopback = (h: string) => h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
  if (opts.apiKey === undefined && !loopback(opts.host ?? '127.0.0.1')) {
    throw new Error(`the simulator server binds ${opts.host}, which other machines reach: give it an API key (clients send it as "Authorization: Bearer KEY") or bind 127.0.0.1`);
  }
  // slow or idle clients cannot hold connections for long: headers within 10 s, a whole request within 60 s
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 60_000 }, (req, res) => {
    handle(req, res).catch((err: Error) => {
      if (err instanceof ApiError) return send(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: null } });
      stats.errors++;
      opts.logger?.error({ err: err.message }, 'generation failed');
      send(res, 500, { error: { message: `generation failed: ${err.message}`, type: 'server_error', param: null, code: null } });
    });
  });
  const { base, port } = await listen(server, opts.port ?? 0, opts.host ?? '127.0.0.1');
  return { url: base, port, stats, close: () => closeServer(server) };
}
