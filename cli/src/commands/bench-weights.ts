import { loadTrainConfig, planModelConfig, runWeightSyncBench, QWEN05B_SHAPES, type WeightSyncSet } from '@cohort/actors';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

const MAIN_CONFIG = new URL('../../../configs/zerosearch/local.yaml', import.meta.url).pathname;

commands.push({
  path: ['bench', 'weights'],
  summary: 'weight-sync benchmark: learner → rollout publish time and bytes for the main job model and a 0.5 B fp32 buffer set',
  usage: `Usage: cohort bench weights [--config TRAIN.yaml] [--sets main,0.5b] [--rounds N] [--json]

Times what learner 0 does every step to sync weights (WeightPublisher.publish:
encode to safetensors, then the receiver loads the version) from this process to
one receiving worker that copies the weights into tensors of its own, as a
rollout's loadParams does. Three ways: over the bulk path with the receiver
giving the received arrays back (what rollouts do), over the bulk path keeping
them (the old rollout), and through a shared-memory file (same node). Buffer
sets: "main", the policy shapes of --config (default
configs/zerosearch/local.yaml), and "0.5b", Qwen2.5-0.5B's shapes (494 M fp32
parameters, ~2 GB; needs ~12 GB of memory). N publishes each (default 3); the
first also faults in the receiver's tensors and is reported apart.`,
  async run(argv) {
    const { values: v } = parseFlags(argv, { config: { type: 'string' }, sets: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } }, false);
    const rounds = v.rounds === undefined ? 3 : Number(v.rounds);
    if (!Number.isInteger(rounds) || rounds < 2) throw new UsageError(`--rounds must be an integer >= 2, found "${v.rounds}"`);
    const names = (v.sets ?? 'main,0.5b').split(',').map((s) => s.trim());
    const sets: WeightSyncSet[] = [];
    for (const n of names) {
      if (n === '0.5b') sets.push({ name: '0.5b', config: QWEN05B_SHAPES });
      else if (n === 'main') {
        const file = v.config ?? MAIN_CONFIG;
        const mc = planModelConfig((await loadTrainConfig(file)).config);
        if (!mc) throw new UsageError(`--config ${file}: the policy's config.json is not there yet (policy.model.path / configFile)`);
        sets.push({ name: `main (${file.split('/').slice(-2).join('/')})`, config: mc });
      } else throw new UsageError(`--sets: unknown set "${n}"; use main and/or 0.5b`);
    }
    const figures = await runWeightSyncBench({ sets, rounds, progress: (l) => process.stderr.write(`bench weights: ${l}\n`) });
    if (v.json) process.stdout.write(JSON.stringify(figures) + '\n');
    else
      for (const f of figures)
        process.stdout.write(`${f.set.padEnd(34)} ${f.transport.padEnd(9)} ${(f.params / 1e6).toFixed(2)} M params, ${(f.bytes / 2 ** 20).toFixed(1)} MiB: mean ${f.steady_s} s per sync (${f.steady_gb_per_s} GB/s), median ${f.median_s} s; first ${f.seconds[0]} s\n`);
    return 0;
  },
});
