import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { LogLine } from './data-source.js';

/** NATS subjects a head's dashboard answers on (request/reply, JSON). */
export function dashboardSubjects(cluster: string): { info: string; logs: string } {
  return { info: `cohort.${cluster}.dashboard.info`, logs: `cohort.${cluster}.dashboard.logs` };
}

/** What the dashboard answers on the info subject. */
export const DashboardInfoSchema = z.object({ url: z.string(), metricsUrl: z.string() });
export type DashboardInfo = z.infer<typeof DashboardInfoSchema>;

const LogReplySchema = z.object({
  actor: z.string(),
  lines: z.array(z.object({ time: z.number(), level: z.string(), actor: z.string(), node: z.string().optional(), msg: z.string() })),
});

/** Asks the cluster's dashboard where it serves; undefined when no dashboard answers within `timeoutMs`. */
export async function requestDashboardInfo(nc: NatsConnection, cluster: string, timeoutMs = 1500): Promise<DashboardInfo | undefined> {
  try {
    const r = await nc.request(dashboardSubjects(cluster).info, '', { timeout: timeoutMs });
    return DashboardInfoSchema.parse(r.json());
  } catch {
    return undefined;
  }
}

/** Asks the cluster's dashboard for the last `lines` log lines of an actor (name or id); undefined when no dashboard answers. */
export async function requestActorLogs(nc: NatsConnection, cluster: string, actor: string, lines: number, timeoutMs = 3000): Promise<LogLine[] | undefined> {
  let reply: unknown;
  try {
    reply = (await nc.request(dashboardSubjects(cluster).logs, JSON.stringify({ actor, lines }), { timeout: timeoutMs })).json();
  } catch {
    return undefined;
  }
  const r = LogReplySchema.safeParse(reply);
  if (!r.success) throw new Error(`the dashboard's log reply is malformed (${r.error.issues[0].message}); is the head the same Cohort version?`);
  return r.data.lines;
}
