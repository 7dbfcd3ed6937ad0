// The conformance suite (suite.ts) against a local runtime: init().
import { conformanceSuite } from './suite.js';
import { localProvider } from './provider.js';

conformanceSuite(localProvider);
