// Background work for long-running hosts (Electron, `pim ui`): it keeps agent.db's copy of the
// user's activations fresh so getState (polled by the popover every two seconds) never has to reach
// the control plane, and it finishes enrolments the UI started.
//
//   - while an activation is requested / pending-approval / approved: list them every few seconds
//     (PIM_ACTIVATION_POLL_MS, default 3 s; backing off to a minute while the server is away);
//   - while one is active: every PIM_REVOCATION_POLL_MS (default 20 s: a revocation reaches the
//     credentials within 30 s), and just after it ends;
//   - otherwise: agent.db every 5 s (a `pim activate` in a terminal is picked up at once) and the
//     control plane once a minute, or when asked (a UI call, a kick after activate/deactivate);
//   - after the UI starts an approval or denial: until the approver's decision is recorded, so it is
//     journaled (approval-given) as the CLI's `pim approve` does.
import type { EnrolmentStatus } from '../../shared/api';
import { errorMessage } from '../../shared/errors';
import { Agent, AgentError } from '../agent';
import { ControlPlaneError } from './cp-client';
import { ActivationService } from './service';
import { numberSetting } from '../../shared/settings';

const MAX_BACKOFF_MS = 60_000;
/** with nothing live: how often agent.db is looked at, and how often the control plane is asked */
const IDLE_CHECK_MS = 5_000;
const IDLE_SERVER_MS = 60_000;
const MAX_TIMER_MS = 60 * 60_000;
const ENROLMENT_TIMEOUT_MS = 15 * 60_000;
const WAITING: ReadonlySet<string> = new Set(['requested', 'pending-approval', 'approved']);
/** How long the UI's approver has to touch their key (the ceremony's nonce lives 5 minutes). */
const DECISION_WATCH_MS = 10 * 60_000;

export interface EnrolmentStarted {
  ceremonyUrl: string;
  user: string;
  server: string;
  deviceFingerprint: string;
}

export class ActivationTracker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private failures = 0;
  private lastServerSync = 0;
  private enrolment: AbortController | null = null;
  private readonly closed = new AbortController();
  private watching = new Set<string>();
  readonly pollMs: number;
  /** how often active roles are checked for revocation (PIM_REVOCATION_POLL_MS, default 20 s) */
  readonly revocationPollMs: number;

  constructor(
    private readonly agent: Agent,
    readonly svc: ActivationService = new ActivationService(agent),
    opts: { pollMs?: number } = {},
  ) {
    this.pollMs = opts.pollMs ?? numberSetting(process.env, 'PIM_ACTIVATION_POLL_MS');
    this.revocationPollMs = numberSetting(process.env, 'PIM_REVOCATION_POLL_MS');
    agent.onClose(() => {
      this.closed.abort();
      this.stop();
    });
  }

  /** Start background syncing: once now (anything may have changed while the agent was down). */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.enrolment?.abort();
    this.enrolment = null;
  }

  /** Sync soon (something was just asked of the control plane), then follow the schedule. */
  kick(delayMs = 0): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync({ skipWhenIdle: true })
      .then(() => {
        this.failures = 0;
      })
      .catch(() => {
        // offline or refused: agent.db keeps answering; the schedule backs off
        this.failures++;
      })
      .finally(() => {
        this.running = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
          return;
        }
        const next = this.nextDelay();
        if (next !== null) this.kick(next);
      });
    await this.running;
  }

  /** Fetch the user's activations from the control plane into agent.db (no-op when not enrolled).
   *  `skipWhenIdle`: with nothing live in agent.db, ask the control plane at most once a minute. */
  async sync(opts: { skipWhenIdle?: boolean } = {}): Promise<void> {
    const conn = this.agent.store.connection();
    if (!conn || conn.unenrolled) return;
    if (
      opts.skipWhenIdle &&
      this.agent.store.liveActivations(conn.user).length === 0 &&
      Date.now() - this.lastServerSync < IDLE_SERVER_MS
    )
      return;
    await this.svc.list();
    this.lastServerSync = Date.now();
    this.agent.store.pruneActivations(new Date(this.agent.now().getTime() - 7 * 86400_000));
  }

  /** When to look again, from what agent.db holds; null when nothing can change on its own. */
  nextDelay(now = this.agent.now()): number | null {
    const conn = this.agent.store.connection();
    if (!conn || conn.unenrolled) return null;
    const live = this.agent.store.liveActivations(conn.user);
    if (live.some((a) => WAITING.has(a.state)))
      return Math.min(MAX_BACKOFF_MS, this.pollMs * 2 ** Math.min(this.failures, 8));
    const ends = live
      .filter((a) => a.state === 'active' && a.expiresAt)
      .map((a) => Date.parse(a.expiresAt!) - now.getTime());
    // idle: look at agent.db every few seconds (an activation another process made, `pim activate`,
    // is followed at once) and at the control plane once a minute (see sync)
    if (ends.length === 0) return IDLE_CHECK_MS;
    // just after the earliest end (the control plane sweeps it to expired), and retry while offline;
    // while a role is active, often enough that a revocation reaches its credentials within 30 s
    const base = Math.min(this.revocationPollMs, Math.max(1000, Math.min(...ends) + 1500));
    return Math.min(
      MAX_TIMER_MS,
      this.failures ? Math.max(base, Math.min(MAX_BACKOFF_MS, this.pollMs * 2 ** Math.min(this.failures, 8))) : base,
    );
  }

  /** The UI started a decision on activation `id`: follow it until this user's decision is
   *  recorded (then journaled), for as long as the ceremony can be completed. */
  watchDecision(id: string): void {
    const conn = this.agent.store.connection();
    if (!conn || conn.unenrolled || this.watching.has(id)) return;
    this.watching.add(id);
    const deadline = Date.now() + DECISION_WATCH_MS;
    void (async () => {
      while (!this.closed.signal.aborted && Date.now() < deadline) {
        try {
          const a = await this.svc.waitForDecision(id, conn.user, Math.max(0, deadline - Date.now()), {
            intervalMs: 2000,
            signal: this.closed.signal,
          });
          if (a.approvals.some((x) => x.approver === conn.user)) {
            this.kick();
            return;
          }
        } catch {
          // offline for a moment, or the journal refused: try again shortly
          await new Promise((r) => setTimeout(r, 5000).unref?.());
        }
      }
    })().finally(() => this.watching.delete(id));
  }

  /** Start enrolment with the admin's link; it finishes in the background (getState().enrolment). */
  async enroll(link: string): Promise<EnrolmentStarted> {
    this.enrolment?.abort();
    const abort = new AbortController();
    this.enrolment = abort;
    let keystoreNotice: string | null = null;
    const started = await this.svc.beginEnrolment(link, { onKeystoreChosen: (s) => (keystoreNotice = s) });
    if (abort.signal.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
    const status: EnrolmentStatus = {
      state: 'waiting',
      server: started.server,
      user: started.user,
      ceremonyUrl: started.ceremonyUrl,
      deviceFingerprint: started.deviceThumbprint.slice(0, 16),
      error: null,
      keystoreNotice,
    };
    this.agent.setEnrolment(status);
    const deadline = Date.now() + ENROLMENT_TIMEOUT_MS;
    const finish = async (): Promise<unknown> => {
      for (;;) {
        try {
          return await started.finish({ signal: abort.signal, timeoutMs: Math.max(0, deadline - Date.now()) });
        } catch (e) {
          // a control plane that blinks while the user looks for their key is not a failure
          if (
            !(e instanceof ControlPlaneError && e.code === 'unreachable') ||
            abort.signal.aborted ||
            Date.now() > deadline
          )
            throw e;
          await new Promise((r) => setTimeout(r, 3000).unref?.());
        }
      }
    };
    finish().then(
      async () => {
        if (abort.signal.aborted) return;
        // the first policy, so the popover can show the roles at once (a failure shows as offline)
        await this.agent.refresh().catch(() => undefined);
        if (abort.signal.aborted) return;
        this.agent.setEnrolment({ ...status, state: 'complete' });
        this.kick();
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        const expired = e instanceof AgentError && e.code === 'enrolment-expired';
        this.agent.setEnrolment({
          ...status,
          state: expired ? 'expired' : 'failed',
          error: expired
            ? 'the security key was not registered in time: ask your admin for a new link'
            : errorMessage(e),
        });
      },
    );
    return {
      ceremonyUrl: started.ceremonyUrl,
      user: started.user,
      server: started.server,
      deviceFingerprint: status.deviceFingerprint,
    };
  }
}
