// The built `pim` and `pim-server` bins and running them to completion. No test-runner import here:
// stress/ scripts use these too (procs.ts adds the long-running `start`, cleaned up after the test).
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PIM = path.join(ROOT, 'bin', 'pim.cjs');
export const PIM_SERVER = path.join(ROOT, 'bin', 'pim-server.cjs');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bin to completion with `env` over the test's environment. */
export function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): RunResult {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Resolves with the exit code once the process ends. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
