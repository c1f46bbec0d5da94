// `pim agent` and `pim ui`: the agent kept alive with its refresh loop.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startAgent } from '../agent-runtime';
import { packageRoot } from '../package-root';
import { startWebShell } from '../webshell/server';
import { RefreshError } from '../policy/errors';
import { errorMessage } from '../../shared/errors';

const log = (l: string) => process.stderr.write(`pim: ${l}\n`);

function describe(r: { version: number } | RefreshError): string {
  if ('version' in r) return `policy v${r.version} verified`;
  // a refresh that verified but could not be journaled fails with the journal's error
  return r instanceof RefreshError
    ? `refresh failed (${r.kind}): ${r.message}; keeping the cached policy`
    : `refresh failed: ${errorMessage(r)}`;
}

/** Resolves on Ctrl-C or SIGTERM, and keeps the process alive until then (the agent's own timers
 *  are unref'd: without this, a headless agent with nothing to wait on exits at once). */
function untilSignal(): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1 << 30);
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

export async function runHeadless(home: string): Promise<number> {
  const rt = await startAgent({ home, loop: false, log });
  rt.agent.startLoop({ onResult: (r) => log(describe(r)) });
  log(`agent running (home ${home}); Ctrl-C to stop`);
  await untilSignal();
  await rt.stop();
  exitSoon();
  return 0;
}

export async function runUi(home: string, opts: { open: boolean; port?: number; enrolLink?: string }): Promise<number> {
  const rt = await startAgent({ home, loop: false, log });
  rt.agent.startLoop({
    intervalMs: Number(process.env.PIM_REFRESH_INTERVAL_MS) || undefined,
    onResult: (r) => log(describe(r)),
  });
  if (opts.enrolLink) {
    // the embedded demo hands us a link: the UI opens on "register your security key"
    const r = await rt.dispatch('enroll', { link: opts.enrolLink });
    if (!r.ok) log(`enrolment could not start: ${r.error.message}`);
  }
  const shell = await startWebShell({
    dispatch: rt.dispatch,
    rendererDir: path.join(packageRoot(), 'dist', 'renderer'),
    port: opts.port,
    // the person's confirmation before the browser may point the agent at a control plane: shown
    // here, on this terminal, which a holder of a stolen web session does not see
    announceConfirm: (code, server) =>
      process.stdout.write(
        `Confirmation code to enrol with ${server}: ${code} (type it in the PIM Agent UI; valid 5 minutes)\n`,
      ),
  });
  // the URL carries a one-time code (exchanged once for the session): to stdout for the user, never
  // to a log. The browser we start gets a code of its own: its command line is readable by every
  // local user (/proc), so it must hold nothing reusable — that code is spent when the page loads.
  process.stdout.write(`PIM Agent UI: ${shell.url}\n`);
  if (opts.open) openInBrowser(shell.newUrl());
  await untilSignal();
  await shell.close();
  await rt.stop();
  exitSoon();
  return 0;
}

/** After a stop was asked for: whatever still holds the event loop (a keep-alive socket, a long
 *  poll) must not keep the process alive; a moment for output to flush, then exit. */
function exitSoon(): void {
  setTimeout(() => process.exit(), 1500).unref();
}

export function openInBrowser(url: string): boolean {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    log('no display: open the URL above in a browser');
    return false;
  }
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => log(`could not start ${cmd}: open the URL above in a browser`));
    child.unref();
    return true;
  } catch {
    return false;
  }
}
