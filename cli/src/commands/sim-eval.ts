import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { FIDELITY_TARGETS, readSimulatorManifest, type SimulatorEvalReport } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { SHIPPED_SIMULATOR, evaluateSimulatorDir, intFlag, loadSimData, numFlag, simDataSource, type SimDataSource } from './zerosearch-common.js';

/** Sampling defaults of the fidelity evaluation: the main job's (configs/zerosearch/local.yaml simulator). */
export const SIM_EVAL_DEFAULTS = { batch: 16, maxTokens: 160, temperature: 0, topk: 5 } as const;

commands.push({
  path: ['sim', 'eval'],
  summary: "the local simulator's fidelity on held-out training queries, beside BM25 on the same queries",
  usage: `Usage: cohort sim eval [--model DIR] [--config TRAIN.yaml | --data DIR | --seed N --size S] [--pairs N]
                      [--batch N] [--max-tokens N] [--temperature X] [--topk K] [--threads N] [--json]

Asks the tuned simulator in --model (default: the shipped models/zerosearch-local/simulator) for the
documents of each held-out simulator pair: queries of training questions whose pairs the simulator
was not tuned on (the pairs' "eval" split), in useful and noisy mode, greedy by default, through the
simulator search engine in batches. The real engine (BM25 top-k over the world's corpus) answers the
useful pairs' queries. Pairs come from --config (a training config's synthetic world, as the main
job makes it), --data (a \`cohort data make\` directory) or --seed/--size; with none, from the source
in the model's MANIFEST.json (seed 7, size default when it has none). Reports:
  useful_answer_rate  useful searches whose documents hold a gold answer   (target >= ${FIDELITY_TARGETS.useful_answer_rate[1]})
  noisy_answer_rate   noisy searches whose documents hold a gold answer    (target <= ${FIDELITY_TARGETS.noisy_answer_rate[1]})
  entity_rate         searches whose documents name the queried entity     (target >= ${FIDELITY_TARGETS.entity_rate[1]})
  format_ok_rate      searches answered with exactly Doc 1..Doc 5, none empty (target >= ${FIDELITY_TARGETS.format_ok_rate[1]})
  bm25_answer_rate    the real engine's top-k holding a gold answer, same useful queries
  searches_per_s      simulated searches per second (batches of --batch, KV-cached decoding)
  --pairs N           the first N held-out pairs only (default: all)
Exit codes: 0 measured (targets met or not: see targets_met), 2 bad flags or inputs.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        model: { type: 'string' },
        config: { type: 'string' },
        data: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        pairs: { type: 'string' },
        batch: { type: 'string' },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        topk: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const pairs = values.pairs !== undefined ? intFlag('pairs', values.pairs, 0, 1) : undefined;
    const settings = {
      ...(pairs !== undefined ? { pairs } : {}),
      batch: intFlag('batch', values.batch, SIM_EVAL_DEFAULTS.batch, 1),
      maxTokens: intFlag('max-tokens', values['max-tokens'], SIM_EVAL_DEFAULTS.maxTokens, 1),
      temperature: numFlag('temperature', values.temperature, SIM_EVAL_DEFAULTS.temperature, 0, 10),
      topk: intFlag('topk', values.topk, SIM_EVAL_DEFAULTS.topk, 1),
      ...(values.threads ? { threads: intFlag('threads', values.threads, 1, 1) } : {}),
    };
    simDataSource(values); // flag conflicts first, before the model is looked at
    const dir = resolve(values.model ?? SHIPPED_SIMULATOR);
    if (!existsSync(dir)) throw new UsageError(`--model ${dir} does not exist; tune one with: cohort sim tune --out ${values.model ?? 'DIR'}`);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      if (!existsSync(resolve(dir, f))) throw new UsageError(`--model ${dir} lacks ${f}; a simulator directory comes from: cohort sim tune --out DIR`);
    }
    let manifestSource: SimDataSource | undefined;
    try {
      manifestSource = readSimulatorManifest(dir)?.source as SimDataSource | undefined;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const source = simDataSource(values, manifestSource);
    const data = await loadSimData(source);
    const r = await evaluateSimulatorDir(dir, data, settings);
    if (values.json) process.stdout.write(JSON.stringify({ source, ...r }) + '\n');
    else process.stdout.write(formatSimEval(r, source));
    return 0;
  },
});

function formatSimEval(r: SimulatorEvalReport & { model: string; held_out_pairs: number; batch: number; max_tokens: number; temperature: number; topk: number }, source: SimDataSource): string {
  const f = (x: number) => x.toFixed(3);
  const target = (k: keyof typeof FIDELITY_TARGETS) => `${FIDELITY_TARGETS[k][0]} ${FIDELITY_TARGETS[k][1]}  ${r.targets_met[k] ? 'met' : 'NOT met'}`;
  const rows: [string, string, string, string][] = [
    ['useful_answer_rate', f(r.useful_answer_rate), f(r.bm25_answer_rate), target('useful_answer_rate')],
    ['noisy_answer_rate', f(r.noisy_answer_rate), '-', target('noisy_answer_rate')],
    ['entity_rate', f(r.entity_rate), f(r.bm25_entity_rate), target('entity_rate')],
    ['format_ok_rate', f(r.format_ok_rate), '-', target('format_ok_rate')],
    ['searches_per_s', r.searches_per_s.toFixed(2), r.bm25_searches_per_s.toFixed(0), ''],
  ];
  const from = 'config' in source ? `--config ${source.config}` : 'data' in source ? `--data ${source.data}` : `--seed ${source.seed} --size ${source.size}`;
  return (
    `simulator ${relative(process.cwd(), r.model) || '.'} on ${r.pairs} of ${r.held_out_pairs} held-out pairs (${r.useful_pairs} useful, ${r.noisy_pairs} noisy; ${from})\n` +
    `greedy=${r.temperature === 0} temperature ${r.temperature}, max ${r.max_tokens} tokens, batch ${r.batch}; bm25 top-${r.topk} on the ${r.useful_pairs} useful queries\n` +
    `${'metric'.padEnd(20)}${'simulator'.padEnd(11)}${'bm25'.padEnd(9)}target\n` +
    rows.map(([k, a, b, t]) => `${k.padEnd(20)}${a.padEnd(11)}${b.padEnd(9)}${t}`).join('\n') +
    '\n'
  );
}
