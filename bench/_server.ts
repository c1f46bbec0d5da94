// A real `pim-server serve` process for benchmarks (BENCH_PROF=DIR adds a CPU profile of it).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const PIM_SERVER_BIN = path.join(__dirname, '..', 'bin', 'pim-server.cjs');

export async function startServer(repo: string): Promise<{ server: ChildProcess; url: string; publicUrl: string }> {
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : [];
  const server = spawn(process.execPath, [...prof, PIM_SERVER_BIN, 'serve', repo, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.on('exit', () => reject(new Error('pim-server exited before it was ready')));
  });
  // people (and WebAuthn) reach it by name: http://localhost:PORT
  return { server, url, publicUrl: url.replace('127.0.0.1', 'localhost') };
}
