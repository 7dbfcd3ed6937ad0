import { randomBytes } from 'node:crypto';
import type { ActorHandle } from '../actor-handle.js';
import { InvalidOptionsError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { CollectiveError } from './errors.js';
import type { CollectivePeer, JoinMessage } from './group.js';
import { JOIN_OP } from './membership.js';

/** A group to form: its name and its members (rank = position). */
export interface CollectiveGroupSpec {
  name: string;
  members: ActorHandle<unknown>[];
  /** How long an operation waits for a peer's part before it fails (default 300000 ms). */
  timeoutMs?: number;
}

/** The formed group as the driver sees it. */
export interface CollectiveGroupInfo {
  name: string;
  id: string;
  world: number;
  peers: CollectivePeer[];
}

/**
 * Forms a collective group from live actors: tells each member its rank, the
 * world size and its peers (workers' data-plane addresses, node ids, handles).
 * Inside the actors, `collectiveGroup(name)` then runs the collectives.
 * Forming a group again under the same name replaces it. A member that
 * restarts gets a new address: form the group again.
 */
export async function createCollectiveGroup(rt: Runtime, spec: CollectiveGroupSpec): Promise<CollectiveGroupInfo> {
  if (!spec || typeof spec.name !== 'string' || spec.name.length === 0) throw new InvalidOptionsError('createCollectiveGroup: name must be a non-empty string');
  if (!Array.isArray(spec.members) || spec.members.length === 0) throw new InvalidOptionsError(`createCollectiveGroup "${spec.name}": members must be a non-empty array of actor handles`);
  const timeoutMs = spec.timeoutMs ?? 300_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new InvalidOptionsError(`createCollectiveGroup "${spec.name}": timeoutMs must be a positive number of milliseconds, got ${spec.timeoutMs}`);
  const ids = spec.members.map((h, i) => {
    if (!h || typeof h.$id !== 'string') throw new InvalidOptionsError(`createCollectiveGroup "${spec.name}": member ${i} is not an actor handle`);
    return h.$id;
  });
  if (new Set(ids).size !== ids.length) throw new InvalidOptionsError(`createCollectiveGroup "${spec.name}": an actor appears twice among the members`);
  await Promise.all(spec.members.map((h) => h.$ready()));
  const infos = await Promise.all(spec.members.map((h) => h.$info()));
  const peers: CollectivePeer[] = infos.map((info, rank) => {
    if (!info || info.state !== 'alive' || !info.address) throw new CollectiveError(`createCollectiveGroup "${spec.name}": member ${rank} (${ids[rank]}) is not alive (${info?.state ?? 'unknown'})`);
    return { rank, actorId: info.id, name: info.name, address: info.address, nodeId: info.nodeId };
  });
  const id = `${spec.name}#${randomBytes(6).toString('hex')}`;
  await Promise.all(
    peers.map((p) => {
      const join: JoinMessage = { name: spec.name, id, rank: p.rank, world: peers.length, peers, members: spec.members, timeoutMs };
      return rt.endpoint.request(p.address, JOIN_OP, join).catch((err: Error) => {
        throw new CollectiveError(`createCollectiveGroup "${spec.name}": member ${p.rank} (${p.name ?? p.actorId}) did not join: ${err.message}`);
      });
    }),
  );
  return { name: spec.name, id, world: peers.length, peers };
}
