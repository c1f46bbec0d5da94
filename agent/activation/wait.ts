// How a client waits for a decision that may take hours: long polls the server holds, and when the
// control plane cannot be reached (a restart, a network blip, a proxy's 502), retries with capped
// exponential backoff instead of giving up. Pure decisions here; the loop is Activations.wait
// (activations.ts).
import { ControlPlaneError } from './cp-client';
import { numberSetting } from '../../shared/settings';

/** Seconds each long poll asks the server to hold the call (the server caps it at 30);
 *  PIM_LONG_POLL_S tunes it (tests). */
export function longPollSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return numberSetting(env, 'PIM_LONG_POLL_S');
}

/** Delay before retry number `attempt` (0-based): 1 s, 2 s, 4 s … capped at 60 s, with ±20 % jitter
 *  so many agents waking after one restart do not arrive together. */
export function backoffMs(attempt: number, random = Math.random): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Failures worth waiting out: no answer at all, or the gateway/server saying "not now". Anything
 *  else (not found, refused, bad signature) is an answer and ends the wait. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof ControlPlaneError)) return false;
  return e.code === 'unreachable' || e.code === 'garbage' || e.status === 502 || e.status === 503 || e.status === 504;
}

export type WaitProgress =
  | { kind: 'waiting'; state: string; sinceMs: number }
  | { kind: 'retrying'; inMs: number; attempt: number; message: string }
  | { kind: 'reconnected'; afterMs: number };

/** Sleeps `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
