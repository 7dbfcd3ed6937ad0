import { loadClusterConfig, localDown, sshDownPlan, formatStep, runSshPlan } from '@cohort/cluster';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

commands.push({
  path: ['down'],
  summary: 'stop a cluster started with `cohort up`',
  usage: `Usage: cohort down CONFIG [--dry-run] [--state-dir DIR] [--json]

Stops the agents (they leave cleanly), then the head, then the nats-server.`,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, { 'dry-run': { type: 'boolean' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('give exactly one CONFIG file, e.g. cohort down configs/cluster/local.yaml');
    const config = loadClusterConfig(positionals[0]);
    if (config.provider.type === 'ssh') {
      const steps = sshDownPlan(config);
      if (v['dry-run']) {
        process.stdout.write(v.json ? JSON.stringify(steps) + '\n' : steps.map(formatStep).join('\n') + '\n');
        return 0;
      }
      await runSshPlan(steps, config, (l) => process.stderr.write(`cohort down: ${l}\n`));
      process.stdout.write(`cluster ${config.clusterName} stopped\n`);
      return 0;
    }
    if (v['dry-run']) throw new UsageError('--dry-run is for the ssh provider; the local provider stops the pids recorded by `cohort up`');
    const stopped = await localDown(config, v['state-dir']);
    if (v.json) {
      process.stdout.write(JSON.stringify({ cluster: config.clusterName, stopped }) + '\n');
      return 0;
    }
    process.stdout.write(stopped.length ? `cluster ${config.clusterName} stopped (${stopped.length} processes)\n` : `cluster ${config.clusterName} is not up\n`);
    return 0;
  },
});
