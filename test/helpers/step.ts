// One step of a longer test that shares its world with the steps around it (node:test's subtests,
// Playwright Test's test.step): steps run in order, a failure names the step it happened in, and a
// step can skip itself (t.skip(true, why), as helpers such as requireProgram do) without skipping
// the steps after it.
import type { TestContext } from './test-context';

class StepSkipped extends Error {}

export async function step(name: string, fn: (t: TestContext) => unknown): Promise<void> {
  const t: TestContext = {
    skip(condition, note) {
      if (condition) throw new StepSkipped(note ?? 'skipped');
    },
  };
  try {
    await fn(t);
  } catch (e) {
    if (e instanceof StepSkipped) {
      process.stderr.write(`step skipped: ${name}: ${e.message}\n`);
      return;
    }
    if (e instanceof Error && !e.message.startsWith(`[${name}] `)) e.message = `[${name}] ${e.message}`;
    throw e;
  }
}
