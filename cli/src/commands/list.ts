import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';
import { fetchStatus, targetFlags } from './status.js';

const kinds = ['actors', 'nodes', 'placement-groups'] as const;

commands.push({
  path: ['list'],
  summary: 'list actors, nodes or placement groups of a cluster',
  usage: `Usage: cohort list actors|nodes|placement-groups [--address NATS_URL | --config FILE] [--token-file F] [--json]

The cluster: as for \`cohort status\` (without flags, the current cluster that \`cohort up\` recorded).`,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, targetFlags);
    const what = positionals[0] as (typeof kinds)[number] | undefined;
    if (positionals.length !== 1 || !what || !kinds.includes(what)) throw new UsageError(`expected one of ${kinds.join(', ')}${positionals.length ? `, found "${positionals.join(' ')}"` : ''}`);
    const s = await fetchStatus(v, 'list');
    const rows: unknown[] = what === 'actors' ? s.actors : what === 'nodes' ? s.nodes : s.placementGroups;
    if (v.json) {
      process.stdout.write(JSON.stringify(rows) + '\n');
      return 0;
    }
    const lines =
      what === 'actors'
        ? s.actors.map((a) => `${a.name}\t${a.state}\t${a.node ?? '-'}\t${a.className}${a.reason ? `\t${a.reason}` : ''}`)
        : what === 'nodes'
          ? s.nodes.map((n) => `${n.id}\t${n.state}\t${JSON.stringify(n.resources.total)}\tused ${JSON.stringify(n.resources.used)}`)
          : s.placementGroups.map((g) => `${g.name ?? g.id}\t${g.strategy}\t${g.state}\t${(g.bundleNodes ?? []).join(',')}`);
    process.stdout.write((lines.length ? lines.join('\n') : `no ${what}`) + '\n');
    return 0;
  },
});
