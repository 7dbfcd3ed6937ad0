import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { headNatsPort, resolveToken, type ClusterConfig } from '../cluster-config.js';

/** One remote command of an ssh plan. */
export interface SshStep {
  /** What the step does, e.g. `setup 1/2`, `head`, `agent zerosearch-rollout-0`. */
  label: string;
  /**
   * Steps of one phase run side by side (`runSshPlan`), phases in order:
   * `setup` (in order on each host, hosts side by side), `head`, `agents`,
   * then for `down` `stop-agents` and `stop-head`.
   */
  phase: 'setup' | 'head' | 'agents' | 'stop-agents' | 'stop-head';
  host: string;
  /** Shell command run on the host (through `bash -lc`). */
  remote: string;
  /** The full local argv: `ssh ... USER@HOST -- "bash -lc '...'"` (the last element is one word for the remote shell). */
  argv: string[];
  /** True when the cluster token is written to the command's stdin (never on a command line). */
  tokenOnStdin: boolean;
}

/** Quotes a string for a POSIX shell. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function sshArgv(config: ClusterConfig, host: string, remote: string): string[] {
  if (config.provider.type !== 'ssh') throw new Error('ssh plan: provider.type is not "ssh"');
  const p = config.provider;
  const argv = ['ssh', '-p', String(p.sshPort)];
  if (p.sshKey) argv.push('-i', p.sshKey.replace(/^~(?=\/|$)/, homedir()));
  for (const o of p.sshOptions) argv.push('-o', o);
  // ssh joins its remote words with spaces for the remote shell: pass one pre-quoted word.
  argv.push(`${p.user}@${host}`, '--', `bash -lc ${shQuote(remote)}`);
  return argv;
}

/** Which host runs each agent: the node type's `hosts`, else provider hosts in turn. */
export function sshNodes(config: ClusterConfig): Array<{ nodeId: string; nodeType: string; host: string }> {
  if (config.provider.type !== 'ssh') throw new Error('ssh plan: provider.type is not "ssh"');
  const hosts = config.provider.hosts;
  const out: Array<{ nodeId: string; nodeType: string; host: string }> = [];
  let next = 0;
  for (const [t, nt] of Object.entries(config.nodeTypes)) {
    for (let i = 0; i < nt.count; i++) out.push({ nodeId: `${config.clusterName}-${t}-${i}`, nodeType: t, host: nt.hosts?.[i] ?? hosts[next++ % hosts.length] });
  }
  return out;
}

/** The NATS URL of an ssh cluster: the config's `head.nats.url`, else the head host and the managed server's port. */
export function sshNatsUrl(config: ClusterConfig): string {
  if (config.provider.type !== 'ssh') throw new Error('ssh plan: provider.type is not "ssh"');
  return config.head.nats.url ?? `nats://${config.head.host ?? config.provider.hosts[0]}:${headNatsPort(config)}`;
}

/** The directory on each host for pid files, logs and the head's NATS store (a shell word; `~/` stays unquoted). */
function remoteRunDir(config: ClusterConfig): string {
  const dir = (config.provider.type === 'ssh' && config.provider.stateDir) || `~/.cohort/${config.clusterName}`;
  return dir.startsWith('~/') ? `~/${shQuote(dir.slice(2))}` : shQuote(dir);
}

/** How long a remote step waits for its process's "ready" line (seconds). */
export const SSH_READY_TIMEOUT_S = 60;

/**
 * The commands `cohort up` runs with the ssh provider, in order: setup
 * commands on every host, then the head (which starts the managed
 * nats-server), then one agent per node. Each process runs under nohup with a
 * pid file and a log in the run dir (`provider.stateDir`, default
 * `~/.cohort/<cluster>/`) so `down` can stop it; each step returns once its
 * process printed its "ready" line (the agents need the head's NATS), or fails
 * with the last lines of its log when the process exits or stays silent.
 */
export function sshUpPlan(config: ClusterConfig, configPath: string): SshStep[] {
  if (config.provider.type !== 'ssh') throw new Error('ssh plan: provider.type is not "ssh"');
  const p = config.provider;
  const headHost = config.head.host ?? p.hosts[0];
  const hosts = [...new Set(p.hosts)];
  const run = remoteRunDir(config);
  const cd = `cd ${p.workdir.startsWith('~/') ? `~/${shQuote(p.workdir.slice(2))}` : shQuote(p.workdir)}`;
  const token = config.security.natsCreds === undefined || resolveTokenSafe(config) !== undefined;
  const readToken = token ? 'IFS= read -r COHORT_TOKEN && export COHORT_TOKEN && ' : '';
  const steps: SshStep[] = [];
  hosts.forEach((host) =>
    config.setupCommands.forEach((cmd, i) => steps.push({ label: `setup ${i + 1}/${config.setupCommands.length}`, phase: 'setup', host, remote: cmd, argv: sshArgv(config, host, cmd), tokenOnStdin: false })),
  );
  const natsUrl = sshNatsUrl(config);
  const daemon = (name: string, args: string) => {
    const log = `${run}/${name}.log`;
    const wait =
      `pid=$(cat ${run}/${name}.pid); i=0; while [ $i -lt ${SSH_READY_TIMEOUT_S * 10} ]; do ` +
      `grep -q "ready: " ${log} && exit 0; ` +
      `kill -0 $pid 2>/dev/null || { echo "${name} exited during start-up; last lines of its log:" >&2; tail -n 20 ${log} >&2; exit 1; }; ` +
      `sleep 0.1; i=$((i+1)); done; echo "${name} not ready after ${SSH_READY_TIMEOUT_S} s; see ${log}" >&2; exit 1`;
    return `mkdir -p ${run} && ${cd} && ${readToken}{ nohup ${p.cohortCommand} ${args} > ${log} 2>&1 < /dev/null & echo $! > ${run}/${name}.pid; } && ${wait}`;
  };
  // Each process binds the config's `bind` (e.g. 0.0.0.0) and advertises its host's address, so peers on other hosts can dial it.
  // --no-record: the launcher records the cluster as current on the machine that ran `cohort up`, not the head host.
  const headArgs = ['start', '--head', '--no-record', '--config', shQuote(configPath), '--bind', shQuote(config.bind), '--advertise', shQuote(headHost), '--nats-dir', `${run}/nats`, ...(config.head.nats.url ? ['--address', natsUrl] : [])].join(' ');
  const headRemote = daemon('head', headArgs);
  steps.push({ label: 'head', phase: 'head', host: headHost, remote: headRemote, argv: sshArgv(config, headHost, headRemote), tokenOnStdin: token });
  const nodes = sshNodes(config);
  if (config.head.nodeType) nodes.unshift({ nodeId: `${config.clusterName}-head`, nodeType: config.head.nodeType, host: headHost });
  for (const n of nodes) {
    const remote = daemon(`agent-${n.nodeId}`, ['start', '--address', natsUrl, '--config', shQuote(configPath), '--bind', shQuote(config.bind), '--advertise', shQuote(n.host), '--node-type', n.nodeType, '--node-id', n.nodeId].join(' '));
    steps.push({ label: `agent ${n.nodeId}`, phase: 'agents', host: n.host, remote, argv: sshArgv(config, n.host, remote), tokenOnStdin: token });
  }
  return steps;
}

function resolveTokenSafe(config: ClusterConfig): string | undefined {
  try {
    return resolveToken(config.security);
  } catch {
    return undefined;
  }
}

/** How long `down` waits for processes to leave after SIGTERM before SIGKILL (seconds). */
export const SSH_STOP_TIMEOUT_S = 10;

/**
 * The commands `cohort down` runs with the ssh provider: the agents first
 * (SIGTERM: they leave the cluster and stop their workers), waiting until they
 * have exited (SIGKILL after a timeout), then the head the same way (it stops
 * its managed nats-server).
 */
export function sshDownPlan(config: ClusterConfig): SshStep[] {
  if (config.provider.type !== 'ssh') throw new Error('ssh plan: provider.type is not "ssh"');
  const headHost = config.head.host ?? config.provider.hosts[0];
  const run = remoteRunDir(config);
  const stop = (glob: string) =>
    `pids=; for f in ${run}/${glob}.pid; do [ -f "$f" ] && pids="$pids $(cat "$f")"; done; ` +
    `[ -z "$pids" ] && exit 0; kill $pids 2>/dev/null; i=0; while [ $i -lt ${SSH_STOP_TIMEOUT_S * 10} ]; do alive=; ` +
    `for p in $pids; do kill -0 $p 2>/dev/null && alive="$alive $p"; done; [ -z "$alive" ] && break; sleep 0.1; i=$((i+1)); done; ` +
    `[ -n "$alive" ] && { echo "still running after ${SSH_STOP_TIMEOUT_S} s, killed:$alive" >&2; kill -9 $alive 2>/dev/null; }; rm -f ${run}/${glob}.pid; true`;
  const agentHosts = [...new Set(sshNodes(config).map((n) => n.host).concat(config.head.nodeType ? [headHost] : []))];
  const steps: SshStep[] = agentHosts.map((host) => ({ label: 'stop agents', phase: 'stop-agents', host, remote: stop('agent-*'), argv: sshArgv(config, host, stop('agent-*')), tokenOnStdin: false }));
  steps.push({ label: 'stop head', phase: 'stop-head', host: headHost, remote: stop('head'), argv: sshArgv(config, headHost, stop('head')), tokenOnStdin: false });
  return steps;
}

/** Renders a step for `--dry-run`: the exact argv, shell-quoted. */
export function formatStep(s: SshStep): string {
  return `# ${s.label} on ${s.host}${s.tokenOnStdin ? ' (cluster token on stdin)' : ''}\n${s.argv.map(shQuote).join(' ')}`;
}

function runStep(s: SshStep, token: string | undefined): Promise<void> {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(s.argv[0], s.argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (c) => resolve({ code: c, stderr }));
    child.stdin.end(s.tokenOnStdin ? `${token ?? ''}\n` : '');
  }).then((r) => {
    if (r.code !== 0) throw new Error(`${s.label} on ${s.host} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
  });
}

/**
 * Runs a plan with the `ssh` binary, phase by phase: the steps of a phase side
 * by side (setup steps in order on each host), the next phase once all of them
 * succeeded. The first failure (with its step and the last lines of its
 * stderr) is thrown after the rest of its phase has finished.
 */
export async function runSshPlan(steps: SshStep[], config: ClusterConfig, progress: (line: string) => void = () => undefined): Promise<void> {
  const token = steps.some((s) => s.tokenOnStdin) ? resolveToken(config.security) : undefined;
  const phases: SshStep[][] = [];
  for (const s of steps) {
    if (phases.at(-1)?.[0].phase === s.phase) phases.at(-1)!.push(s);
    else phases.push([s]);
  }
  for (const phase of phases) {
    // chains: one per host for setup (its commands in order), one per step otherwise
    const byHost = new Map<string, SshStep[]>();
    for (const s of phase) byHost.set(s.host, [...(byHost.get(s.host) ?? []), s]);
    const chains = phase[0].phase === 'setup' ? [...byHost.values()] : phase.map((s) => [s]);
    const results = await Promise.allSettled(
      chains.map(async (chain) => {
        for (const s of chain) {
          progress(`${s.label} on ${s.host}`);
          await runStep(s, token);
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
