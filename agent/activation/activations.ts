// Activations from this device (docs/architecture.md, Flows: Activation with WebAuthn): it builds
// the request the user's key will sign, checks it offline with the same engine first, sends it with
// a device-signed call, holds (long polls) while it is signed and decided, ends it, and mirrors each
// state into agent.db (ActivationMirror: journaled before it is reported done). A journal that
// cannot be written refuses new requests.
import { errorMessage } from '../../shared/errors';
import { objectHash, type ActivationRequest, type ActivationView } from '../../shared/activation';
import type { ActivationState } from '../../shared/activation-state';
import { canonicalJson } from '../../shared/canonical';
import type { Clock } from '../../shared/clock';
import type { Agent } from '../agent';
import { AgentError } from '../agent';
import type { AgentStore } from '../store/agent-store';
import type { DeviceSession } from './device-session';
import type { LocalEnds } from './local-end';
import type { ActivationMirror } from './mirror';
import { backoffMs, isTransient, longPollSeconds, pause, type WaitProgress } from './wait';

const FINAL_OR_WAITING: ReadonlySet<ActivationState> = new Set([
  'pending-approval',
  'approved',
  'active',
  'denied',
  'request-expired',
  'expired',
  'deactivated',
  'revoked',
]);

export interface ActivationsDeps {
  store: AgentStore;
  clock: Clock;
  session: DeviceSession;
  mirror: ActivationMirror;
  localEnds: LocalEnds;
  /** the cached policy: the offline decision, and what a role grants */
  policy: Pick<Agent, 'decideRequest' | 'role'>;
  /** a fresh SSH key for a request whose role grants SSH (its public half goes into the request) */
  newSshKey: () => Promise<string>;
  /** tells the agent's listeners (tray, UI) that something they show changed */
  changed: () => void;
}

/** How to wait for a request (Activations.wait). */
export interface WaitOptions {
  untilDecided: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  onState?: (s: ActivationState) => void;
  onProgress?: (p: WaitProgress) => void;
}

/** The request as last seen; `stopped` when the wait ended before it was decided. */
export type WaitResult = ActivationView & { stopped?: 'interrupted' | 'timeout' };

export class Activations {
  private readonly store: AgentStore;
  private readonly clock: Clock;
  private readonly session: DeviceSession;
  private readonly mirror: ActivationMirror;
  private readonly localEnds: LocalEnds;

  constructor(private readonly deps: ActivationsDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.session = deps.session;
    this.mirror = deps.mirror;
    this.localEnds = deps.localEnds;
  }

  private now(): number {
    return this.clock().getTime();
  }

  private client() {
    return this.session.client();
  }

  private remember(...views: ActivationView[]): Promise<void> {
    return this.mirror.remember(...views);
  }

  /** Ask for a role: checked offline first, then sent; returns the ceremony to sign it in. */
  async request(
    role: string,
    ask: { duration?: number; justification?: string; ticket?: string; extends?: string },
  ): Promise<ActivationView> {
    const conn = this.store.connection();
    const policy = this.store.policySummary();
    if (!conn || !policy) throw new AgentError('no-policy', 'no verified policy yet: run `pim policy refresh`');
    const active = this.store.activeOrApproved(role, this.clock()).length;
    const offline = this.deps.policy.decideRequest(role, ask, ask.extends ? Math.max(0, active - 1) : active);
    if (!offline.allowed) {
      throw new AgentError(
        'not-allowed',
        offline.reasons
          .filter((r) => r.blocking)
          .map((r) => `${r.code}: ${r.message}`)
          .join('; '),
      );
    }
    const key = await this.session.deviceKey();
    if (!key) throw new AgentError('not-enrolled', 'this agent has no device key: run `pim enroll LINK`');
    // fail closed: nothing leaves the agent unless its journal can record it
    const journal = await this.session.chain(key);
    journal?.assertWritable();
    const request: ActivationRequest = {
      v: 1,
      kind: ask.extends ? 'extend' : 'activate',
      user: conn.user,
      device: key.thumbprint,
      role,
      duration: ask.duration ?? offline.requirements.defaultDuration,
      justification: ask.justification?.trim() || null,
      ticket: ask.ticket?.trim() || null,
      // a fresh key per request for roles that grant SSH: the certificate will be for this key,
      // and the key is inside what the security key signs
      sshPublicKey: this.deps.policy.role(role)?.grants.ssh.length ? await this.deps.newSshKey() : null,
      policyVersion: policy.version,
      requestedAt: this.clock().toISOString(),
      extends: ask.extends ?? null,
    };
    const client = await this.client();
    const { activation } = await client.request('createActivation', { body: { request } });
    if (!journal) {
      await this.remember(activation);
      return activation;
    }
    try {
      journal.write(() => {
        journal.append('activation-requested', conn.user, {
          activation: activation.id,
          role,
          kind: request.kind,
          extends: request.extends,
          duration: request.duration,
          requestSha256: activation.requestSha256 ?? objectHash(request),
          request: canonicalJson(activation.request ?? request),
        });
        this.store.saveActivation(activation, this.clock());
      });
    } catch (e) {
      // not journaled, so not reported: withdraw it (unsigned, it would lapse in minutes anyway)
      await client.request('deactivateActivation', { params: { id: activation.id }, body: {} }).catch(() => undefined);
      throw e;
    }
    this.deps.changed();
    return activation;
  }

  /** Ask for more time on an active role: a new signed request chained to the active one. */
  async extend(
    role: string,
    ask: { duration?: number; justification?: string; ticket?: string },
  ): Promise<ActivationView> {
    const client = await this.client();
    const active = (await client.request('listActivations', {})).find((a) => a.role === role && a.state === 'active');
    if (!active) throw new AgentError('not-active', `${role} is not active: activate it instead of extending it`);
    return this.request(role, {
      duration: ask.duration ?? active.request.duration,
      justification: ask.justification ?? active.request.justification ?? undefined,
      ticket: ask.ticket ?? active.request.ticket ?? undefined,
      extends: active.id,
    });
  }

  /** This user's live activation of `role` on the control plane, if there is one. */
  async activeOn(role: string): Promise<ActivationView | null> {
    const all = await (await this.client()).request('listActivations', {});
    const live = all.find(
      (a) => a.role === role && a.state === 'active' && (!a.expiresAt || Date.parse(a.expiresAt) > this.now()),
    );
    if (live) await this.remember(live);
    return live ?? null;
  }

  async get(id: string): Promise<ActivationView> {
    const a = await (await this.client()).request('getActivation', { params: { id } });
    await this.remember(a);
    return a;
  }

  /**
   * Wait (long polls) until the request leaves `requested` (signed) — and, with `untilDecided`,
   * until it also leaves `pending-approval`. There is no deadline unless `timeoutMs` is given: the
   * control plane itself expires unsigned requests (5 min) and undecided ones (24 h). When it cannot
   * be reached, the wait retries with backoff (progress says so) instead of failing. `signal` stops
   * waiting (Ctrl-C); the request stays as it is, and the last state seen is returned.
   */
  async wait(id: string, opts: WaitOptions): Promise<WaitResult> {
    const started = this.now();
    const deadline = opts.timeoutMs === undefined ? Infinity : started + opts.timeoutMs;
    const client = await this.client();
    const hold = longPollSeconds();
    let a: ActivationView | null = null;
    let failures = 0;
    let failedAt = 0;
    let waitingSince = started;
    for (;;) {
      if (a) {
        const done = FINAL_OR_WAITING.has(a.state) && !(opts.untilDecided && a.state === 'pending-approval');
        if (done) return a;
      }
      if (opts.signal?.aborted || this.now() >= deadline) {
        // nothing seen yet: ask once; when the control plane cannot be reached, the state agent.db
        // kept is what we report (Ctrl-C must still leave with "pending", not an error)
        if (!a) {
          a = await this.get(id).catch((e: unknown) => {
            const known = isTransient(e) ? this.store.activationView(id) : null;
            if (!known) throw e;
            return known;
          });
        }
        return { ...a, stopped: opts.signal?.aborted ? 'interrupted' : 'timeout' };
      }
      const seen = a?.state;
      const secs = Math.max(1, Math.min(hold, Math.ceil((deadline - this.now()) / 1000)));
      let next: ActivationView;
      try {
        next = await client.request(
          'getActivation',
          { params: { id }, query: seen ? { wait: seen, timeout: String(secs) } : {} },
          { holdMs: seen ? secs * 1000 : 0, signal: opts.signal },
        );
      } catch (e) {
        if (opts.signal?.aborted) continue;
        if (!isTransient(e)) throw e;
        if (failures === 0) failedAt = this.now();
        const inMs = Math.min(backoffMs(failures), Math.max(0, deadline - this.now()));
        opts.onProgress?.({ kind: 'retrying', inMs, attempt: ++failures, message: errorMessage(e) });
        await pause(inMs, opts.signal);
        continue;
      }
      if (failures > 0) opts.onProgress?.({ kind: 'reconnected', afterMs: this.now() - failedAt });
      failures = 0;
      await this.remember(next);
      if (next.state !== seen) {
        waitingSince = this.now();
        opts.onState?.(next.state);
      } else opts.onProgress?.({ kind: 'waiting', state: next.state, sinceMs: this.now() - waitingSince });
      a = next;
    }
  }

  /** `reason` (e.g. 'session-locked') is journaled with the deactivation: why the agent ended it.
   *  With a reason the agent ends its roles itself, from agent.db, before telling the control plane
   *  (endLocally): the record carries the reason whatever a concurrent poll sees first. */
  async deactivate(role: string, opts: { reason?: string } = {}): Promise<ActivationView[]> {
    if (opts.reason !== undefined) {
      const ended = await this.localEnds.endLocally([role], opts.reason);
      if (ended.length === 0) throw new AgentError('not-active', `${role} is not active`);
      await this.localEnds.tellEnded().catch(() => undefined);
      return ended;
    }
    const client = await this.client();
    const mine = (await client.request('listActivations', {})).filter(
      (a) => a.role === role && ['active', 'approved', 'pending-approval', 'requested'].includes(a.state),
    );
    if (mine.length === 0) throw new AgentError('not-active', `${role} is not active`);
    const out: ActivationView[] = [];
    for (const a of mine) {
      const v = await client.request('deactivateActivation', { params: { id: a.id }, body: {} });
      await this.remember(v);
      out.push(v);
    }
    return out;
  }

  /** End one activation (or withdraw one request) by its id. */
  async deactivateId(id: string): Promise<ActivationView> {
    const v = await (await this.client()).request('deactivateActivation', { params: { id }, body: {} });
    await this.remember(v);
    return v;
  }

  async list(): Promise<ActivationView[]> {
    // what this device ended on its own goes first: until the control plane has heard, its view
    // of those activations is stale
    await this.localEnds.tellEnded().catch(() => undefined);
    const all = await (await this.client()).request('listActivations', {});
    await this.remember(...all);
    return all;
  }
}
