// Playwright Test runs the e2e tests (test/e2e) in Debian's Chromium: Playwright's own browser
// download cannot work on these machines, so no browser is ever downloaded. The launch arguments are
// test/helpers/browser.ts's (launchChromium, which the tests use); `use` gives the same to the
// built-in browser fixture. A failed test keeps its trace in test-results/ (gitignored).
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/helpers/browser';

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.test.ts',
  outputDir: 'test-results',
  // each test starts agents, control planes and a browser: two at once is what 2 cores take
  workers: 2,
  fullyParallel: false,
  forbidOnly: process.env.CI === 'true',
  retries: 0,
  timeout: 300_000,
  reporter: 'list',
  use: {
    trace: 'retain-on-failure',
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
});
