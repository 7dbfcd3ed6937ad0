import {
  CorpusSearchEngine,
  HttpSearchEngine,
  OpenAIClient,
  SimulatorSearchEngine,
  WorldSimulator,
  type SearchEngine,
  type SearchMode,
} from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, sizeFlag, worldAndCorpus } from './zerosearch-common.js';

const ENGINES = ['corpus', 'simulator', 'http'];

commands.push({
  path: ['search'],
  summary: 'run one search through a ZeroSearch engine (corpus, simulator, http)',
  usage: `Usage: cohort search "QUERY" [--engine corpus|simulator|http] [--mode useful|noisy] [--style sft|prompt] [--json]
       [--data DIR | --seed N --size S]           world to search (default: made in memory)
       [--url URL ...] [--model NAME]             simulator: OpenAI-compatible server(s); without --url,
                                                  the built-in world simulator answers
       [--question Q] [--answer A ...]            simulator: the question and gold the prompt names
       [--api-key KEY] [--endpoint URL]           http: SerpAPI key (or SERPAPI_API_KEY) and endpoint
       [--timeout-ms MS] [--retries N]`,
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
    const load = () => worldAndCorpus({ data: values.data, seed: intFlag('seed', values.seed, 7), size: sizeFlag(values.size) });
    let engine: SearchEngine;
    if (engineName === 'corpus') {
      engine = new CorpusSearchEngine((await load()).corpus);
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
      engine = new HttpSearchEngine({ url: values.endpoint ?? 'https://serpapi.com/search', apiKey, timeoutMs });
    }
    const [result] = await engine.search([{ query, mode: mode ?? 'useful', question: values.question, goldenAnswers: values.answer }].map((r) => (engineName === 'simulator' ? r : { query: r.query })));
    await engine.close?.();
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(result.text + '\n');
    return 0;
  },
});
