import { existsSync } from 'node:fs';
import path from 'node:path';
import { headNatsPort, loadClusterConfig, localStateDir, localUp, recordCurrentCluster, sshDownPlan, sshUpPlan, sshNatsUrl, formatStep, runSshPlan } from '@cohort/cluster';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

commands.push({
  path: ['up'],
  summary: 'start a cluster from a config (providers: local, ssh)',
  usage: `Usage: cohort up CONFIG [--dry-run] [--state-dir DIR] [--timeout SECONDS] [--json]

local provider: starts a nats-server, the head and one agent process per node on this
machine, detached, and records pids, ports, token and logs in the state dir
(default ~/.cohort/clusters/<clusterName>). Waits until every node is alive.
ssh provider: runs the setup commands on every host, then the head, then the agents (side by
side), each step returning once its process is ready; on a failure it stops what started.
--dry-run prints every command (ssh) or process (local) without running anything.
The cluster started becomes the current cluster: \`cohort status\`, \`list\`, \`logs\`,
\`down\` and \`train --address auto\` use it when given no address (recorded in
~/.cohort/current-cluster.json, or $XDG_STATE_HOME/cohort/ when that is set).`,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, { 'dry-run': { type: 'boolean' }, 'state-dir': { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('give exactly one CONFIG file, e.g. cohort up configs/cluster/local.yaml');
    const file = positionals[0];
    const config = loadClusterConfig(file);
    const timeoutMs = v.timeout ? Number(v.timeout) * 1000 : undefined;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError(`--timeout: expected seconds > 0, found ${v.timeout}`);
    if (config.provider.type === 'ssh') {
      const steps = sshUpPlan(config, file);
      if (v['dry-run']) {
        process.stdout.write(v.json ? JSON.stringify(steps) + '\n' : steps.map(formatStep).join('\n') + '\n');
        return 0;
      }
      try {
        await runSshPlan(steps, config, (l) => process.stderr.write(`cohort up: ${l}\n`));
      } catch (err) {
        // stop what did start, so a retry does not find half a cluster
        process.stderr.write(`cohort up: ${(err as Error).message}; stopping what started\n`);
        await runSshPlan(sshDownPlan(config), config).catch(() => undefined);
        throw err;
      }
      const tokenFile = config.security.tokenFile ? path.resolve(config.security.tokenFile) : undefined;
      recordCurrentCluster({ cluster: config.clusterName, address: sshNatsUrl(config), startedBy: 'up-ssh', config: path.resolve(file), tokenFile });
      process.stdout.write(`cluster ${config.clusterName} started on ${config.provider.hosts.join(', ')}\n`);
      return 0;
    }
    if (v['dry-run']) {
      const nodes = Object.entries(config.nodeTypes).flatMap(([t, nt]) => Array.from({ length: nt.count }, (_, i) => `${config.clusterName}-${t}-${i}`));
      process.stdout.write([config.head.nats.url ? `# use nats at ${config.head.nats.url}` : `nats-server -a ${config.bind} -p ${headNatsPort(config) || 'any'} -js`, `cohort start --head --config ${file}`, ...nodes.map((n) => `cohort start --address NATS_URL --config ${file} --node-id ${n}`)].join('\n') + '\n');
      return 0;
    }
    const state = await localUp({ configPath: file, config, stateDir: v['state-dir'], timeoutMs, progress: (l) => process.stderr.write(`cohort up: ${l}\n`) });
    const stateDir = localStateDir(config, v['state-dir']);
    const tokenFile = path.join(stateDir, 'token');
    recordCurrentCluster({
      cluster: config.clusterName,
      address: state.natsUrl,
      startedBy: 'up-local',
      config: path.resolve(file),
      stateDir,
      tokenFile: existsSync(tokenFile) ? tokenFile : config.security.tokenFile && path.resolve(config.security.tokenFile),
      pids: state.processes.map((p) => p.pid),
    });
    process.stdout.write(v.json ? JSON.stringify(state) + '\n' : `cluster ${config.clusterName} is up at ${state.natsUrl} (${state.processes.filter((p) => p.role === 'agent').length} agents)\n`);
    return 0;
  },
});
