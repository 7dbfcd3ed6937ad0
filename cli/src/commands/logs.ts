import { ClusterStateStore, connectTarget, logSubject, readLocalState, localStateDir, resolveClusterName } from '@cohort/cluster';
import { FileTail, parseActorLogLine, requestActorLogs, type LogLine } from '@cohort/dashboard';
import { parseFlags } from '../args.js';
import { UsageError } from '../command.js';
import { colorEnabled, paint, type Colour } from '../progress.js';
import { commands } from '../registry.js';
import { commandTarget, targetFlags } from './status.js';

const usage = `Usage: cohort logs ACTOR [--follow] [--lines N] [--json] [--address NATS_URL | --config FILE] [--token-file F] [--cluster NAME]

Prints the last log lines of an actor (by name or id), then with --follow keeps
printing new lines as its workers write them, on any node, until Ctrl-C.
Past lines come from the head's dashboard (it keeps the last 500 per actor), or
for a cluster started with \`cohort up CONFIG\` from the node agents' log
files on this machine. Without --address/--config: the current cluster (as for
\`cohort status\`). New lines come from the cluster's log subject on NATS.
--lines N   how many past lines (default 100; 0 for none)
--json      one JSON object per line: {time, level, actor, node, msg}
Exit codes: 0 done (or stopped with Ctrl-C), 1 error, 2 usage, 3 cluster unreachable,
4 no such actor.`;

const LEVEL_COLOUR: Record<string, Colour> = { trace: 'gray', debug: 'gray', info: 'green', warn: 'yellow', error: 'red', fatal: 'red' };

/** Raised when the named actor is not in the cluster's directory (exit code 4). */
export class NoSuchActorError extends Error {
  override readonly name = 'NoSuchActorError';
  readonly exitCode = 4;
}

function formatter(json: boolean): (l: LogLine) => string {
  if (json) return (l) => JSON.stringify(l);
  const c = paint(colorEnabled(process.stdout));
  return (l) => {
    const ts = new Date(l.time).toISOString().replace('T', ' ').slice(0, 23);
    return `${c('gray', ts)} ${c(LEVEL_COLOUR[l.level] ?? 'blue', l.level.toUpperCase().padEnd(5))} ${c('cyan', `[${l.actor}${l.node ? `@${l.node}` : ''}]`)} ${l.msg}`;
  };
}

commands.push({
  path: ['logs'],
  summary: 'print (and --follow) the log of an actor',
  usage,
  async run(argv) {
    const { values: v, positionals } = parseFlags(argv, { ...targetFlags, follow: { type: 'boolean', short: 'f' }, lines: { type: 'string', short: 'n' } });
    if (positionals.length !== 1) throw new UsageError(positionals.length ? `expected one actor, found ${positionals.length}: ${positionals.join(' ')}` : 'name the actor (see `cohort list actors`)');
    const actor = positionals[0];
    const lines = v.lines === undefined ? 100 : Number(v.lines);
    if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`--lines: expected a whole number ≥ 0, found "${v.lines}"`);
    const target = commandTarget('logs', v);
    const nc = await connectTarget(target, 'cohort logs');
    try {
      const cluster = await resolveClusterName(nc, target.cluster);
      const store = await ClusterStateStore.open(nc, { cluster });
      // the actor's name and id (lines carry the name, or the id when unnamed)
      const byId = await store.actors.get(actor).catch(() => undefined);
      const rec = byId?.value ?? [...(await store.actors.list()).values()].map((x) => x.value).find((a) => a.name === actor);
      if (!rec) throw new NoSuchActorError(`no actor named "${actor}" in cluster ${cluster}; see \`cohort list actors\``);
      const keys = new Set([rec.id, rec.name ?? rec.id]);
      const out = formatter(Boolean(v.json));
      const print = (l: LogLine) => process.stdout.write(out(l) + '\n');

      let past: LogLine[] | undefined;
      if (lines > 0) {
        past = await requestActorLogs(nc, cluster, rec.name ?? rec.id, lines);
        if (past === undefined && target.config?.provider.type === 'local') {
          const state = readLocalState(localStateDir(target.config, target.stateDir));
          const files = (state?.processes ?? []).filter((p) => p.role === 'agent' && p.log);
          past = files
            .flatMap((p) => new FileTail(p.log!).read().map((line) => parseActorLogLine(line, p.id)))
            .filter((l): l is LogLine => l !== undefined && keys.has(l.actor))
            .sort((a, b) => a.time - b.time)
            .slice(-lines);
        }
        if (past === undefined) process.stderr.write(`cohort logs: no dashboard answered for cluster ${cluster} (the head keeps past lines); ${v.follow ? 'following new lines only' : 'nothing to show; use --follow for new lines'}\n`);
        for (const l of past ?? []) print(l);
      }
      if (!v.follow) return 0;
      const sub = nc.subscribe(logSubject(cluster));
      const stop = () => sub.unsubscribe();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      for await (const m of sub) {
        try {
          const l = m.json<LogLine>();
          if (l && keys.has(l.actor)) print(l);
        } catch {
          /* not a log line */
        }
      }
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      return 0;
    } finally {
      await nc.close().catch(() => undefined);
    }
  },
});
