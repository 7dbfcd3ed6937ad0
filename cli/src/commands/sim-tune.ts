import { join, resolve } from 'node:path';
import { makeDataset, readJsonl, tuneSimulator, type SimPair } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, numFlag, sizeFlag } from './zerosearch-common.js';

commands.push({
  path: ['sim', 'tune'],
  summary: 'fine-tune the local search simulator on the tuning pairs and report its fidelity',
  usage: `Usage: cohort sim tune [--data DIR | --seed N --size S] [--out DIR] [--steps N] [--batch N] [--lr X]
                      [--hidden N] [--layers N] [--vocab N] [--eval N] [--eval-tokens N] [--threads N] [--json]

Trains a small Qwen2-style model (engine, ONNX Runtime) with SFT on sim_pairs.jsonl (from --data,
or the world made in memory): prompt masked, loss on the five documents. Then runs the fidelity
check on held-out pairs: how often useful outputs contain the gold answer, against noisy ones.
Writes config.json, model.safetensors, tokenizer.json and tune.json into --out (default models/simulator).`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        data: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        hidden: { type: 'string' },
        layers: { type: 'string' },
        vocab: { type: 'string' },
        eval: { type: 'string' },
        'eval-tokens': { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const seed = intFlag('seed', values.seed, 7);
    const pairs: SimPair[] = values.data ? await readJsonl<SimPair>(join(values.data, 'sim_pairs.jsonl')) : [...makeDataset({ seed, size: sizeFlag(values.size) }).simPairs];
    if (pairs.length === 0) throw new UsageError('no simulator pairs found; make data with: cohort data make');
    const outDir = resolve(values.out ?? 'models/simulator');
    const steps = intFlag('steps', values.steps, 500, 1);
    const report = await tuneSimulator(
      pairs,
      {
        outDir,
        steps,
        batchSize: intFlag('batch', values.batch, 8, 1),
        lr: numFlag('lr', values.lr, 3e-3, 1e-8, 1),
        hiddenSize: intFlag('hidden', values.hidden, 128, 8),
        layers: intFlag('layers', values.layers, 2, 1),
        vocabSize: intFlag('vocab', values.vocab, 1024, 300),
        evalPairs: intFlag('eval', values.eval, 16, 0),
        evalMaxTokens: intFlag('eval-tokens', values['eval-tokens'], 256, 1),
        seed,
        ...(values.threads ? { threads: intFlag('threads', values.threads, 1, 1) } : {}),
      },
      {
        onStep: (step, loss) => {
          if (!values.json && (step === 1 || step % 25 === 0 || step === steps)) process.stderr.write(`step ${step}/${steps} loss ${loss.toFixed(4)}\n`);
        },
      },
    );
    if (values.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const f = report.fidelity;
      process.stdout.write(
        `tuned ${report.parameters} parameters on ${report.trainPairs} pairs in ${report.seconds.toFixed(1)} s; loss ${report.firstLoss.toFixed(3)} -> ${report.lastLoss.toFixed(3)}\n` +
          (f ? `fidelity on ${f.pairs} held-out pairs: useful outputs with the gold answer ${(100 * f.usefulHasAnswer).toFixed(1)}%, noisy ${(100 * f.noisyHasAnswer).toFixed(1)}%, ${f.meanDocs.toFixed(1)} docs each\n` : '') +
          `saved to ${report.outDir}\n`,
      );
    }
    return 0;
  },
});
