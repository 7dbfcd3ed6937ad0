import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrainConfig, prepareWorld } from '../../actors/src/index.js';
import { SIMULATOR_FILES, TuneOptionsSchema, readSimulatorManifest, simulatorConfigHash, verifySimulatorManifest } from '@cohort/zerosearch';
import { cohortInProcess } from '../helpers/cohort-in-process.js';

const SHIPPED = 'models/zerosearch-local/simulator';

const cohort = cohortInProcess;

/** The argv of a recorded command with some flags replaced (`--flag value` pairs). */
function withFlags(command: string, replace: Record<string, string>): string[] {
  const argv = command.split(' ');
  for (const [flag, value] of Object.entries(replace)) {
    const i = argv.indexOf(flag);
    if (i >= 0) argv[i + 1] = value;
    else argv.push(flag, value);
  }
  return argv;
}

const tuneOptions = (dir: string) => {
  const { options } = JSON.parse(readFileSync(join(dir, 'tune.json'), 'utf8')) as { options: Record<string, unknown> };
  return TuneOptionsSchema.parse(options);
};

test.serial('the shipped simulator: its files match MANIFEST.json, and its config hash is of its options and the main job\'s pairs', async (t) => {
  const m = readSimulatorManifest(SHIPPED);
  t.truthy(m, `${SHIPPED}/MANIFEST.json is missing`);
  t.deepEqual(Object.keys(m!.files).sort(), [...SIMULATOR_FILES].sort());
  t.deepEqual(verifySimulatorManifest(SHIPPED), [], 'files whose sha256 differs from the manifest');
  t.regex(m!.command, /^cohort sim tune --config configs\/zerosearch\/local\.yaml /);
  // Tuned on the pairs the main job makes from its config (a changed world means a re-tune).
  const { config } = await loadTrainConfig('configs/zerosearch/local.yaml');
  t.deepEqual(config.simulator.backend === 'local' && 'path' in config.simulator.model ? config.simulator.model.path : null, SHIPPED);
  const ds = await prepareWorld(config, 0);
  t.is(simulatorConfigHash(tuneOptions(SHIPPED), ds.simPairs), m!.config_hash);
  t.deepEqual(m!.pairs, { train: ds.simPairs.filter((p) => p.split === 'train').length, eval: ds.simPairs.filter((p) => p.split === 'eval').length });
  // Small enough to ship in the repository.
  const bytes = SIMULATOR_FILES.reduce((a, f) => a + readFileSync(join(SHIPPED, f)).length, 0);
  t.true(bytes < 8 * 2 ** 20, `${bytes} bytes`);
  t.truthy(m!.fidelity, 'the manifest records the fidelity figures');
});

test.serial('re-making a short version with the recorded command writes a valid directory with the same config hash scheme', async (t) => {
  const m = readSimulatorManifest(SHIPPED)!;
  const dir = await mkdtemp(join(tmpdir(), 'zs-sim-remake-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const argv = withFlags(m.command, { '--out': dir, '--steps': '2', '--eval': '2' });
  t.deepEqual(argv.slice(0, 3), ['cohort', 'sim', 'tune']);
  const r = await cohort(argv.slice(1));
  t.is(r.code, 0, r.stderr);
  for (const f of [...SIMULATOR_FILES, 'MANIFEST.json']) t.true(existsSync(join(dir, f)), f);
  t.deepEqual(verifySimulatorManifest(dir), []);
  const short = readSimulatorManifest(dir)!;
  t.is(short.command, argv.join(' '));
  t.deepEqual(short.source, m.source);
  t.is(short.tuning.steps, 2);
  t.is(short.fidelity!.pairs, 2);
  // The same options but the steps (and how many pairs were measured, which the hash leaves out):
  // with the shipped steps they hash to the shipped config hash.
  const shipped = tuneOptions(SHIPPED);
  const remade = tuneOptions(dir);
  t.deepEqual({ ...remade, outDir: '', steps: 0, evalPairs: 0 }, { ...shipped, outDir: '', steps: 0, evalPairs: 0 });
  t.not(short.config_hash, m.config_hash);
  const { config } = await loadTrainConfig('configs/zerosearch/local.yaml');
  const pairs = (await prepareWorld(config, 0)).simPairs;
  t.is(simulatorConfigHash({ ...remade, steps: shipped.steps }, pairs), m.config_hash);
});
