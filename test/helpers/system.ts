// Tests that need a system program run it for real. Locally a missing program skips the test with
// a loud message; under CI (CI=true) it fails, because .ci/run installs every one of them.
import { spawnSync } from 'node:child_process';
import type { TestContext } from './test-context';

export function findProgram(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Returns the program's path, or skips (locally) / throws (CI) when it is missing. */
export function requireProgram(t: TestContext, name: string, why: string): string | null {
  const p = findProgram(name);
  if (p) return p;
  cannotRun(t, `${name} is not installed: ${why}. Install it (see .ci/run) to run this test.`);
  return null;
}

/** Something the test needs is missing: skip with a loud message locally, fail under CI=true. */
export function cannotRun(t: TestContext, msg: string): false {
  if (process.env.CI === 'true') throw new Error(`CI=true and ${msg}`);
  process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
  t.skip(true, msg);
  return false;
}
