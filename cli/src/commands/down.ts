import { hostname } from 'node:os';
import { describeCurrentCluster, forgetCurrentCluster, loadClusterConfig, localDown, pidAlive, readCurrentCluster, sshDownPlan, stopPid, formatStep, runSshPlan } from '@cohort/cluster';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

/** `cohort down` of a cluster started with `cohort start --head` on this host: SIGTERM to the head, which stops its managed nats-server. */
async function stopRecordedHead(pids: number[], json: boolean, cluster: string): Promise<number> {
  const alive = pids.filter((p) => pidAlive(p));
  for (const p of alive) await stopPid(p, 10_000);
  forgetCurrentCluster({ pid: pids[0] });
  if (json) process.stdout.write(JSON.stringify({ cluster, stopped: alive.map((pid) => ({ role: 'head', id: 'head', pid })) }) + '\n');
  else process.stdout.write(`cluster ${cluster}: ${alive.length ? `stopped the head (pid ${alive.join(', ')})` : 'the head was not running'}; node agents started by hand keep running until stopped where they run\n`);
  return 0;
}

commands.push({
  path: ['down'],
  summary: 'stop a cluster started with `cohort up`',
  usage: `Usage: cohort down [CONFIG] [--dry-run] [--state-dir DIR] [--json]

Stops the agents (they leave cleanly), then the head, then the nats-server.
Without CONFIG it stops the current cluster (the one \`cohort up\` or
\`cohort start --head\` last started here; stderr says which) and forgets it.`,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, { 'dry-run': { type: 'boolean' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length > 1) throw new UsageError('give at most one CONFIG file, e.g. cohort down configs/cluster/local.yaml (none: the current cluster)');
    let file = positionals[0];
    let stateDir = v['state-dir'];
    if (file === undefined) {
      const cur = readCurrentCluster();
      if (!cur) throw new UsageError('no CONFIG given and no current cluster recorded (`cohort up CONFIG` records one); give the CONFIG of the cluster to stop');
      process.stderr.write(`cohort down: using ${describeCurrentCluster(cur)}\n`);
      if (cur.startedBy === 'start-head') {
        if (cur.host !== hostname()) throw new Error(`the current cluster "${cur.cluster}" was started by \`cohort start --head\` on ${cur.host}; stop it there (Ctrl-C, or kill ${cur.pids.join(' ')})`);
        if (v['dry-run']) throw new UsageError(`--dry-run is for the ssh provider; this would stop the head pid ${cur.pids.join(', ')}`);
        return stopRecordedHead(cur.pids, Boolean(v.json), cur.cluster);
      }
      if (!cur.config) throw new Error(`the current cluster "${cur.cluster}" has no config recorded; give its CONFIG`);
      file = cur.config;
      stateDir ??= cur.stateDir;
    }
    const config = loadClusterConfig(file);
    if (config.provider.type === 'ssh') {
      const steps = sshDownPlan(config);
      if (v['dry-run']) {
        process.stdout.write(v.json ? JSON.stringify(steps) + '\n' : steps.map(formatStep).join('\n') + '\n');
        return 0;
      }
      await runSshPlan(steps, config, (l) => process.stderr.write(`cohort down: ${l}\n`));
      forgetCurrentCluster({ config: file });
      process.stdout.write(`cluster ${config.clusterName} stopped\n`);
      return 0;
    }
    if (v['dry-run']) throw new UsageError('--dry-run is for the ssh provider; the local provider stops the pids recorded by `cohort up`');
    const stopped = await localDown(config, stateDir);
    forgetCurrentCluster({ config: file });
    if (v.json) {
      process.stdout.write(JSON.stringify({ cluster: config.clusterName, stopped }) + '\n');
      return 0;
    }
    process.stdout.write(stopped.length ? `cluster ${config.clusterName} stopped (${stopped.length} processes)\n` : `cluster ${config.clusterName} is not up\n`);
    return 0;
  },
});
