import { z } from 'zod';
import type { Logger } from 'pino';
import type { GenerateOptions, TextGenerator } from './text-generator.js';
import { applyStops } from './text-generator.js';
import { requestJson, RetriesExhaustedError, xorshiftJitter, type RetryMetrics } from './http-retry.js';

export { describeFetchError } from './http-retry.js';

/** Counters of an OpenAI-compatible client. */
export type ClientMetrics = RetryMetrics;

/** Client options. */
export const OpenAIClientOptionsSchema = z
  .object({
    /** Base URLs such as `http://10.0.0.5:6001` or `http://host:8000/v1`. */
    addresses: z.array(z.string().url()).min(1, 'give at least one server address, e.g. http://127.0.0.1:6001'),
    /** The model name sent in requests (vLLM needs it; sglang ignores it). */
    model: z.string().default('default'),
    /** How one address is picked per call. */
    pick: z.enum(['round-robin', 'random']).default('round-robin'),
    timeoutMs: z.number().int().positive().default(60_000),
    /** Retries after the first attempt (bounded; 0 disables). */
    maxRetries: z.number().int().min(0).max(20).default(3),
    backoffMs: z.number().int().min(0).default(200),
    maxBackoffMs: z.number().int().min(0).default(5_000),
    apiKey: z.string().optional(),
    /** Use `/v1/chat/completions` (default, as the reference) or `/v1/completions`. */
    endpoint: z.enum(['chat', 'completions']).default('chat'),
    /** Parallel requests per `generate` batch. */
    concurrency: z.number().int().positive().default(16),
  })
  .strict();
export type OpenAIClientOptions = z.input<typeof OpenAIClientOptionsSchema>;

/** The final error of a call that failed on every attempt. */
export class SimulatorUnavailableError extends Error {
  override readonly name = 'SimulatorUnavailableError';
  constructor(readonly attempts: number, readonly lastError: string, readonly addresses: readonly string[]) {
    super(
      /^HTTP 4\d\d/.test(lastError)
        ? `simulator rejected the request (${lastError}) at ${addresses.join(', ')}; check the model name and the request options`
        : `simulator unreachable after ${attempts} attempt(s) to ${addresses.join(', ')}: ${lastError}. Check that the server is up (cohort sim serve --port P) and the address is right.`,
    );
  }
}

function v1(base: string): string {
  const b = base.replace(/\/+$/, '');
  return b.endsWith('/v1') ? b : `${b}/v1`;
}

/**
 * A small OpenAI-compatible client on Node's fetch: one address picked per
 * call, a timeout per attempt (AbortController), bounded retries with
 * exponential backoff and jitter on network errors, timeouts, 429 and 5xx, and
 * a clear final error. Every failure is counted in `metrics`.
 */
export class OpenAIClient implements TextGenerator {
  readonly name: string;
  readonly metrics: ClientMetrics = { attempts: 0, succeeded: 0, failed: 0, retries: 0, timeouts: 0 };
  readonly options: z.output<typeof OpenAIClientOptionsSchema>;
  private next = 0;
  private readonly jitter = xorshiftJitter(0x2545f491);

  constructor(options: OpenAIClientOptions, private readonly logger?: Logger) {
    const r = OpenAIClientOptionsSchema.safeParse(options);
    if (!r.success) throw new Error(`bad OpenAI client options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.options = r.data;
    this.name = `openai:${this.options.model}`;
  }

  /** The address for the next call. */
  pickAddress(): string {
    const a = this.options.addresses;
    if (this.options.pick === 'random') return a[Math.floor(this.jitter() * a.length)];
    return a[this.next++ % a.length];
  }

  /** POSTs a JSON body to a `/v1/...` path with retries; returns the parsed JSON. */
  async post(path: string, body: unknown): Promise<unknown> {
    const tried: string[] = [];
    try {
      return await requestJson({
        url: () => {
          const addr = this.pickAddress();
          if (!tried.includes(addr)) tried.push(addr);
          return `${v1(addr)}${path}`;
        },
        body,
        headers: this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {},
        policy: this.options,
        metrics: this.metrics,
        jitter: this.jitter,
        onAttemptFailed: (attempt, of, err) => this.logger?.warn({ attempt, of, err }, 'simulator request failed'),
      });
    } catch (err) {
      if (!(err instanceof RetriesExhaustedError)) throw err;
      throw new SimulatorUnavailableError(err.attempts, err.lastError, tried);
    }
  }

  /** One chat completion; returns the message text. */
  async chat(messages: { role: string; content: string }[], opts: GenerateOptions): Promise<string> {
    const json = (await this.post('/chat/completions', {
      model: this.options.model,
      messages,
      max_tokens: opts.maxTokens,
      temperature: opts.temperature,
      ...(opts.topP !== undefined ? { top_p: opts.topP } : {}),
      ...(opts.stop?.length ? { stop: opts.stop } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    })) as { choices?: { message?: { content?: string | null } }[] };
    const content = json.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new Error('chat completion response has no choices[0].message.content');
    return content;
  }

  /** One text completion; returns the text. */
  async complete(prompt: string, opts: GenerateOptions): Promise<string> {
    const json = (await this.post('/completions', {
      model: this.options.model,
      prompt,
      max_tokens: opts.maxTokens,
      temperature: opts.temperature,
      ...(opts.topP !== undefined ? { top_p: opts.topP } : {}),
      ...(opts.stop?.length ? { stop: opts.stop } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    })) as { choices?: { text?: string }[] };
    const text = json.choices?.[0]?.text;
    if (typeof text !== 'string') throw new Error('completion response has no choices[0].text');
    return text;
  }

  /** Per-prompt outcomes: each prompt as one user message (or a completion), `concurrency` at a time. */
  async generateSettled(prompts: readonly string[], opts: GenerateOptions): Promise<(string | Error)[]> {
    const out: (string | Error)[] = new Array(prompts.length);
    let cursor = 0;
    const worker = async () => {
      while (cursor < prompts.length) {
        const i = cursor++;
        try {
          const raw = this.options.endpoint === 'chat' ? await this.chat([{ role: 'user', content: prompts[i] }], opts) : await this.complete(prompts[i], opts);
          // OpenAI servers drop the matched stop string; keep the contract (stop kept) when we can tell.
          out[i] = opts.stop?.length ? restoreStop(raw, opts.stop) : raw;
        } catch (err) {
          out[i] = err as Error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, prompts.length) }, worker));
    return out;
  }

  /** TextGenerator: all prompts, or the first failure. */
  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    const out = await this.generateSettled(prompts, opts);
    const bad = out.find((o): o is Error => o instanceof Error);
    if (bad) throw bad;
    return out as string[];
  }
}

function restoreStop(text: string, stop: readonly string[]): string {
  const cut = applyStops(text, stop);
  if (cut.stopped) return cut.text;
  // A generation cut by the server at a closing tag ends with an open tag and no close.
  for (const s of stop) {
    const open = s.replace('</', '<');
    if (open !== s && text.lastIndexOf(open) > text.lastIndexOf(s)) return text + s;
  }
  return text;
}
