import test from 'ava';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { Tokenizer, TokenizerError } from '../../engine/src/tokenizer/tokenizer.js';

const corpus = [
  'The Eiffel Tower is in Paris, the capital of France.',
  'Who wrote Hamlet? William Shakespeare wrote Hamlet around 1600.',
  'Paris is the capital and largest city of France.',
  '<think>I need to search.</think><search>capital of France</search>',
  '<information>Paris is the capital of France.</information><answer>Paris</answer>',
  'Ünïcödé — 東京 is the capital of Japan; emoji 🚀 too.\n\tTabs  and   spaces.',
];

test('tokenizer: trained byte-level BPE round-trips, saves a tokenizer.json the HF package loads', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tok-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tok = Tokenizer.train(corpus, { vocabSize: 320, addedTokens: ['<tool>', '</tool>'] });
  t.true(tok.vocabSize <= 320 && tok.vocabSize > 256);
  for (const s of [...corpus, 'unseen words: zyxw 12345 !!', '  leading and trailing  ', '']) {
    t.is(tok.decode(tok.encode(s)), s);
  }
  // merges shorten common words
  t.true(tok.encode('the capital of France').length < 'the capital of France'.length);
  // added tokens are single ids, kept when decoding; specials are skipped on request
  const ids = tok.encode('<tool>x</tool>');
  t.is(ids[0], tok.tokenToId('<tool>')!);
  t.is(ids[ids.length - 1], tok.tokenToId('</tool>')!);
  const eos = tok.eosTokenId!;
  t.is(typeof eos, 'number');
  t.is(tok.decode([...tok.encode('hi'), eos], { skipSpecialTokens: true }), 'hi');
  t.is(tok.decode([...tok.encode('<tool>hi</tool>'), eos], { skipSpecialTokens: true }), '<tool>hi</tool>');
  // the engine's default adds no application tags (ZeroSearch passes its own)
  t.is(Tokenizer.train(corpus, { vocabSize: 300 }).tokenToId('<search>'), undefined);

  const file = tok.save(dir);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  t.is(json.model.type, 'BPE');
  const loaded = Tokenizer.fromFile(dir);
  const direct = new HfTokenizer(json, JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
  for (const s of corpus) {
    t.deepEqual(loaded.encode(s), tok.encode(s));
    t.deepEqual(direct.encode(s).ids, tok.encode(s));
  }
  t.is(loaded.padTokenId, tok.padTokenId);
  t.is(loaded.vocabSize, tok.vocabSize);
});

test('tokenizer: bad inputs name the fix', (t) => {
  t.throws(() => Tokenizer.train(['a'], { vocabSize: 10 }), { instanceOf: TokenizerError, message: /vocabSize must be at least 300/ });
  t.throws(() => Tokenizer.fromFile('/nonexistent/tok'), { message: /does not exist/ });
  t.throws(() => Tokenizer.fromJSON({ foo: 1 }), { message: /"model" section/ });
});

test('tokenizer: a Qwen2.5-format tokenizer.json + tokenizer_config.json (Split regex + ByteLevel, ChatML added tokens, chat_template) encodes and renders chats', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qwen-tok-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = Tokenizer.train(corpus, { vocabSize: 400, addedTokens: [], special: { pad: '<|endoftext|>', bos: '<|im_start|>', eos: '<|im_end|>' } }).toJSON() as Record<string, unknown>;
  // Qwen2's layout: NFC, a Split on Qwen's regex then ByteLevel without its own regex; the three ChatML tokens added.
  const qwenRegex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const json = {
    ...base,
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: qwenRegex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  const chatml = [
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}",
    "{%- for message in messages %}{%- if not (message.role == 'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}",
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
  ].join('');
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', tokenizer_class: 'Qwen2Tokenizer', errors: 'replace', split_special_tokens: false, model_max_length: 131072, chat_template: chatml }));
  const tok = Tokenizer.fromFile(dir);
  const text = tok.applyChatTemplate([{ role: 'user', content: 'What is the capital of France?' }], { addGenerationPrompt: true });
  t.is(text, '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n');
  t.is(tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]), '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n');
  const ids = tok.encode(text);
  const start = tok.tokenToId('<|im_start|>')!;
  t.is(ids.filter((i) => i === start).length, 3, 'each <|im_start|> is one id');
  t.is(tok.decode(ids), text);
  t.is(tok.eosTokenId, tok.tokenToId('<|im_end|>'));
  t.is(tok.bosTokenId, undefined);
  // A tokenizer without a chat template says so.
  const plain = Tokenizer.train(corpus, { vocabSize: 300 });
  t.throws(() => plain.applyChatTemplate([{ role: 'user', content: 'x' }]), { instanceOf: TokenizerError, message: /no chat_template in tokenizer_config.json/ });
});
