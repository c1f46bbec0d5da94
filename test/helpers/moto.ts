// A real moto_server (AWS mock: STS AssumeRoleWithWebIdentity, GetCallerIdentity, …) on a free
// loopback port, for one test file. It checks no signatures, so any credentials it issued work
// against it. Missing program: skipped locally, a failure under CI=true (requireProgram).
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from './test-context';
import { after } from './cleanup';
import { freePort } from './net';
import { requireProgram } from './system';

export interface Moto {
  /** http://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** moto's own API answers once the server is up (an unsigned STS call would be routed to its S3). */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers STS calls.
 * Returns null when the test was skipped because moto_server is not installed. Stopped after the
 * test (t.after) if the caller does not stop it first.
 */
export async function startMoto(
  t: TestContext,
  why = 'STS AssumeRoleWithWebIdentity is tested against a real moto_server',
): Promise<Moto | null> {
  const bin = requireProgram(t, 'moto_server', why);
  if (!bin) return null;
  let lastOutput = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const stop = () => stopChild(child);
    after(stop);
    const deadline = Date.now() + 30_000;
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
      if (await answers(url)) return { url, stop };
      await new Promise((r) => setTimeout(r, 100));
    }
    await stop();
    lastOutput = output;
    // exited at once: most likely the port was taken between freePort() and bind; try another
  }
  throw new Error(`moto_server did not start on 127.0.0.1:\n${lastOutput.slice(-2000)}`);
}
