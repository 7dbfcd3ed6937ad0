// The conformance suite (suite.ts), unchanged, against a two-agent cluster
// through connect(): real nats-server, head and node agents (one cluster for the file).
import { conformanceSuite } from './suite.js';
import { clusterProvider } from './provider.js';

conformanceSuite(clusterProvider);
