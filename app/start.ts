// `npm start` / `pim start`: the main job with zero configuration. When the agent is not connected
// to a real control plane, it runs the embedded demo one (loopback only, data under the agent's
// home, examples/policy.yaml, demo user alice) and connects to it. Then it launches the Electron tray
// app where Electron can start, and otherwise says why and opens the web shell.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { serve, type RunningServer } from '../server/http';
import { initRepo, paths, publishPolicy, readState } from '../server/repo/repository';
import { Agent } from '../agent/agent';
import { packageRoot } from '../agent/package-root';
import { runUi } from '../agent/cli/long-running';

export const DEMO_USER = 'alice@acme.example';
const log = (l: string) => process.stderr.write(`pim: ${l}\n`);

export async function runStart(home: string, opts: { open: boolean }): Promise<number> {
  const agent = new Agent(home);
  let demo: RunningServer | null = null;
  let enrolLink: string | undefined;
  try {
    const conn = agent.store.connection();
    if (!conn || conn.demo) {
      demo = await startDemoControlPlane(home);
      // an enrolment made in an earlier run stays (the demo's server.db keeps the device and key)
      const unenrolled = conn?.unenrolled ?? true;
      agent.connect({
        server: demo.publicUrl,
        user: DEMO_USER,
        root: fs.readFileSync(paths(demoDir(home)).trustRoot),
        unenrolled,
        demo: true,
      });
      log(`embedded demo control plane at ${demo.publicUrl} (data in ${demoDir(home)}); signed in as ${DEMO_USER}`);
      if (unenrolled) {
        const { code } = demo.controlPlane.users.add(DEMO_USER, [], 3600_000);
        const rootSha = crypto
          .createHash('sha256')
          .update(fs.readFileSync(paths(demoDir(home)).trustRoot))
          .digest('hex');
        enrolLink = `${demo.publicUrl}/enrol#code=${code}&root=${rootSha}`;
        // the link carries a one-time code: stdout, for the user, never a log
        log('to activate roles, register a security key: the app shows how');
        process.stdout.write(`Demo enrolment link (or run: pim enroll LINK): ${enrolLink}\n`);
      }
    } else {
      log(`using the configured control plane ${conn.server} as ${conn.user}`);
    }
  } finally {
    agent.close();
  }
  try {
    const why = electronUnavailable();
    if (!why) return await runElectron(home);
    log(`the Electron tray app cannot start here: ${why}. Opening the web shell instead.`);
    return await runUi(home, { open: opts.open, enrolLink });
  } finally {
    await demo?.close();
  }
}

export function demoDir(home: string): string {
  return path.join(home, 'demo-control-plane');
}

/** Init once; republish when examples/policy.yaml changed or the copy is past half its 7-day life. */
export async function startDemoControlPlane(home: string): Promise<RunningServer> {
  const dir = demoDir(home);
  if (!fs.existsSync(paths(dir).state)) initRepo(dir);
  const text = fs.readFileSync(path.join(packageRoot(), 'examples', 'policy.yaml'), 'utf8');
  const sha = crypto.createHash('sha256').update(text).digest('hex');
  const shaFile = path.join(dir, 'published-policy.sha256');
  const state = readState(dir);
  const stale = !state.policyExpires || Date.parse(state.policyExpires) - Date.now() < 3.5 * 86400_000;
  if (stale || !fs.existsSync(shaFile) || fs.readFileSync(shaFile, 'utf8') !== sha) {
    publishPolicy(dir, text, { sourceName: 'examples/policy.yaml' });
    fs.writeFileSync(shaFile, sha);
  }
  return serve(dir, { host: '127.0.0.1', port: 0 });
}

function electronBinary(): string | null {
  try {
    const dir = path.dirname(require.resolve('electron/package.json', { paths: [packageRoot()] }));
    const rel = fs.readFileSync(path.join(dir, 'path.txt'), 'utf8').trim();
    return path.join(dir, 'dist', rel);
  } catch {
    return null;
  }
}

/** Why Electron cannot start here, or null when it can. Never triggers electron's lazy download. */
export function electronUnavailable(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.PIM_NO_ELECTRON === '1') return 'PIM_NO_ELECTRON=1 is set';
  const bin = electronBinary();
  if (!bin || !fs.existsSync(bin))
    return "Electron's binary is not installed (the electron npm package downloads it on first use, and this machine cannot reach its download host)";
  if (process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY)
    return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  return null;
}

async function runElectron(home: string): Promise<number> {
  const bin = electronBinary()!;
  const child = spawn(bin, [path.join(packageRoot(), 'dist', 'electron-main.cjs')], {
    stdio: 'inherit',
    env: { ...process.env, PIM_HOME: home },
  });
  const stop = () => child.kill('SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 0)));
}
