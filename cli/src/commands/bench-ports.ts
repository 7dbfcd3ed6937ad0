import { runPortJunkBench } from '@cohort/cluster/bench';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { commands } from '../registry.js';

commands.push({
  path: ['bench', 'ports'],
  summary: 'junk without credentials at every listening port of a local cluster: CPU seconds and RSS growth of each process',
  usage: `Usage: cohort bench ports [--mb N] [--cap-s S] [--json]

Starts a local cluster as \`cohort up\` does (nats-server, head with its dashboard,
one agent) with a cluster token, spawns one actor (a worker process), then throws
N MB of random bytes (default 100; at the bulk ports led by a 2 GB declared length)
at every TCP port each of these processes listens on, without credentials, opening
a new connection whenever the server closes one. Prints per port: MB the kernel
took, connections, CPU seconds and RSS before / peak of the process behind it
(Linux /proc), and a driver → actor call before and after (the cluster still serves).
--cap-s S gives up on a port after S seconds (default 60).`,
  async run(argv) {
    const { values: v } = parseFlags(argv, { mb: { type: 'string' }, 'cap-s': { type: 'string' }, json: { type: 'boolean' } }, false);
    const num = (name: string, s: string | undefined) => {
      if (s === undefined) return undefined;
      const x = Number(s);
      if (!(x > 0)) throw new UsageError(`--${name}: expected a number > 0, found ${s}`);
      return x;
    };
    const r = await runPortJunkBench({ mbPerPort: num('mb', v.mb), capSPerPort: num('cap-s', v['cap-s']), progress: (l) => process.stderr.write(`bench ports: ${l}\n`) });
    if (v.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
      return 0;
    }
    const head = ['process', 'port', 'address', 'MB sent', 'conns', 'CPU s', 'RSS MB before', 'peak', 'wall s'];
    const lines = r.rows.map((x) => [x.process, x.port, x.address, String(x.mb_sent), String(x.connections), x.cpu_s.toFixed(2), x.rss_before_mb.toFixed(0), x.rss_peak_mb.toFixed(0), x.wall_s.toFixed(1)]);
    const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    for (const l of [head, ...lines]) process.stdout.write(l.map((c, i) => c.padEnd(w[i])).join('  ') + '\n');
    process.stdout.write(`call driver → actor: ${r.call_before_ms} ms before the junk, ${r.call_after_ms} ms after; load ${r.load[0]} → ${r.load[1]}\n`);
    return 0;
  },
});
