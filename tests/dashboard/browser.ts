import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type BrowserContext } from 'playwright-core';

/** Where the Debian chromium package installs the browser (override with COHORT_CHROMIUM). */
export const CHROMIUM = process.env.COHORT_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Debian chromium for one test (closed at teardown). Fails
 * with an explanation when it is not installed: a browser test must never
 * pass without a browser.
 */
export async function launchChromium(t: ExecutionContext, userDataDir: string, viewport = { width: 1280, height: 1500 }): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does) or point COHORT_CHROMIUM at a chromium binary`);
  }
  // a persistent context is how playwright takes a --user-data-dir (a temp dir of the test)
  const browser = await chromium.launchPersistentContext(path.resolve(userDataDir), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  return browser;
}
