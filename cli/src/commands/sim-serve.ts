import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalModelGenerator, makeDataset, readJsonl, readTuneReport, startOpenAIServer, tuneSimulator, WorldSimulator, type SimPair, type TextGenerator } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { SHIPPED_SIMULATOR, cacheDir, intFlag, sizeFlag, worldAndCorpus } from './zerosearch-common.js';

const BACKENDS = ['local', 'world'];

commands.push({
  path: ['sim', 'serve'],
  summary: 'serve the search simulator over OpenAI-compatible /v1/chat/completions and /v1/completions',
  usage: `Usage: cohort sim serve [--port P] [--host H] [--backend local|world] [--model DIR]
                       [--data DIR | --seed N --size S] [--tune-steps N] [--threads N] [--name MODEL]

Serves a simulation LLM as sglang/vLLM would: POST /v1/chat/completions, POST /v1/completions,
GET /v1/models, GET /health (default port 6001). Runs until interrupted.
  --api-key-file F (or COHORT_SIM_API_KEY) every route but /health then requires
                   "Authorization: Bearer KEY"; required with a --host other machines reach
  --backend local  (default) the engine's local model from --model DIR; with no model and no world
                   named, the shipped models/zerosearch-local/simulator; with --data or --seed/--size
                   and no model, a simulator tuned on that world first (cached under $COHORT_CACHE
                   or ~/.cache/cohort, so later runs start at once)
  --backend world  the retrieval-backed template simulator over the world (instant, deterministic)`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        port: { type: 'string' },
        host: { type: 'string' },
        backend: { type: 'string' },
        model: { type: 'string' },
        data: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        'tune-steps': { type: 'string' },
        threads: { type: 'string' },
        name: { type: 'string' },
        'api-key-file': { type: 'string' },
      },
      false,
    );
    let apiKey = process.env.COHORT_SIM_API_KEY || undefined;
    if (values['api-key-file']) {
      try {
        apiKey = readFileSync(values['api-key-file'], 'utf8').trim();
      } catch (err) {
        throw new UsageError(`--api-key-file: cannot read ${values['api-key-file']} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    }
    const host = values.host ?? '127.0.0.1';
    if (!apiKey && !/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) throw new UsageError(`--host ${host} lets other machines reach the simulator: give it an API key (--api-key-file F or COHORT_SIM_API_KEY), or bind 127.0.0.1`);
    const port = intFlag('port', values.port, 6001, 0);
    if (port > 65535) throw new UsageError(`--port must be <= 65535, got ${port}`);
    const backend = values.backend ?? 'local';
    if (!BACKENDS.includes(backend)) throw new UsageError(`unknown backend "${backend}"; use one of ${BACKENDS.join(', ')}`);
    if (values.model && backend !== 'local') throw new UsageError('--model applies to --backend local only');
    const seed = intFlag('seed', values.seed, 7);
    const size = sizeFlag(values.size);
    const threads = values.threads ? intFlag('threads', values.threads, 1, 1) : undefined;
    let generator: TextGenerator;
    let what: string;
    if (backend === 'world') {
      const { world, corpus, source } = await worldAndCorpus({ data: values.data, seed, size });
      generator = new WorldSimulator(world, {}, corpus);
      what = `world simulator (world ${source})`;
    } else {
      let dir = values.model ? resolve(values.model) : '';
      // No model and no world named: the simulator the repository ships.
      if (!dir && !values.data && values.seed === undefined && values.size === undefined && existsSync(join(SHIPPED_SIMULATOR, 'model.safetensors'))) dir = SHIPPED_SIMULATOR;
      if (!dir) {
        dir = join(cacheDir(), 'zerosearch', values.data ? `simulator-${resolve(values.data).replace(/[^\w]+/g, '_')}` : `simulator-${size}-s${seed}`);
        if (!readTuneReport(dir)) {
          process.stderr.write(`no tuned simulator cached at ${dir}; tuning one now (once)\n`);
          const pairs: SimPair[] = values.data ? await readJsonl<SimPair>(join(values.data, 'sim_pairs.jsonl')) : [...makeDataset({ seed, size }).simPairs];
          const steps = intFlag('tune-steps', values['tune-steps'], 500, 1);
          const report = await tuneSimulator(pairs, { outDir: dir, steps, seed, ...(threads ? { threads } : {}) }, {
            onStep: (s, loss) => (s === 1 || s % 25 === 0) && process.stderr.write(`tune step ${s}/${steps} loss ${loss.toFixed(4)}\n`),
          });
          process.stderr.write(`tuned in ${report.seconds.toFixed(1)} s, loss ${report.lastLoss.toFixed(3)}\n`);
        }
      } else if (!existsSync(dir)) throw new UsageError(`--model ${dir} does not exist; tune one with: cohort sim tune --out ${dir}`);
      generator = LocalModelGenerator.load(dir, threads ? { threads } : {});
      what = `local simulator ${dir}`;
    }
    let server;
    try {
      server = await startOpenAIServer({ generator, port, host, apiKey, modelName: values.name ?? (backend === 'world' ? 'cohort-world-simulator' : 'cohort-simulator') });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new Error(`port ${port} is already in use; pick another with --port`);
      throw err;
    }
    process.stdout.write(`serving ${what} at ${server.url}/v1\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    await generator.close?.();
    return 0;
  },
});
