import { tuneSimulator, writeSimulatorManifest } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { SIM_EVAL_DEFAULTS } from './sim-eval.js';
import { compareWithEngine, intFlag, loadSimData, numFlag, queryEntityNames, simDataSource } from './zerosearch-common.js';

/** Tuning defaults of `cohort sim tune` (those of the shipped simulator are in its MANIFEST.json command). */
export const SIM_TUNE_DEFAULTS = { steps: 500, batch: 8, lr: 3e-3, hidden: 128, layers: 2, heads: 4, vocab: 1024 } as const;

commands.push({
  path: ['sim', 'tune'],
  summary: 'fine-tune the local search simulator on the tuning pairs and report its fidelity',
  usage: `Usage: cohort sim tune [--config TRAIN.yaml | --data DIR | --seed N --size S] [--out DIR] [--steps N] [--batch N]
                      [--lr X] [--hidden N] [--layers N] [--heads N] [--vocab N] [--augment N [--fresh-names]] [--eval N]
                      [--eval-tokens N] [--threads N] [--json]

Trains a small Qwen2-style model (engine, ONNX Runtime) with SFT on the simulator pairs of --config (a
training config's synthetic world, as the main job makes it), --data (sim_pairs.jsonl of a
\`cohort data make\` directory) or the world made from --seed/--size: prompt masked, loss on the five
documents; the tokenizer is trained on the tuning ("train" split) pairs only. Then measures it as
\`cohort sim eval\` does on the held-out pairs (--eval N of them, default all; 0 skips), greedy, at most
--eval-tokens new tokens (default ${SIM_EVAL_DEFAULTS.maxTokens}). Writes config.json, model.safetensors, tokenizer.json,
tune.json and MANIFEST.json (this command, the config hash of options and pairs, the sha256 of each
file, the fidelity figures) into --out (default models/simulator). --augment N (0-20, default 0) adds,
each epoch, N fresh copies of every tuning pair with its gold answer and queried entity swapped for
another pair's of the same relation, in the prompt and the documents alike, so the model must copy
both from the prompt rather than recall them. --fresh-names renames all copies but the first with
names made afresh (same syllables and suffixes, no pair's) and swaps a second hop's entity too.`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        config: { type: 'string' },
        data: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        hidden: { type: 'string' },
        layers: { type: 'string' },
        heads: { type: 'string' },
        vocab: { type: 'string' },
        augment: { type: 'string' },
        'fresh-names': { type: 'boolean' },
        eval: { type: 'string' },
        'eval-tokens': { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const source = simDataSource(values);
    const data = await loadSimData(source);
    const seed = data.seed;
    if (data.pairs.length === 0) throw new UsageError('no simulator pairs found; make data with: cohort data make');
    // As given (relative to the working directory): tune.json records it.
    const outDir = values.out ?? 'models/simulator';
    const steps = intFlag('steps', values.steps, SIM_TUNE_DEFAULTS.steps, 1);
    const hidden = intFlag('hidden', values.hidden, SIM_TUNE_DEFAULTS.hidden, 8);
    const heads = intFlag('heads', values.heads, SIM_TUNE_DEFAULTS.heads, 1);
    if (hidden % heads !== 0) throw new UsageError(`--hidden ${hidden} must be a multiple of --heads ${heads}`);
    const evalTokens = intFlag('eval-tokens', values['eval-tokens'], SIM_EVAL_DEFAULTS.maxTokens, 1);
    const threads = values.threads ? intFlag('threads', values.threads, 1, 1) : undefined;
    const held = data.pairs.filter((p) => p.split === 'eval').length;
    const evalN = values.eval !== undefined ? Math.min(held, intFlag('eval', values.eval, 0, 0)) : undefined;
    const augment = augmentFlag(values.augment);
    if (values['fresh-names'] && augment < 2) throw new UsageError(`--fresh-names renames the second and later swapped copies of each pair: give --augment 2 or more (got ${augment})`);
    const report = await tuneSimulator(
      data.pairs,
      {
        outDir,
        steps,
        batchSize: intFlag('batch', values.batch, SIM_TUNE_DEFAULTS.batch, 1),
        lr: numFlag('lr', values.lr, SIM_TUNE_DEFAULTS.lr, 1e-8, 1),
        hiddenSize: hidden,
        layers: intFlag('layers', values.layers, SIM_TUNE_DEFAULTS.layers, 1),
        heads,
        vocabSize: intFlag('vocab', values.vocab, SIM_TUNE_DEFAULTS.vocab, 300),
        augment,
        ...(values['fresh-names'] ? { freshNames: true } : {}),
        // The tuner's fidelity check (tune.json) on the held-out pairs; BM25 is measured beside it below.
        evalPairs: evalN ?? held,
        evalMaxTokens: evalTokens,
        seed,
        ...(threads ? { threads } : {}),
      },
      {
        entityNames: queryEntityNames(data.world, data.corpus),
        onStep: (step, loss) => {
          if (!values.json && (step === 1 || step % 25 === 0 || step === steps)) process.stderr.write(`step ${step}/${steps} loss ${loss.toFixed(4)}\n`);
        },
      },
    );
    const fidelity = report.fidelity ? await compareWithEngine(report.fidelity, data, { ...SIM_EVAL_DEFAULTS, maxTokens: evalTokens, pairs: report.fidelity.pairs }) : null;
    const manifest = writeSimulatorManifest(outDir, {
      command: ['cohort', 'sim', 'tune', ...argv].join(' '),
      source: { ...source },
      report,
      pairs: { train: data.pairs.length - held, eval: held },
      // The model path is where this machine wrote it; the figures are what travels.
      fidelity,
    });
    if (values.json) process.stdout.write(JSON.stringify({ ...report, fidelity, manifest }) + '\n');
    else {
      const f = fidelity;
      process.stdout.write(
        `tuned ${report.parameters} parameters on ${report.trainPairs} pairs in ${report.seconds.toFixed(1)} s; loss ${report.firstLoss.toFixed(3)} -> ${report.lastLoss.toFixed(3)}\n` +
          (f
            ? `fidelity on ${f.pairs} held-out pairs: useful ${f.useful_answer_rate.toFixed(3)} (bm25 ${f.bm25_answer_rate.toFixed(3)}), noisy ${f.noisy_answer_rate.toFixed(3)}, entity ${f.entity_rate.toFixed(3)}, format ${f.format_ok_rate.toFixed(3)}, ${f.searches_per_s.toFixed(2)} searches/s\n`
            : '') +
          `saved to ${report.outDir} (config hash ${report.configHash.slice(0, 16)})\n`,
      );
    }
    return 0;
  },
});

/** --augment: swapped copies per pair and epoch, 0-20. */
function augmentFlag(value: string | undefined): number {
  const n = intFlag('augment', value, 0, 0);
  if (n > 20) throw new UsageError(`--augment must be at most 20 (swapped copies of each pair per epoch), got ${n}`);
  return n;
}
