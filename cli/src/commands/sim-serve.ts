import { startOpenAIServer, WorldSimulator, type TextGenerator } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, sizeFlag, worldAndCorpus } from './zerosearch-common.js';

commands.push({
  path: ['sim', 'serve'],
  summary: 'serve the search simulator over OpenAI-compatible /v1/chat/completions and /v1/completions',
  usage: `Usage: cohort sim serve [--port P] [--host H] [--backend world] [--data DIR | --seed N --size S] [--name MODEL]

Serves a simulation LLM as sglang/vLLM would: POST /v1/chat/completions, POST /v1/completions,
GET /v1/models, GET /health. The "world" backend is the retrieval-backed template simulator over
the world (from --data, or the default world made in memory). Runs until interrupted.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      { port: { type: 'string' }, host: { type: 'string' }, backend: { type: 'string' }, data: { type: 'string' }, seed: { type: 'string' }, size: { type: 'string' }, name: { type: 'string' } },
      false,
    );
    const port = intFlag('port', values.port, 6001, 0);
    if (port > 65535) throw new UsageError(`--port must be <= 65535, got ${port}`);
    const backend = values.backend ?? 'world';
    if (backend !== 'world') throw new UsageError(`unknown backend "${backend}"; available: world`);
    const { world, corpus, source } = await worldAndCorpus({ data: values.data, seed: intFlag('seed', values.seed, 7), size: sizeFlag(values.size) });
    const generator: TextGenerator = new WorldSimulator(world, {}, corpus);
    let server;
    try {
      server = await startOpenAIServer({ generator, port, host: values.host ?? '127.0.0.1', modelName: values.name ?? 'cohort-world-simulator' });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new Error(`port ${port} is already in use; pick another with --port`);
      throw err;
    }
    process.stdout.write(`serving ${generator.name} (world ${source}) at ${server.url}/v1\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    return 0;
  },
});
