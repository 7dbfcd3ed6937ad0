import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { makeDataset, writeDataset, type DatasetConfig } from '@cohort/zerosearch';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { intFlag, sizeFlag } from './zerosearch-common.js';

commands.push({
  path: ['data', 'make'],
  summary: 'make the ZeroSearch world: corpus, QA parquet/JSONL, simulator pairs, demonstrations',
  usage: `Usage: cohort data make [--config FILE.yaml] [--out DIR] [--seed N] [--size tiny|small|default|large] [--train N] [--dev N] [--test N] [--sim-pairs N] [--json]

Makes a seeded world (flags override --config, e.g. configs/world/default.yaml) and writes, under DIR (default data/world):
  train.parquet dev.parquet test.parquet   QA in the Search-R1 schema (also .jsonl);
                               three disjoint entity splits (dev and test: held-out entities)
  corpus.jsonl                 the documents the corpus engine searches
  sim_pairs.jsonl              simulator tuning pairs (query, useful|noisy -> five documents)
  demos.jsonl                  warm-start demonstrations in the template, with loss masks
  warmstart_corpus.txt         LM warm-start text (no held-out fact)
  warmstart_facts.jsonl        every fact the warm-start data states
  world.json manifest.json`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        out: { type: 'string' },
        config: { type: 'string' },
        seed: { type: 'string' },
        size: { type: 'string' },
        train: { type: 'string' },
        dev: { type: 'string' },
        test: { type: 'string' },
        'sim-pairs': { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const out = resolve(values.out ?? 'data/world');
    let base: DatasetConfig = {};
    if (values.config) {
      try {
        base = (parseYaml(readFileSync(values.config, 'utf8')) ?? {}) as DatasetConfig;
      } catch (err) {
        throw new UsageError(`--config ${values.config}: ${(err as Error).message}`);
      }
    }
    const ds = makeDataset({
      ...base,
      ...(values.seed !== undefined || base.seed === undefined ? { seed: intFlag('seed', values.seed, 7) } : {}),
      ...(values.size !== undefined || base.size === undefined ? { size: sizeFlag(values.size) } : {}),
      ...(values.train ? { trainSize: intFlag('train', values.train, 0, 1) } : {}),
      ...(values.dev ? { devSize: intFlag('dev', values.dev, 0, 1) } : {}),
      ...(values.test ? { testSize: intFlag('test', values.test, 0, 1) } : {}),
      ...(values['sim-pairs'] ? { simPairs: intFlag('sim-pairs', values['sim-pairs'], 0, 0) } : {}),
    });
    const manifest = await writeDataset(out, ds);
    if (values.json) process.stdout.write(JSON.stringify({ out, ...manifest }) + '\n');
    else {
      const c = manifest.counts as Record<string, number>;
      process.stdout.write(
        `wrote ${out}\n  entities ${c.entities} (${c.heldoutEntities} held out), facts ${c.facts}, documents ${c.documents}\n` +
          `  train ${c.train}, dev ${c.dev}, test ${c.test} (held-out), simulator pairs ${c.simPairs}, demonstrations ${c.demos} (${c.groundedDemos} grounded)\n` +
          `  warm-start: ${c.warmCorpusDocs} documents, ${c.warmFacts} facts, none held out\n`,
      );
    }
    return 0;
  },
});
