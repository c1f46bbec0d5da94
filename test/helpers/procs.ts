// Real `pim` and `pim-server` processes (the built bins), with their output watched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { ROOT } from './repo';

export const PIM = path.join(ROOT, 'bin', 'pim.cjs');
export const PIM_SERVER = path.join(ROOT, 'bin', 'pim-server.cjs');

export function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start a long-running command and wait until its stdout matches `ready`; returns the match. */
export async function start(
  bin: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<{
  child: ChildProcess;
  match: RegExpMatchArray;
  output: () => string;
  exited: () => Promise<number | null>;
}> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `timed out waiting for ${ready} from ${path.basename(bin)} ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`,
          ),
        ),
      20_000,
    );
    // ready may show on either stream (prompts go to stderr)
    const check = () => {
      const m = out.match(ready) ?? err.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr!.on('data', (d) => {
      err += d;
      check();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(bin)} exited (${code}) before it was ready\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return { child, match, output: () => out + err, exited: () => exitOf(child) };
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
