import test from 'ava';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
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
  const tok = Tokenizer.train(corpus, { vocabSize: 320 });
  t.true(tok.vocabSize <= 320 && tok.vocabSize > 256);
  for (const s of [...corpus, 'unseen words: zyxw 12345 !!', '  leading and trailing  ', '']) {
    t.is(tok.decode(tok.encode(s)), s);
  }
  // merges shorten common words
  t.true(tok.encode('the capital of France').length < 'the capital of France'.length);
  // ZeroSearch tags are single ids, kept when decoding; specials are skipped on request
  const ids = tok.encode('<search>x</search>');
  t.is(ids[0], tok.tokenToId('<search>')!);
  t.is(ids[ids.length - 1], tok.tokenToId('</search>')!);
  const eos = tok.eosTokenId!;
  t.is(typeof eos, 'number');
  t.is(tok.decode([...tok.encode('hi'), eos], { skipSpecialTokens: true }), 'hi');
  t.is(tok.decode([...tok.encode('<answer>hi</answer>'), eos], { skipSpecialTokens: true }), '<answer>hi</answer>');

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
