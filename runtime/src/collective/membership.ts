import { actorContext, inActor } from '../actor-context.js';
import type { Endpoint } from '../transport/endpoint.js';
import { CollectiveError } from './errors.js';
import { CollectiveGroup, type JoinMessage } from './group.js';
import { Mailbox, type CollectiveMessage } from './mailbox.js';

/** Request operations a worker serves for collectives. */
export const JOIN_OP = 'coll.join';
export const SEND_OP = 'coll.send';

interface State {
  ep: Endpoint;
  mailbox: Mailbox;
  groups: Map<string, CollectiveGroup>;
}

let state: State | undefined;

/** Groups are kept per member actor (a shared worker process may host several). */
const groupKey = (actorId: string, name: string) => `${actorId}\u0000${name}`;

/**
 * @internal Called once by the worker process: serves group joins from the
 * driver and point-to-point messages from peers on this process's data plane.
 */
export function installCollectives(ep: Endpoint): void {
  const st: State = { ep, mailbox: new Mailbox(), groups: new Map() };
  state = st;
  ep.handle(JOIN_OP, (body) => {
    const j = body as JoinMessage;
    const key = groupKey(j.peers[j.rank].actorId, j.name);
    const old = st.groups.get(key);
    if (old) st.mailbox.dropGroup(old.id);
    st.groups.set(key, new CollectiveGroup(ep, st.mailbox, j));
    return j.rank;
  });
  ep.handle(SEND_OP, (body) => {
    st.mailbox.put(body as CollectiveMessage);
    return 1;
  });
  ep.onChannelClose((ch, err) => st.mailbox.failFrom(ch.peerAddress, err));
}

/**
 * The collective group `name` this actor belongs to (formed by the driver with
 * `createCollectiveGroup`). Only inside actors.
 */
export function collectiveGroup(name: string): CollectiveGroup {
  if (!state) throw new CollectiveError('collectiveGroup() works inside actors only; the driver forms groups with createCollectiveGroup(runtime, { name, members })');
  const me = inActor() ? actorContext().actorId : '';
  const g = state.groups.get(groupKey(me, name));
  if (!g) {
    const known = [...state.groups.keys()].filter((k) => k.startsWith(groupKey(me, ''))).map((k) => k.slice(groupKey(me, '').length));
    throw new CollectiveError(`this actor is not a member of collective group "${name}" (its groups: ${known.length ? known.map((k) => `"${k}"`).join(', ') : 'none'}); form it in the driver with createCollectiveGroup(runtime, { name: "${name}", members })`);
  }
  return g;
}

/** True when this actor belongs to the group `name`. */
export function inCollectiveGroup(name: string): boolean {
  return state?.groups.has(groupKey(inActor() ? actorContext().actorId : '', name)) ?? false;
}
