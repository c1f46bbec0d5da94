// `pim activate`, `pim extend` and `pim wait` wait for a request the same way, and say the same
// things about how it ended.
import type { ActivationService } from '../activation/service';
import type { Agent } from '../agent';
import { reportLines } from '../credentials/scheduler';
import { EXIT } from './command';
import { clean, utc } from './format';
import { syncSoon } from './sync-soon';

export interface WaitIo {
  untilDecided: boolean;
  timeoutMs?: number;
  json: ((v: unknown) => void) | null;
  out: (s: string) => void;
  prompt: (s: string) => void;
}

/**
 * `pim activate`, `pim extend` and `pim wait`: wait for the request as long as it takes, saying
 * what happens on stderr; Ctrl-C stops waiting and leaves the request as it is. Once active, this
 * process puts the credentials in place (a running agent would too: the injection is idempotent).
 */
export async function waitAndReport(svc: ActivationService, agent: Agent, id: string, io: WaitIo): Promise<number> {
  const stop = new AbortController();
  const onInt = () => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    stop.abort();
  };
  process.on('SIGINT', onInt);
  const tty = !!process.stderr.isTTY;
  let overwrite = false;
  const say = (s: string, transient = false) => {
    // on a terminal the "still waiting" line rewrites itself; in a log it is one line per poll
    if (tty) process.stderr.write(`${overwrite ? '\r\x1b[2K' : ''}${s}${transient ? '' : '\n'}`);
    else process.stderr.write(`${s}\n`);
    overwrite = tty && transient;
  };
  let done;
  try {
    done = await svc.wait(id, {
      untilDecided: io.untilDecided,
      timeoutMs: io.timeoutMs,
      signal: stop.signal,
      onState: (st) => say(`  … ${stateNote(st)}`),
      onProgress: (p) => {
        if (p.kind === 'waiting')
          say(`  … still ${stateNote(p.state)} (${minutes(p.sinceMs)}; Ctrl-C stops waiting, the request stays)`, true);
        else if (p.kind === 'retrying')
          say(
            `  … ${p.message}; retrying in ${Math.ceil(p.inMs / 1000)} s (attempt ${p.attempt}); the request is kept`,
          );
        else say(`  … reached the control plane again after ${minutes(p.afterMs)}`);
      },
    });
  } finally {
    process.off('SIGINT', onInt);
    if (overwrite) process.stderr.write('\n');
  }
  if (done.stopped) {
    const why = done.stopped === 'interrupted' ? 'Stopped waiting' : 'Gave up waiting (--timeout)';
    io.prompt(
      `${why}: ${clean(done.role)} (${done.id}) is still ${done.state}; nothing was withdrawn. Pick it up again with: pim wait ${done.id}`,
    );
    if (io.json) io.json({ ...done, resume: `pim wait ${done.id}` });
    else io.out(outcomeText(done));
    await syncSoon(agent);
    return EXIT.pending;
  }
  // active: its kube context, AWS profile and SSH certificate are put in place before we answer
  const creds = done.state === 'active' ? await (await svc.credentials()).reconcile() : null;
  await syncSoon(agent);
  if (io.json) io.json(creds ? { ...done, credentials: creds } : done);
  else {
    io.out(outcomeText(done));
    if (creds) for (const l of reportLines(creds)) io.out(`  ${clean(l)}\n`);
  }
  return exitFor(done.state);
}

function stateNote(state: string): string {
  switch (state) {
    case 'requested':
      return 'waiting for your key touch';
    case 'pending-approval':
      return 'waiting for approval';
    default:
      return state;
  }
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function exitFor(state: string): number {
  if (state === 'active' || state === 'approved') return EXIT.ok;
  if (state === 'pending-approval' || state === 'requested') return EXIT.pending;
  return EXIT.ended;
}

export function outcomeText(a: {
  id: string;
  role: string;
  state: string;
  expiresAt: string | null;
  endReason: string | null;
  approvalsNeeded: number;
}): string {
  switch (a.state) {
    case 'active':
      return `${clean(a.role)} is ACTIVE until ${a.expiresAt ? utc(a.expiresAt) : '?'}\n`;
    case 'pending-approval':
      return `${clean(a.role)} is WAITING FOR APPROVAL (${a.approvalsNeeded} needed); wait for it with \`pim wait ${a.id}\`, or check later with \`pim activations\`\n`;
    case 'requested':
      return `${clean(a.role)}: the request was not signed yet (it lapses 5 minutes after it was made); \`pim wait ${a.id}\` picks it up\n`;
    default:
      return `${clean(a.role)}: ${a.state.toUpperCase()}${a.endReason ? ` — ${clean(a.endReason)}` : ''}\n`;
  }
}
