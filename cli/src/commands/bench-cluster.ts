import { runClusterBench } from '@cohort/cluster/bench';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

commands.push({
  path: ['bench', 'cluster'],
  summary: 'cluster benchmark: calls, transfer, placement groups and actor start rate across two local node agents',
  usage: `Usage: cohort bench cluster [--actors N] [--cold-actors K] [--per-process P] [--transfer-mib M] [--scale S] [--json]

Starts a nats-server, a head and two node agents on this machine, attaches a driver
with connect(), and measures (same run, local-mode figures beside them):
  1:1 sync/async calls, 1:n calls over 2 nodes, actor→actor transfer across nodes,
  placement group create+ready+remove, N small actors spawned at once until all answer
  (--actors, default 1000; process: 'shared', P per worker process, --per-process,
  default 250) beside K actors each in a fresh worker process (--cold-actors, default 8;
  the same-run baseline), one actor's start time from a pooled worker vs a fresh
  process, and 1,000 createActor requests through the control plane.`,
  async run(argv) {
    const { values: v } = parseFlags(argv, { actors: { type: 'string' }, 'cold-actors': { type: 'string' }, 'per-process': { type: 'string' }, 'transfer-mib': { type: 'string' }, scale: { type: 'string' }, json: { type: 'boolean' } }, false);
    const num = (name: string, s: string | undefined) => {
      if (s === undefined) return undefined;
      const x = Number(s);
      if (!(x > 0)) throw new UsageError(`--${name}: expected a number > 0, found ${s}`);
      return x;
    };
    const mib = num('transfer-mib', v['transfer-mib']);
    const r = await runClusterBench({
      actors: num('actors', v.actors),
      coldActors: num('cold-actors', v['cold-actors']),
      sharedActorsPerProcess: num('per-process', v['per-process']),
      transferBytes: mib ? Math.round(mib * 2 ** 20 / 4) * 4 : undefined,
      scale: num('scale', v.scale),
      progress: (l) => process.stderr.write(`bench cluster: ${l}\n`),
    });
    if (v.json) process.stdout.write(JSON.stringify(r) + '\n');
    else for (const [k, val] of Object.entries(r)) if (k !== 'params') process.stdout.write(`${k.padEnd(40)} ${val}\n`);
    return 0;
  },
});
