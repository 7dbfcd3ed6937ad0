import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/**
 * The chaos harness: real training processes, faults by SIGKILL, and the
 * process table as the witness. Every process a chaos run starts inherits
 * `COHORT_CHAOS_RUN=<marker>`, so the harness finds (and counts) only its own
 * processes, whoever their parent is now; workers are found by the title
 * they set (`cohort-worker <actor name>`).
 */

export const BIN = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

/** A fresh marker for one chaos run. */
export function newMarker(): string {
  return `chaos-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Live processes (not zombies) whose environment carries `marker`, with their command lines. */
export function markedProcesses(marker: string): Array<{ pid: number; cmd: string }> {
  const needle = `COHORT_CHAOS_RUN=${marker}`;
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (!readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(needle)) continue;
      out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/**
 * The pid of the worker that hosts actor `name` in this chaos run, if one is up. The trainer
 * names its actors `<run>/<name>` and a replacement `<run>/<name>.rN`; both match.
 */
export function actorPid(marker: string, name: string): number | undefined {
  const re = new RegExp(`^cohort-worker ([^ /]+/)?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.r\\d+)?$`);
  return markedProcesses(marker).find((p) => re.test(p.cmd))?.pid;
}

export async function until<T>(f: () => T | undefined | false, timeoutMs: number, stepMs = 50): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** One SIGKILL of an actor's worker and how long until a new worker hosted it again. */
export interface FaultRecord {
  kind: string;
  target: string;
  atStep: number;
  pid: number;
  /** Seconds from the kill until a new process serves the actor (undefined: none within the wait). */
  recoveredS?: number;
}

/** Kills the worker of actor `name` (SIGKILL) and measures how long until another process hosts it. */
export async function killActor(marker: string, name: string, atStep: number, kind = name.replace(/-\d+$/, '')): Promise<FaultRecord | undefined> {
  const pid = await until(() => actorPid(marker, name), 20_000);
  if (!pid) return undefined;
  const t0 = performance.now();
  process.kill(pid, 'SIGKILL');
  const next = await until(() => {
    const p = actorPid(marker, name);
    return p && p !== pid ? p : undefined;
  }, 60_000);
  return { kind, target: name, atStep, pid, recoveredS: next ? +((performance.now() - t0) / 1000).toFixed(2) : undefined };
}

/** The parent pid of a process (its node agent, for a worker). */
export function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Kills the node agent that hosts actor `name` (SIGKILL; its workers die with it) and measures how long until the actor runs elsewhere. */
export async function killAgentOf(marker: string, name: string, atStep: number): Promise<FaultRecord | undefined> {
  const worker = await until(() => actorPid(marker, name), 20_000);
  if (!worker) return undefined;
  const agent = parentPid(worker);
  if (!markedProcesses(marker).some((p) => p.pid === agent)) return undefined; // not an agent of this run
  const t0 = performance.now();
  process.kill(agent, 'SIGKILL');
  const next = await until(() => {
    const p = actorPid(marker, name);
    return p && p !== worker && parentPid(p) !== agent ? p : undefined;
  }, 90_000);
  return { kind: 'agent', target: `agent of ${name}`, atStep, pid: agent, recoveredS: next ? +((performance.now() - t0) / 1000).toFixed(2) : undefined };
}

/** One metrics.jsonl line (the fields the chaos suite checks). */
export interface StepLine {
  step: number;
  trajectories: number;
  policyVersion: number;
  reward: number;
  responseLength: number;
  loss: { total: number };
  recovery?: { events?: unknown[]; learnerChecksums?: number[] };
}

export function readSteps(file: string): StepLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as StepLine];
      } catch {
        return []; // a line being written
      }
    });
}

/** A `cohort` process started by the harness, with the chaos marker in its environment. */
export interface Driver {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function startCohort(args: string[], marker: string, env: NodeJS.ProcessEnv = {}): Driver {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env, COHORT_CHAOS_RUN: marker }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The fields two runs of one seed must agree on, step by step. */
export function stepSignature(s: StepLine): string {
  return JSON.stringify([s.step, s.trajectories, s.policyVersion, s.reward, s.responseLength, s.loss.total]);
}
