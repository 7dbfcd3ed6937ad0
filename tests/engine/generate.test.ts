import test from 'ava';
import { CausalLM } from '../../engine/src/model/causal-lm.js';
import { generate } from '../../engine/src/generate/generate.js';
import { TINY_CONFIG } from '../../engine/src/io/model-config.js';

const model = CausalLM.random(TINY_CONFIG, { seed: 11, std: 0.3, threads: 1 });
test.after.always(() => model.release());
const prompts = [[5, 9, 13, 2, 40, 33], [7, 1], [60, 61, 62, 3]];

test('generate: KV-cache decoding equals full recomputation (greedy tokens and logprobs, left padding)', async (t) => {
  const kv = await generate(model, prompts, { maxNewTokens: 16, temperature: 0 });
  const nokv = await generate(model, prompts, { maxNewTokens: 16, temperature: 0, useCache: false });
  for (let b = 0; b < prompts.length; b++) {
    t.is(kv[b].tokens.length, 16);
    t.deepEqual(kv[b].tokens, nokv[b].tokens);
    for (let i = 0; i < 16; i++) t.true(Math.abs(kv[b].logprobs[i] - nokv[b].logprobs[i]) < 1e-4);
    t.is(kv[b].finishReason, 'length');
  }
  // sampled (temperature, top-p) output is the same on both paths too
  const a = await generate(model, prompts, { maxNewTokens: 10, temperature: 1.3, topP: 0.9, seed: 4 });
  const c = await generate(model, prompts, { maxNewTokens: 10, temperature: 1.3, topP: 0.9, seed: 4, useCache: false });
  t.deepEqual(a.map((s) => s.tokens), c.map((s) => s.tokens));
});

test('generate: padding does not leak — each prompt alone gives the batched result; logprobs match score()', async (t) => {
  const batched = await generate(model, prompts, { maxNewTokens: 8, temperature: 0 });
  for (let b = 0; b < prompts.length; b++) {
    const [alone] = await generate(model, [prompts[b]], { maxNewTokens: 8, temperature: 0 });
    t.deepEqual(alone.tokens, batched[b].tokens);
    const s = await model.score({ inputIds: [[...prompts[b], ...alone.tokens]] });
    for (let i = 0; i < 8; i++) t.true(Math.abs(s.logprobs[0][prompts[b].length + i] - alone.logprobs[i]) < 1e-4);
  }
});

test('generate: deterministic under a seed; seeds differ; tiny top-p is greedy', async (t) => {
  const o = { maxNewTokens: 12, temperature: 1.5, seed: 123 };
  const a = await generate(model, prompts, o);
  const b = await generate(model, prompts, o);
  t.deepEqual(a, b);
  const c = await generate(model, prompts, { ...o, seed: 124 });
  t.notDeepEqual(a.map((s) => s.tokens), c.map((s) => s.tokens));
  const g = await generate(model, prompts, { maxNewTokens: 6, temperature: 0 });
  const p = await generate(model, prompts, { maxNewTokens: 6, temperature: 1, topP: 1e-9, seed: 9 });
  t.deepEqual(p.map((s) => s.tokens), g.map((s) => s.tokens));
});

test('generate: stop token ids and stop strings end each sequence independently', async (t) => {
  const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(65 + (i % 58))).join('');
  const free = await generate(model, prompts, { maxNewTokens: 12, temperature: 0, decode });
  const stopTok = free[0].tokens[3];
  const firstAt = free[0].tokens.indexOf(stopTok);
  const st = await generate(model, prompts, { maxNewTokens: 12, temperature: 0, stopTokenIds: [stopTok], decode });
  t.is(st[0].finishReason, 'stop_token');
  t.deepEqual(st[0].tokens, free[0].tokens.slice(0, firstAt + 1));
  // other rows continue (or stop at their own first occurrence), unaffected by row 0 stopping
  for (let b = 1; b < prompts.length; b++) {
    const at = free[b].tokens.indexOf(stopTok);
    t.deepEqual(st[b].tokens, at >= 0 ? free[b].tokens.slice(0, at + 1) : free[b].tokens);
  }
  const stopStr = free[1].text!.slice(4, 7);
  const ss = await generate(model, prompts, { maxNewTokens: 12, temperature: 0, stopStrings: [stopStr], decode });
  t.is(ss[1].finishReason, 'stop_string');
  t.is(ss[1].stop, stopStr);
  t.true(ss[1].text!.endsWith(stopStr));
  t.is(ss[1].text!.indexOf(stopStr), ss[1].text!.length - stopStr.length);
  t.true(ss[1].tokens.length <= 7);
});

test('generate: bad options are rejected with the fix', async (t) => {
  await t.throwsAsync(generate(model, prompts, { maxNewTokens: 0 }), { message: /maxNewTokens must be >= 1/ });
  await t.throwsAsync(generate(model, prompts, { maxNewTokens: 2, stopStrings: ['x'] }), { message: /need a `decode` function/ });
  await t.throwsAsync(generate(model, [[1, 999]], { maxNewTokens: 2 }), { message: /token id 999 outside \[0, 64\)/ });
  await t.throwsAsync(generate(model, [[]], { maxNewTokens: 2 }), { message: /prompt 0 is empty/ });
  await t.throwsAsync(generate(model, prompts, { maxNewTokens: 2, topP: 0 }), { message: /topP must be in \(0, 1\]/ });
});
