/**
 * Loaded by runtime workers through `COHORT_ENDPOINT_SETUP` (set by a cluster
 * node agent): gives the worker's data plane the cluster token interceptors,
 * the bulk-socket token and TLS credentials from its environment.
 */
import type { EndpointExtras } from '@cohort/runtime';
import { endpointOptionsFromEnv } from './data-plane.js';

/** The runtime's `COHORT_ENDPOINT_SETUP` contract: data-plane extras for this worker. */
export function endpointOptions(): EndpointExtras {
  return endpointOptionsFromEnv(process.env);
}
