import { OpenAIClient, type GenerateOptions, type TextGenerator } from '@cohort/zerosearch';
import type { Logger } from 'pino';
import type { ManagedServer } from './managed-server.js';

/**
 * The OpenAI-compatible client of a managed server: every call waits until
 * the server is healthy; prompts that failed because the server died are sent
 * once more after its restart (a server that failed for good fails the call
 * with the reason and its last output lines).
 */
export class ManagedGenerator implements TextGenerator {
  readonly name: string;
  private readonly client: OpenAIClient;

  constructor(private readonly server: ManagedServer, model: string, logger?: Logger) {
    // Few quick retries: a dead server is noticed by its exit, not by many timeouts.
    this.client = new OpenAIClient({ addresses: [server.url], model, maxRetries: 2, backoffMs: 100, timeoutMs: 600_000 }, logger);
    this.name = `managed:${model}`;
  }

  async generateSettled(prompts: readonly string[], opts: GenerateOptions): Promise<(string | Error)[]> {
    await this.server.whenReady();
    const launch = this.server.launches;
    const out = await this.client.generateSettled(prompts, opts);
    const failed = out.flatMap((o, i) => (o instanceof Error ? [i] : []));
    const died = this.server.launches !== launch || this.server.pgid === undefined;
    if (failed.length === 0 || !died) return out;
    // The server died under these prompts: once it is back, they go again.
    await this.server.whenReady();
    const again = await this.client.generateSettled(failed.map((i) => prompts[i]), opts);
    failed.forEach((i, k) => (out[i] = again[k]));
    return out;
  }

  async generate(prompts: readonly string[], opts: GenerateOptions): Promise<string[]> {
    const out = await this.generateSettled(prompts, opts);
    const err = out.find((o): o is Error => o instanceof Error);
    if (err) throw err;
    return out as string[];
  }

  async close(): Promise<void> {
    await this.server.stop();
  }
}
