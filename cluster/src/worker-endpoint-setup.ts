/**
 * Loaded by runtime workers through `COHORT_ENDPOINT_SETUP` (set by a cluster
 * node agent): gives the worker's data plane the cluster token interceptors,
 * the bulk-socket token and TLS credentials from its environment.
 */
import type { Endpoint, EndpointExtras } from '@cohort/runtime';
import { AGENT_HEAD_ADDRESS, endpointOptionsFromEnv } from './data-plane.js';

const agentAddress = process.env.COHORT_AGENT_ADDRESS;

/** The runtime's `COHORT_ENDPOINT_SETUP` contract: data-plane extras for this worker. */
export function endpointOptions(): EndpointExtras {
  return endpointOptionsFromEnv(process.env);
}

/**
 * The runtime's re-resolve hook: when the head's connection breaks, ask this
 * worker's node agent (which follows the head over NATS discovery) where the
 * head is now.
 */
export async function resolveControlAddress(_current: string, endpoint: Endpoint): Promise<string | undefined> {
  if (!agentAddress) return undefined;
  const r = (await endpoint.request(agentAddress, AGENT_HEAD_ADDRESS, null)) as { grpcAddress?: string } | null;
  return r?.grpcAddress;
}
