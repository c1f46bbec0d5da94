// The agent's side of enrolment, activation and approval (docs/architecture.md, Flows). It builds the request the
// user's key will sign, checks it offline with the same engine first, talks to the control plane
// with device-signed calls, and mirrors each activation's state into agent.db.
//
// Each step is journaled (agent/audit/journal.ts) before it is reported done: the
// enrolment, the request sent, every state this device's activations are seen to reach — with the
// request bytes, nonce and WebAuthn assertion once the key was touched, so anyone can re-verify
// it — and the approvals this user gives. A journal that cannot be written refuses new requests.
import crypto from 'node:crypto';
import { objectHash, type ActivationRequest, type ActivationView } from '../../shared/activation';
import { TERMINAL, type ActivationState } from '../../shared/activation-state';
import type { AuditType } from '../../shared/audit';
import { canonicalJson } from '../../shared/canonical';
import { systemClock, type Clock } from '../../shared/clock';
import type { Agent } from '../agent';
import { AgentError } from '../agent';
import type { AuditData, Journal } from '../audit/journal';
import {
  createDeviceKey,
  DEVICE_KEY_SECRET,
  loadDeviceKey,
  openKeystore,
  OsKeychain,
  settleKeystore,
  type DeviceKey,
} from '../keystore';
import type { CredentialManager } from '../credentials/manager';
import { ControlPlaneClient, ControlPlaneError } from './cp-client';
import { backoffMs, isTransient, longPollSeconds, pause, type WaitProgress } from './wait';

/** What the control plane keeps as evidence of an activation: the contract's activationEvidence reply. */
export type { ActivationEvidence } from '../../shared/contracts/control-plane';

/** The journal record for an activation seen in `state` (null: `requested` is journaled on send). */
export function auditTypeFor(a: Pick<ActivationView, 'state' | 'request'>): AuditType | null {
  if (a.state === 'requested') return null;
  if (a.state === 'active' && a.request.kind === 'extend') return 'activation-extended';
  return `activation-${a.state}`;
}

/** States reached after the key touch: their records carry the evidence. */
const WITH_EVIDENCE: ReadonlySet<AuditType> = new Set([
  'activation-pending-approval',
  'activation-approved',
  'activation-active',
  'activation-extended',
]);

export interface PendingEnrolment {
  id: string;
  user: string;
  server: string;
  ceremonyUrl: string;
  /** RFC 7638 thumbprint of the device key being enrolled */
  deviceThumbprint: string;
  finish(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<{ user: string; server: string }>;
}

export interface EnrolmentLink {
  server: string;
  code: string;
  rootSha256: string;
}

/** `https://pim.example.com/enrol#code=…&root=<sha256 of trust-root.json>` */
export function parseEnrolmentLink(link: string): EnrolmentLink {
  let u: URL;
  try {
    u = new URL(link.trim());
  } catch {
    throw new AgentError('bad-input', 'that is not an enrolment link (expected https://…/enrol#code=…&root=…)');
  }
  const p = new URLSearchParams(u.hash.replace(/^#/, ''));
  const code = p.get('code') ?? '';
  const root = (p.get('root') ?? '').toLowerCase();
  if (u.pathname !== '/enrol' || !/^[A-Za-z0-9_-]{10,200}$/.test(code) || !/^[0-9a-f]{64}$/.test(root)) {
    throw new AgentError('bad-input', 'that is not a complete enrolment link (expected …/enrol#code=…&root=…)');
  }
  if (u.protocol !== 'https:' && u.hostname !== 'localhost')
    throw new AgentError('bad-input', 'enrolment links must be https (http only for localhost)');
  return { server: u.origin, code, rootSha256: root };
}

/** meta key: ids this device ended (endLocally) that the control plane has not confirmed yet */
const PENDING_ENDS = 'pending_deactivations';
const LIVE: ReadonlySet<ActivationState> = new Set(['requested', 'pending-approval', 'approved', 'active']);

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

export class ActivationService {
  private key: DeviceKey | null | undefined;

  constructor(
    private readonly agent: Agent,
    private readonly clock: Clock = systemClock,
  ) {}

  private now(): number {
    return this.clock().getTime();
  }

  private manager: CredentialManager | undefined;

  /** What puts this agent's active roles into kubeconfig, ~/.aws/config and the ssh-agent. */
  async credentials(): Promise<CredentialManager> {
    if (!this.manager) {
      const { CredentialManager } = await import('../credentials/manager');
      this.manager = new CredentialManager(this.agent);
    }
    return this.manager;
  }

  private async deviceKey(): Promise<DeviceKey | null> {
    if (this.key === undefined) this.key = await loadDeviceKey(openKeystore(this.agent.home));
    return this.key;
  }

  private async client(): Promise<ControlPlaneClient> {
    const conn = this.agent.store.connection();
    if (!conn) throw new AgentError('not-connected', 'not enrolled: run `pim enroll LINK`');
    const key = await this.deviceKey();
    if (!key || conn.unenrolled)
      throw new AgentError(
        'not-enrolled',
        'this agent is connected without enrolment (demo/test path): run `pim enroll LINK` to activate roles',
      );
    return new ControlPlaneClient(conn.server, key);
  }

  /** Enrol this device: pin the trust root from the link, create the device key, then wait while
   *  the user registers a security key on the ceremony page (`onCeremony` opens it). */
  async enroll(
    link: string,
    opts: {
      onCeremony: (url: string) => void;
      onKeystoreChosen?: (announce: string) => void;
      timeoutMs?: number;
      replaceKey?: boolean;
    },
  ): Promise<{ user: string; server: string }> {
    const started = await this.beginEnrolment(link, {
      replaceKey: opts.replaceKey,
      onKeystoreChosen: opts.onKeystoreChosen,
    });
    opts.onCeremony(started.ceremonyUrl);
    return started.finish({ timeoutMs: opts.timeoutMs });
  }

  /** The first half of enrolment, which returns at once: trust root checked against the link,
   *  device key ready, ceremony started. `finish` waits for the key to be registered, then
   *  connects the agent (the UI runs it in the background; `pim enroll` awaits it). */
  async beginEnrolment(
    link: string,
    opts: { replaceKey?: boolean; onKeystoreChosen?: (announce: string) => void } = {},
  ): Promise<PendingEnrolment> {
    const l = parseEnrolmentLink(link);
    // before anything is fetched or created: which keystore this home uses, said once
    const settled = await settleKeystore(this.agent.home, process.env, async () => {
      await new OsKeychain(this.agent.home).get(DEVICE_KEY_SECRET);
    });
    if (settled?.announce) opts.onKeystoreChosen?.(settled.announce);
    let root: Buffer;
    try {
      const res = await fetch(`${l.server}/trust-root.json`, {
        signal: AbortSignal.timeout(15_000),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      root = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw new AgentError('unreachable', `cannot fetch the trust root from ${l.server} (${(e as Error).message})`);
    }
    const actual = crypto.createHash('sha256').update(root).digest('hex');
    if (actual !== l.rootSha256)
      throw new AgentError(
        'root-mismatch',
        `the control plane's trust root (sha256 ${actual.slice(0, 16)}…) is not the one in the link (${l.rootSha256.slice(0, 16)}…): refusing to enrol`,
      );
    const ks = openKeystore(this.agent.home);
    const existing = await loadDeviceKey(ks);
    const key = existing && !opts.replaceKey ? existing : await createDeviceKey(ks, { replace: true });
    // journaled (keystore-changed) as the new chain's second record, when the enrolment completes
    if (key !== existing) (await this.agent.journal()).noteDeviceKeyCreated(key.thumbprint, ks.kind, settled?.choice);
    this.key = key;
    const client = new ControlPlaneClient(l.server, key);
    const started = await client.request('startEnrolment', { body: { code: l.code, deviceJwk: key.publicJwk } });
    const finish = async (
      o: { timeoutMs?: number; signal?: AbortSignal } = {},
    ): Promise<{ user: string; server: string }> => {
      const deadline = this.now() + (o.timeoutMs ?? 15 * 60_000);
      for (;;) {
        if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
        const s = await client.request('enrolmentStatus', { params: { id: started.id } });
        if (s.state === 'complete') break;
        if (s.state === 'expired' || this.now() > deadline)
          throw new AgentError(
            'enrolment-expired',
            'the security key was not registered in time; run `pim enroll` again with a new link',
          );
        await sleep(1000);
      }
      if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
      this.agent.connect({ server: l.server, user: started.user, root, unenrolled: false });
      // record 1 of this device's chain (or the next one, re-enrolling with the same key)
      (await this.agent.journal()).begin(key.thumbprint, started.user, [
        { type: 'enrolled', data: { server: l.server, device: key.thumbprint, user: started.user } },
      ]);
      return { user: started.user, server: l.server };
    };
    return {
      id: started.id,
      user: started.user,
      server: l.server,
      ceremonyUrl: started.ceremonyUrl,
      deviceThumbprint: key.thumbprint,
      finish,
    };
  }

  /** Ask for a role: checked offline first, then sent; returns the ceremony to sign it in. */
  async request(
    role: string,
    ask: { duration?: number; justification?: string; ticket?: string; extends?: string },
  ): Promise<ActivationView> {
    const conn = this.agent.store.connection();
    const policy = this.agent.store.policySummary();
    if (!conn || !policy) throw new AgentError('no-policy', 'no verified policy yet: run `pim policy refresh`');
    const active = this.localActive(role).length;
    const offline = this.agent.decideRequest(role, ask, ask.extends ? Math.max(0, active - 1) : active);
    if (!offline.allowed) {
      throw new AgentError(
        'not-allowed',
        offline.reasons
          .filter((r) => r.blocking)
          .map((r) => `${r.code}: ${r.message}`)
          .join('; '),
      );
    }
    const key = await this.deviceKey();
    if (!key) throw new AgentError('not-enrolled', 'this agent has no device key: run `pim enroll LINK`');
    // fail closed: nothing leaves the agent unless its journal can record it
    const journal = await this.chain(key);
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
      sshPublicKey: this.agent.role(role)?.grants.ssh.length ? (await this.credentials()).newSshKey() : null,
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
        this.agent.store.saveActivation(activation, this.clock());
      });
    } catch (e) {
      // not journaled, so not reported: withdraw it (unsigned, it would lapse in minutes anyway)
      await client.request('deactivateActivation', { params: { id: activation.id }, body: {} }).catch(() => undefined);
      throw e;
    }
    this.agent.emitChange();
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
  async wait(
    id: string,
    opts: {
      untilDecided: boolean;
      timeoutMs?: number;
      signal?: AbortSignal;
      onState?: (s: ActivationState) => void;
      onProgress?: (p: WaitProgress) => void;
    },
  ): Promise<ActivationView & { stopped?: 'interrupted' | 'timeout' }> {
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
            const known = isTransient(e) ? this.lastKnown(id) : null;
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
        opts.onProgress?.({ kind: 'retrying', inMs, attempt: ++failures, message: (e as Error).message });
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
      const ended = await this.endLocally([role], opts.reason);
      if (ended.length === 0) throw new AgentError('not-active', `${role} is not active`);
      await this.tellEnded().catch(() => undefined);
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

  /**
   * Ends this user's live activations of `roles` here and now, from agent.db alone — no network
   * (the screen locks, the machine suspends, often offline): each is marked deactivated with
   * `reason`, journaled in the same transaction, and queued for the control plane. The caller
   * kicks the credential scheduler, which removes their kube/AWS/SSH credentials at once.
   * tellEnded (also run before every list()) tells the control plane, until it has answered.
   */
  async endLocally(roles: readonly string[], reason: string): Promise<ActivationView[]> {
    const conn = this.agent.store.connection();
    if (!conn || roles.length === 0) return [];
    const wanted = new Set(roles);
    const now = this.clock();
    const ended = this.agent.store
      .liveActivations(conn.user)
      .map((row) => this.localView(row.id))
      .filter((v): v is ActivationView => v !== null && wanted.has(v.role))
      .map((v) => ({ ...v, state: 'deactivated' as const, endReason: `ended by this device: ${reason}` }));
    if (ended.length === 0) return [];
    await this.rememberLocalEnd(ended, reason, now);
    return ended;
  }

  /** Tells the control plane about activations endLocally ended; those it has answered for leave
   *  the queue. Returns how many still wait (offline). */
  async tellEnded(): Promise<number> {
    const pending = this.pendingEnds();
    if (pending.length === 0) return 0;
    const client = await this.client();
    for (const id of pending) {
      try {
        const v = await client.request('deactivateActivation', { params: { id }, body: {} });
        this.setPendingEnds(this.pendingEnds().filter((x) => x !== id));
        await this.remember(v);
      } catch (e) {
        // 404/409: unknown there, or already ended (expired, revoked) — an answer all the same
        if (e instanceof ControlPlaneError && (e.status === 404 || e.status === 409))
          this.setPendingEnds(this.pendingEnds().filter((x) => x !== id));
        else throw e;
      }
    }
    return this.pendingEnds().length;
  }

  private localView(id: string): ActivationView | null {
    const row = this.agent.store.db.prepare('SELECT view_json FROM activations WHERE id = ?').get(id) as
      { view_json: string | null } | undefined;
    return row?.view_json ? (JSON.parse(row.view_json) as ActivationView) : null;
  }

  private pendingEnds(): string[] {
    const row = this.agent.store.db.prepare('SELECT value FROM meta WHERE key = ?').get(PENDING_ENDS) as
      { value: string } | undefined;
    return row ? (JSON.parse(row.value) as string[]) : [];
  }

  private setPendingEnds(ids: string[]): void {
    if (ids.length === 0) this.agent.store.db.prepare('DELETE FROM meta WHERE key = ?').run(PENDING_ENDS);
    else
      this.agent.store.db
        .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
        .run(PENDING_ENDS, JSON.stringify(ids));
  }

  /** The local end, its journal record (with the reason) and the queue entry: one transaction. */
  private async rememberLocalEnd(ended: ActivationView[], reason: string, now: Date): Promise<void> {
    const journal = await this.chain();
    const device = journal?.device();
    const save = () => {
      for (const a of ended) {
        if (journal && a.request.device === device && !journal.has(a.id, 'activation-deactivated')) {
          journal.append('activation-deactivated', this.agent.store.connection()?.user ?? null, {
            activation: a.id,
            role: a.role,
            state: a.state,
            kind: a.request.kind,
            extends: a.request.extends,
            startsAt: a.startsAt,
            expiresAt: a.expiresAt,
            endReason: a.endReason,
            reason,
          });
        }
        this.agent.store.saveActivation(a, now);
      }
      this.setPendingEnds([...new Set([...this.pendingEnds(), ...ended.map((a) => a.id)])]);
    };
    if (journal) journal.write(save);
    else this.agent.store.db.transaction(save)();
    this.agent.emitChange();
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
    await this.tellEnded().catch(() => undefined);
    const all = await (await this.client()).request('listActivations', {});
    await this.remember(...all);
    return all;
  }

  async approvals(): Promise<ActivationView[]> {
    return (await this.client()).request('pendingApprovals', {});
  }

  /** Start an approval or denial; returns the ceremony where the approver's key signs it. */
  async decide(
    id: string,
    decision: 'approve' | 'deny',
    reason: string | null,
  ): Promise<{ ceremonyId: string; ceremonyUrl: string }> {
    const { ceremonyId, ceremonyUrl } = await (
      await this.client()
    ).request('decideApproval', {
      params: { id },
      body: { decision, reason },
    });
    return { ceremonyId, ceremonyUrl };
  }

  /** Wait until this approver's decision is recorded on the activation; then it is journaled
   *  (approval-given) before this returns. */
  async waitForDecision(
    id: string,
    approver: string,
    timeoutMs: number,
    opts: { intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<ActivationView> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const a = await this.get(id);
      const mine = a.approvals.find((x) => x.approver === approver);
      if (mine) {
        const journal = await this.chain();
        if (journal && !journal.has(a.id, 'approval-given')) {
          journal.append('approval-given', approver, {
            activation: a.id,
            role: a.role,
            requester: a.user,
            requestSha256: a.requestSha256,
            decision: mine.decision,
            reason: mine.reason,
          });
        }
        return a;
      }
      if (this.now() > deadline || opts.signal?.aborted) return a;
      await sleep(opts.intervalMs ?? 500);
    }
  }

  /** The view agent.db kept of an activation, as the control plane last reported it. */
  private lastKnown(id: string): ActivationView | null {
    const r = this.agent.store.db
      .prepare('SELECT view_json FROM activations WHERE id = ? AND view_json IS NOT NULL')
      .get(id) as { view_json: string } | undefined;
    return r ? (JSON.parse(r.view_json) as ActivationView) : null;
  }

  private localActive(role: string): { id: string }[] {
    return this.agent.store.db
      .prepare(
        "SELECT id FROM activations WHERE role = ? AND state IN ('active', 'approved') AND (expires_at IS NULL OR expires_at > ?)",
      )
      .all(role, this.clock().toISOString()) as { id: string }[];
  }

  /**
   * The journal of this enrolled agent, its chain started — for an agent enrolled before it kept
   * one, or whose device key changed, the chain starts (or restarts) here. Null when nothing is
   * journaled (the `--user` demo path).
   */
  private async chain(key?: DeviceKey | null): Promise<Journal | null> {
    const conn = this.agent.store.connection();
    if (!conn || conn.unenrolled) return null;
    const journal = await this.agent.journal();
    const k = key ?? (await this.deviceKey());
    if (!k) return journal.device() ? journal : null;
    if (journal.device() !== k.thumbprint)
      journal.begin(k.thumbprint, conn.user, [
        {
          type: 'enrolled',
          data: {
            server: conn.server,
            device: k.thumbprint,
            user: conn.user,
            note: 'journal started for an existing enrolment',
          },
        },
      ]);
    return journal;
  }

  /** Fetches what proves the key touch; when it cannot be had, says why (the control plane keeps it). */
  private async evidence(a: ActivationView): Promise<AuditData> {
    try {
      const ev = await (await this.client()).request('activationEvidence', { params: { id: a.id } });
      return {
        request: ev.request,
        requestSha256: ev.requestSha256,
        nonce: ev.nonce,
        assertion: ev.assertion ?? null,
        credentialId: ev.credentialId ?? null,
        approvals: ev.approvals ?? [],
      };
    } catch (e) {
      return {
        request: canonicalJson(a.request),
        requestSha256: a.requestSha256,
        nonce: null,
        assertion: null,
        evidenceError: (e as Error).message,
      };
    }
  }

  /**
   * Mirrors activations into agent.db. When one of this device's activations is seen in a state
   * the journal has no record of yet, the record is appended in the same transaction — so the new
   * state is durable in the journal before anyone is told about it.
   */
  private remember(...views: ActivationView[]): Promise<void> {
    return this.rememberWith({}, ...views);
  }

  private async rememberWith(extra: AuditData, ...all: ActivationView[]): Promise<void> {
    // an end is final: a view of an activation as still live, fetched before the control plane
    // heard of an end made here (endLocally, or a concurrent list), must not bring it back
    const endedHere = this.agent.store.db.prepare('SELECT state FROM activations WHERE id = ?');
    const views = all.filter(
      (a) =>
        !(
          LIVE.has(a.state) &&
          TERMINAL.has((endedHere.get(a.id) as { state: ActivationState } | undefined)?.state as ActivationState)
        ),
    );
    const journal = await this.chain();
    const user = this.agent.store.connection()?.user ?? null;
    const device = journal?.device();
    const records: { type: AuditType; data: AuditData; id: string }[] = [];
    if (journal) {
      for (const a of views) {
        const type = auditTypeFor(a);
        if (!type || a.request.device !== device || journal.has(a.id, type)) continue;
        const data: AuditData = {
          activation: a.id,
          role: a.role,
          state: a.state,
          kind: a.request.kind,
          extends: a.request.extends,
          startsAt: a.startsAt,
          expiresAt: a.expiresAt,
          endReason: a.endReason,
        };
        if (WITH_EVIDENCE.has(type)) Object.assign(data, await this.evidence(a));
        Object.assign(data, extra);
        records.push({ type, data, id: a.id });
      }
    }
    const now = this.clock();
    const save = () => {
      for (const r of records) if (!journal!.has(r.id, r.type)) journal!.append(r.type, user, r.data);
      for (const a of views) this.agent.store.saveActivation(a, now);
    };
    if (journal) journal.write(save);
    else this.agent.store.db.transaction(save)();
    this.agent.emitChange();
  }
}

export { ControlPlaneError };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
