// Playwright Test for the e2e tests: its `test` and `expect`, plus the ends of the cleanup scopes
// of test/helpers/cleanup.ts (an automatic fixture around every test, and one around the worker).
import { test as base } from '@playwright/test';
import { fileEnded, testEnded, testStarted } from '../helpers/cleanup';

export { expect } from '@playwright/test';

export const test = base.extend<{ cleanups: void }, { fileCleanups: void }>({
  // (Playwright reads the fixtures a function takes from its first parameter: hence the empty {})
  cleanups: [
    async ({}, use) => {
      testStarted();
      await use();
      await testEnded();
    },
    { auto: true },
  ],
  fileCleanups: [
    async ({}, use) => {
      await use();
      await fileEnded();
    },
    { auto: true, scope: 'worker' },
  ],
});
