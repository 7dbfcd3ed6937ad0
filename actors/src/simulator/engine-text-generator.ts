import { generate, type CausalLM, type Tokenizer } from '@cohort/engine';
import type { GenerateOptions, TextGenerator } from '@cohort/zerosearch';

/**
 * A local ONNX Runtime model as a zerosearch `TextGenerator`: prompts are
 * tokenized, generated in one batch (stop strings kept), and decoded. Prompts
 * longer than the context are cut from the left.
 */
export class EngineTextGenerator implements TextGenerator {
  readonly name: string;
  private calls = 0;

  constructor(
    private readonly model: CausalLM,
    private readonly tokenizer: Tokenizer,
    private readonly opts: { name?: string; seed?: number } = {},
  ) {
    this.name = opts.name ?? 'engine';
  }

  async generate(prompts: readonly string[], o: GenerateOptions): Promise<string[]> {
    if (prompts.length === 0) return [];
    const maxCtx = this.model.config.max_position_embeddings;
    const maxNew = Math.max(1, Math.min(o.maxTokens, maxCtx - 1));
    const ids = prompts.map((p) => {
      const enc = this.tokenizer.encode(p);
      const keep = maxCtx - maxNew;
      return enc.length > keep ? enc.slice(enc.length - keep) : enc.length ? enc : [this.tokenizer.bosTokenId ?? 0];
    });
    const eos = this.tokenizer.eosTokenId;
    const out = await generate(this.model, ids, {
      maxNewTokens: maxNew,
      temperature: o.temperature,
      topP: o.topP ?? 1,
      seed: (o.seed ?? this.opts.seed ?? 0) + this.calls++,
      stopTokenIds: eos === undefined ? [] : [eos],
      stopStrings: o.stop ? [...o.stop] : [],
      padTokenId: this.tokenizer.padTokenId ?? 0,
      decode: (t) => this.tokenizer.decode(t, { skipSpecialTokens: true }),
    });
    return out.map((s) => s.text ?? this.tokenizer.decode(s.tokens, { skipSpecialTokens: true }));
  }

  async close(): Promise<void> {
    await this.model.release();
  }
}
