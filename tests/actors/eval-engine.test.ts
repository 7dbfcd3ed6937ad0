import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CorpusSearchEngine, makeDataset, RetrieverSearchEngine, startRetrieverServer } from '@cohort/zerosearch';
import { ConfigError, parseTrainConfig } from '../../actors/src/core.js';
import { openEvalEngine } from '../../actors/src/trainer/eval-engine.js';

const root = new URL('../../', import.meta.url).pathname;
const localYaml = readFileSync(path.join(root, 'configs/zerosearch/local.yaml'), 'utf8');
const withEval = (lines: string) => localYaml.replace('eval:\n', `eval:\n${lines}`);

function problems(text: string): Map<string, string> {
  try {
    parseTrainConfig(text, 'x.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return new Map(err.problems.map((p) => [p.path, p.message]));
    throw err;
  }
  throw new Error('expected a ConfigError');
}

test('eval.engine: corpus by default; retriever needs eval.retriever.url, validated', (t) => {
  t.is(parseTrainConfig(localYaml).eval.engine, 'corpus');
  const ok = parseTrainConfig(withEval('  engine: retriever\n  retriever: { url: "http://127.0.0.1:8000/retrieve", timeoutMs: 5000 }\n'));
  t.deepEqual(ok.eval.retriever, { url: 'http://127.0.0.1:8000/retrieve', timeoutMs: 5000, maxRetries: 3, batchSize: 64, titles: true });
  t.regex(problems(withEval('  engine: retriever\n')).get('eval.retriever')!, /needs eval\.retriever\.url/);
  t.regex(problems(withEval('  retriever: { url: "http://h:1/retrieve" }\n')).get('eval.retriever')!, /eval\.engine is corpus; set eval\.engine: retriever/);
  t.regex(problems(withEval('  engine: retriever\n  retriever: { url: "ftp://h/retrieve" }\n')).get('eval.retriever.url')!, /must be http/);
  t.true(problems(withEval('  engine: faiss\n')).has('eval.engine'));
  t.true(problems(withEval('  engine: retriever\n  retriever: { url: "http://h:1/retrieve", topk: 3 }\n')).has('eval.retriever.topk'));
});

test('openEvalEngine: the corpus engine, or a probed retriever (a dead server fails before training)', async (t) => {
  const ds = makeDataset({ size: 'tiny', seed: 2 });
  t.true((await openEvalEngine(parseTrainConfig(localYaml), ds)) instanceof CorpusSearchEngine);
  const server = await startRetrieverServer({ engine: new CorpusSearchEngine(ds.corpus) });
  const cfg = parseTrainConfig(withEval(`  engine: retriever\n  retriever: { url: "${server.url}", maxRetries: 0, titles: false }\n`));
  const engine = await openEvalEngine(cfg, ds);
  t.true(engine instanceof RetrieverSearchEngine);
  const q = ds.test[0].question;
  t.deepEqual((await engine.search([{ query: q }]))[0].docs, (await new CorpusSearchEngine(ds.corpus, { topk: cfg.rollout.topk }).search([{ query: q }]))[0].docs);
  await server.close();
  await t.throwsAsync(openEvalEngine(cfg, ds), { message: /^eval\.retriever: retriever at http:\/\/127\.0\.0\.1:\d+\/retrieve not answering after 1 attempt\(s\): (ECONNREFUSED|UND_ERR_SOCKET \(other side closed\))/ });
});
