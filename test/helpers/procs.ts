// Real `pim` and `pim-server` processes (the built bins), with their output watched.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from './cleanup';
import { exitOf } from './bins';

export { PIM, PIM_SERVER, run, exitOf, stop } from './bins';

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
      // generous: on a 2-core machine busy with other test files a cold start can take many seconds
      60_000,
    );
    // ready may show on either stream (prompts go to stderr)
    const check = () => {
      const m = out.match(ready) ?? err.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr.on('data', (d) => {
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
