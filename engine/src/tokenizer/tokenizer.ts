import { readFileSync, writeFileSync, existsSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { trainByteLevelBpe } from './bpe-trainer.js';

/** Padding, beginning- and end-of-sequence tokens of project-trained tokenizers. */
export const DEFAULT_SPECIAL_TOKENS = { pad: '<|pad|>', bos: '<|bos|>', eos: '<|endoftext|>' } as const;

/** Options of {@link Tokenizer.train}. */
export const tokenizerTrainOptionsSchema = z.object({
  /** Final vocabulary size (added tokens + 256 bytes + merges). */
  vocabSize: z.number().int().min(300, 'vocabSize must be at least 300 (256 byte tokens + added tokens + some merges)').max(1_000_000),
  /** Minimum count for a pair to be merged. */
  minFrequency: z.number().int().positive().default(2),
  /**
   * Extra tokens that always map to one id and are kept when decoding (not "special"), e.g. an
   * application's markup tags (ZeroSearch passes its `ZEROSEARCH_TAGS`). Default: none.
   */
  addedTokens: z.array(z.string().min(1)).default([]),
  /** pad / bos / eos strings (skipped when decoding with skipSpecialTokens). */
  special: z.object({ pad: z.string().min(1), bos: z.string().min(1), eos: z.string().min(1) }).default({ ...DEFAULT_SPECIAL_TOKENS }),
});
export type TokenizerTrainOptions = z.input<typeof tokenizerTrainOptionsSchema>;

/** Thrown for an unreadable or invalid tokenizer; the message names the file and the fix. */
export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/**
 * A Hugging Face tokenizer (`tokenizer.json`), loaded by `@huggingface/tokenizers`, plus
 * training of a small byte-level BPE tokenizer for the project's own data.
 */
export class Tokenizer {
  private readonly hf: HfTokenizer;
  private readonly json: Record<string, unknown>;
  private readonly config: Record<string, unknown>;

  private constructor(json: Record<string, unknown>, config: Record<string, unknown>) {
    this.json = json;
    this.config = config;
    try {
      this.hf = new HfTokenizer(json, config);
    } catch (err) {
      throw new TokenizerError(`tokenizer.json could not be loaded: ${(err as Error).message}`);
    }
  }

  /** Builds a tokenizer from parsed `tokenizer.json` (and optional `tokenizer_config.json`). */
  static fromJSON(json: unknown, config: Record<string, unknown> = {}): Tokenizer {
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new TokenizerError('tokenizer.json must be an object with a "model" section (a Hugging Face tokenizers file)');
    }
    return new Tokenizer(json as Record<string, unknown>, config);
  }

  /** Loads `tokenizer.json` (a path to it, or its directory); reads a sibling `tokenizer_config.json` if present. */
  static fromFile(p: string): Tokenizer {
    let file = p;
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'tokenizer.json');
    if (!existsSync(file)) throw new TokenizerError(`tokenizer file ${file} does not exist; pass a tokenizer.json path or its directory`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new TokenizerError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    const cfgFile = path.join(path.dirname(file), 'tokenizer_config.json');
    const cfg = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>) : {};
    return Tokenizer.fromJSON(json, cfg);
  }

  /** Trains a byte-level BPE tokenizer on texts (see bpe-trainer.ts for why byte-level BPE). */
  static train(texts: Iterable<string>, options: TokenizerTrainOptions): Tokenizer {
    const parsed = tokenizerTrainOptionsSchema.safeParse(options);
    if (!parsed.success) throw new TokenizerError(`invalid tokenizer training options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const o = parsed.data;
    const specials = [o.special.pad, o.special.bos, o.special.eos];
    const reserved = [...specials, ...o.addedTokens.filter((t) => !specials.includes(t))];
    const { vocab, merges } = trainByteLevelBpe(texts, o.vocabSize, reserved, o.minFrequency);
    const added_tokens = reserved.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: specials.includes(content),
    }));
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    const json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens,
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
      },
    };
    const config = {
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
      pad_token: o.special.pad,
      bos_token: o.special.bos,
      eos_token: o.special.eos,
      model_max_length: 32768,
    };
    return new Tokenizer(json, config);
  }

  /** Token ids of a text (added tokens such as `<search>` are matched first). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  /** Text of token ids. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  /** Id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** Number of ids (vocabulary plus added tokens): the model's `vocab_size` must be at least this. */
  get vocabSize(): number {
    let max = -1;
    for (const id of this.hf.get_vocab(true).values()) if (id > max) max = id;
    return max + 1;
  }

  private specialId(key: 'pad_token' | 'bos_token' | 'eos_token'): number | undefined {
    const v = this.config[key];
    const s = typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : undefined;
    return s === undefined ? undefined : this.tokenToId(s);
  }

  /** Padding token id, if the tokenizer config names one. */
  get padTokenId(): number | undefined {
    return this.specialId('pad_token');
  }
  /** Beginning-of-sequence token id, if any. */
  get bosTokenId(): number | undefined {
    return this.specialId('bos_token');
  }
  /** End-of-sequence token id, if any. */
  get eosTokenId(): number | undefined {
    return this.specialId('eos_token');
  }

  /** The chat template of `tokenizer_config.json` (a Jinja string), if it has one. */
  get chatTemplate(): string | undefined {
    const t = this.config.chat_template;
    if (typeof t === 'string') return t;
    // Newer files may list named templates: [{ name: 'default', template }, ...].
    if (Array.isArray(t)) {
      const d = (t as { name?: unknown; template?: unknown }[]).find((x) => x?.name === 'default');
      return typeof d?.template === 'string' ? d.template : undefined;
    }
    return undefined;
  }

  /**
   * Renders chat messages with the model's own chat template (`chat_template` of
   * `tokenizer_config.json`, Jinja, as transformers' `apply_chat_template(..., tokenize=False)`):
   * `bos_token` / `eos_token` are passed to the template, `addGenerationPrompt` opens the
   * assistant's turn. Returns the text; `encode` it for ids.
   */
  applyChatTemplate(messages: readonly { role: string; content: string }[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): string {
    const src = this.chatTemplate;
    if (!src) throw new TokenizerError('this tokenizer has no chat_template in tokenizer_config.json; use a chat (instruct) model\'s tokenizer, or build the prompt text yourself');
    let template: Template;
    try {
      template = new Template(src);
    } catch (err) {
      throw new TokenizerError(`chat_template of tokenizer_config.json does not parse: ${(err as Error).message}`);
    }
    const tokenText = (k: string) => {
      const v = this.config[k];
      return typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : '';
    };
    return template.render({
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      bos_token: tokenText('bos_token'),
      eos_token: tokenText('eos_token'),
      ...opts.extra,
    });
  }

  /** Added tokens (id → content, special flag). */
  get addedTokens(): { id: number; content: string; special: boolean }[] {
    const list = (this.json.added_tokens as AddedTokenJson[] | undefined) ?? [];
    return list.map((t) => ({ id: t.id, content: t.content, special: !!t.special }));
  }

  /** The `tokenizer.json` object. */
  toJSON(): Record<string, unknown> {
    return this.json;
  }

  /**
   * Saves `tokenizer.json` and `tokenizer_config.json`. `p` is a directory, or a file path
   * ending in `.json` (the config goes beside it).
   */
  save(p: string): string {
    const file = p.endsWith('.json') ? p : path.join(p, 'tokenizer.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(this.json));
    writeFileSync(path.join(path.dirname(file), 'tokenizer_config.json'), JSON.stringify(this.config, null, 2));
    return file;
  }
}
