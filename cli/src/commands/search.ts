import {
  CorpusSearchEngine,
  HttpSearchEngine,
  OpenAIClient,
  RetrieverSearchEngine,
  SimulatorSearchEngine,
  WorldSimulator,
  type SearchEngine,
  type SearchMode,
} from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, sizeFlag, worldAndCorpus } from './zerosearch-common.js';

const ENGINES = ['corpus', 'simulator', 'http', 'retriever'];

commands.push({
  path: ['search'],
  summary: 'run one search through a ZeroSearch engine (corpus, simulator, http, retriever)',
  usage: `Usage: cohort search "QUERY" [--engine corpus|simulator|http|retriever] [--mode useful|noisy] [--style sft|prompt] [--json]
       [--data DIR | --seed N --size S]           world to search (default: made in memory)
       [--corpus FILE]                            corpus: search this JSONL/parquet corpus instead of a world's
       [--url URL ...] [--model NAME]             simulator: OpenAI-compatible server(s); without --url,
                                                  the built-in world simulator answers
                                                  retriever: the Search-R1 retrieval server's endpoint,
                                                  e.g. http://127.0.0.1:8000/retrieve (or cohort search serve)
       [--question Q] [--answer A ...]            simulator: the question and gold the prompt names
       [--api-key KEY] [--endpoint URL]           http: SerpAPI key (or SERPAPI_API_KEY) and endpoint
       [--topk K] [--timeout-ms MS] [--retries N]

Serve a corpus over the retrieval API with: cohort search serve CORPUS --port P`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      engine: { type: 'string' },
      mode: { type: 'string' },
      style: { type: 'string' },
      json: { type: 'boolean' },
      data: { type: 'string' },
      seed: { type: 'string' },
      size: { type: 'string' },
      url: { type: 'string', multiple: true },
      model: { type: 'string' },
      question: { type: 'string' },
      answer: { type: 'string', multiple: true },
      'api-key': { type: 'string' },
      endpoint: { type: 'string' },
      'timeout-ms': { type: 'string' },
      retries: { type: 'string' },
      topk: { type: 'string' },
      corpus: { type: 'string' },
    });
    const query = positionals.join(' ').trim();
    if (!query) throw new UsageError('the search query is empty; give it as the first argument, e.g. cohort search "Velport capital"');
    const engineName = values.engine ?? 'corpus';
    if (!ENGINES.includes(engineName)) throw new UsageError(`unknown engine "${engineName}"; use one of ${ENGINES.join(', ')}`);
    const mode = values.mode as SearchMode | undefined;
    if (mode !== undefined && mode !== 'useful' && mode !== 'noisy') throw new UsageError(`--mode must be useful or noisy, got "${values.mode}"`);
    if (mode && engineName !== 'simulator') throw new UsageError('--mode applies to --engine simulator only');
    const style = values.style ?? 'sft';
    if (style !== 'sft' && style !== 'prompt') throw new UsageError(`--style must be sft or prompt, got "${style}"`);
    const timeoutMs = intFlag('timeout-ms', values['timeout-ms'], 30_000, 1);
    const topk = intFlag('topk', values.topk, 5, 1);
    if (values.topk !== undefined && engineName !== 'corpus' && engineName !== 'retriever') throw new UsageError('--topk applies to --engine corpus and retriever');
    if (values.corpus !== undefined && engineName !== 'corpus') throw new UsageError('--corpus applies to --engine corpus; to search a corpus through the retrieval API, serve it with cohort search serve');
    if (values.corpus !== undefined && values.data !== undefined) throw new UsageError('give --corpus FILE or --data DIR, not both');
    const load = () => worldAndCorpus({ data: values.data, seed: intFlag('seed', values.seed, 7), size: sizeFlag(values.size) });
    let engine: SearchEngine;
    if (engineName === 'corpus') {
      engine = values.corpus ? await CorpusSearchEngine.fromFile(values.corpus, { topk }) : new CorpusSearchEngine((await load()).corpus, { topk });
    } else if (engineName === 'retriever') {
      if (values.url?.length !== 1) throw new UsageError('--engine retriever needs one --url, the retrieval server\'s endpoint, e.g. --url http://127.0.0.1:8000/retrieve');
      try {
        engine = new RetrieverSearchEngine({ url: values.url[0], topk, timeoutMs, maxRetries: intFlag('retries', values.retries, 2) });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else if (engineName === 'simulator') {
      let generator;
      if (values.url?.length) {
        generator = new OpenAIClient({ addresses: values.url, model: values.model ?? 'default', timeoutMs, maxRetries: intFlag('retries', values.retries, 2) });
      } else {
        const { world, corpus } = await load();
        generator = new WorldSimulator(world, {}, corpus);
      }
      engine = new SimulatorSearchEngine({ generator, style, onFailure: 'throw' });
    } else {
      const apiKey = values['api-key'] ?? process.env.SERPAPI_API_KEY ?? '';
      engine = new HttpSearchEngine({ url: values.endpoint ?? 'https://serpapi.com/search', apiKey, timeoutMs, maxRetries: intFlag('retries', values.retries, 2) });
    }
    const [result] = await engine.search([{ query, mode: mode ?? 'useful', question: values.question, goldenAnswers: values.answer }].map((r) => (engineName === 'simulator' ? r : { query: r.query })));
    await engine.close?.();
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(result.text + '\n');
    return 0;
  },
});
