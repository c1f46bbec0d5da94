// Cleanups for the worlds tests start, the same under both runners (Vitest for unit and integration,
// Playwright Test for e2e): `after(fn)` inside a test runs fn when that test ends, however it ends
// (passed, failed, skipped); outside a test (a beforeAll, a helper run at a file's top level) when
// the file ends. The runners mark the ends: test/helpers/vitest-setup.ts and test/e2e/fixtures.ts.
// First registered, first run, as node:test ran its after hooks (the tests were written for that).
type Cleanup = () => unknown;

let testScope: Cleanup[] | null = null;
let fileScope: Cleanup[] = [];

export function after(fn: Cleanup): void {
  (testScope ?? fileScope).push(fn);
}

export function testStarted(): void {
  testScope = [];
}

export async function testEnded(): Promise<void> {
  const fns = testScope ?? [];
  testScope = null;
  await runAll(fns);
}

export async function fileEnded(): Promise<void> {
  const fns = fileScope;
  fileScope = [];
  await runAll(fns);
}

/** Every cleanup runs even when one throws; the first error is reported after all have run. */
async function runAll(fns: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const fn of fns) {
    try {
      await fn();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
}
