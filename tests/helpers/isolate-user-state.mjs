// Loaded by ava before each test file (package.json "ava.require"): the
// per-user record of the current cluster (`cohort up` / `cohort start --head`)
// goes to a temp file of this test process, never to the user's
// ~/.cohort/current-cluster.json, and test files never see each other's.
// CLI processes a test spawns inherit it through the environment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

if (!process.env.COHORT_CURRENT_CLUSTER) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-user-state-'));
  process.env.COHORT_CURRENT_CLUSTER = path.join(dir, 'current-cluster.json');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}
