// What helpers need of the running test, under both runners: Vitest's test context and Playwright
// Test's TestInfo both have skip(condition, note), which stops the test there and marks it skipped.
// Cleanups go through ./cleanup's after(), which works under both.
export interface TestContext {
  skip(condition: boolean, note?: string): void;
}
