import { ClusterStateStore, connectTarget, formatClusterStatus, readClusterStatus, resolveClusterName, resolveClusterTarget, targetNote, type ClusterTarget, type ClusterTargetInput } from '@cohort/cluster';
import { requestDashboardInfo } from '@cohort/dashboard';
import { parseFlags } from '../args.js';
import { commands } from '../registry.js';

/** Flags shared by the commands that read a running cluster. */
export const targetFlags = {
  address: { type: 'string' },
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  'token-file': { type: 'string' },
  cluster: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The target flags of a cluster command, as given. */
export type TargetFlagValues = { address?: string; config?: string; 'state-dir'?: string; 'token-file'?: string; cluster?: string };

/**
 * Resolves the cluster a command talks to from its flags (else COHORT_ADDRESS,
 * else the current cluster that `cohort up` / `cohort start --head` recorded)
 * and, when it is the current cluster, says so on stderr.
 */
export function commandTarget(command: string, v: TargetFlagValues, extra: Partial<ClusterTargetInput> = {}): ClusterTarget {
  const target = resolveClusterTarget({ address: v.address, config: v.config, stateDir: v['state-dir'], tokenFile: v['token-file'], cluster: v.cluster, ...extra });
  const note = targetNote(target);
  if (note) process.stderr.write(`cohort ${command}: ${note}\n`);
  return target;
}

/** Connects to the cluster named by the flags and reads its status from KV. */
export async function fetchStatus(v: TargetFlagValues, command = 'status') {
  const target = commandTarget(command, v);
  const nc = await connectTarget(target, `cohort ${command}`);
  try {
    const cluster = await resolveClusterName(nc, target.cluster);
    const store = await ClusterStateStore.open(nc, { cluster });
    const [status, dashboard] = await Promise.all([readClusterStatus(store, cluster), requestDashboardInfo(nc, cluster)]);
    return { ...status, dashboard_url: dashboard?.url ?? null };
  } finally {
    await nc.close();
  }
}

commands.push({
  path: ['status'],
  summary: 'nodes, resources used and free, actors by state, pending demands',
  usage: `Usage: cohort status [--address NATS_URL | --config FILE] [--token-file F] [--cluster NAME] [--json]

The address comes from --address, COHORT_ADDRESS, or --config (a cluster started with
\`cohort up\`); without any of them, from the current cluster: the one \`cohort up\` or
\`cohort start --head\` last started as this user on this machine (stderr says which).
The token comes from --token-file, COHORT_TOKEN, the config, or the current cluster's token file.
--json prints {cluster, head, nodes: [{id, alive, resources: {total, used, free}}],
actors: [{name, state, node}], placementGroups, pending: [{kind, id, reason}],
dashboard_url} (dashboard_url: the head's dashboard, null when it serves none).`,
  async run(argv) {
    const { values: v } = parseFlags(argv, targetFlags, false);
    const s = await fetchStatus(v);
    process.stdout.write(v.json ? JSON.stringify(s) + '\n' : formatClusterStatus(s) + (s.dashboard_url ? `\n\nDashboard: ${s.dashboard_url} (Prometheus ${s.dashboard_url}/metrics)` : '') + '\n');
    return 0;
  },
});
