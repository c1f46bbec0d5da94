// The agent's side of enrolment, activation and approval (DESIGN §3). It builds the request the
// user's key will sign, checks it offline with the same engine first, talks to the control plane
// with device-signed calls, and mirrors each activation's state into agent.db.
import crypto from 'node:crypto';
import type { ActivationRequest, ActivationView } from '../../../shared/activation';
import type { ActivationState } from '../../../shared/activation-state';
import type { Agent } from '../agent';
import { AgentError } from '../agent';
import { createDeviceKey, loadDeviceKey, openKeystore, type DeviceKey } from '../keystore';
import { ControlPlaneClient, ControlPlaneError } from './cp-client';


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
  if (u.protocol !== 'https:' && u.hostname !== 'localhost') throw new AgentError('bad-input', 'enrolment links must be https (http only for localhost)');
  return { server: u.origin, code, rootSha256: root };
}

const FINAL_OR_WAITING: ReadonlySet<ActivationState> = new Set(['pending-approval', 'approved', 'active', 'denied', 'request-expired', 'expired', 'deactivated', 'revoked']);

export class ActivationService {
  private key: DeviceKey | null | undefined;

  constructor(private readonly agent: Agent) {}

  private async deviceKey(): Promise<DeviceKey | null> {
    if (this.key === undefined) this.key = await loadDeviceKey(openKeystore(this.agent.home));
    return this.key;
  }

  private async client(): Promise<ControlPlaneClient> {
    const conn = this.agent.store.connection();
    if (!conn) throw new AgentError('not-connected', 'not enrolled: run `pim enroll LINK`');
    const key = await this.deviceKey();
    if (!key || conn.unenrolled) throw new AgentError('not-enrolled', 'this agent is connected without enrolment (demo/test path): run `pim enroll LINK` to activate roles');
    return new ControlPlaneClient(conn.server, key);
  }

  /** Enrol this device: pin the trust root from the link, create the device key, then wait while
   *  the user registers a security key on the ceremony page (`onCeremony` opens it). */
  async enroll(link: string, opts: { onCeremony: (url: string) => void; timeoutMs?: number; replaceKey?: boolean }): Promise<{ user: string; server: string }> {
    const started = await this.beginEnrolment(link, { replaceKey: opts.replaceKey });
    opts.onCeremony(started.ceremonyUrl);
    return started.finish({ timeoutMs: opts.timeoutMs });
  }

  /** The first half of enrolment, which returns at once: trust root checked against the link,
   *  device key ready, ceremony started. `finish` waits for the key to be registered, then
   *  connects the agent (the UI runs it in the background; `pim enroll` awaits it). */
  async beginEnrolment(link: string, opts: { replaceKey?: boolean } = {}): Promise<PendingEnrolment> {
    const l = parseEnrolmentLink(link);
    let root: Buffer;
    try {
      const res = await fetch(`${l.server}/trust-root.json`, { signal: AbortSignal.timeout(15_000), redirect: 'error' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      root = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw new AgentError('unreachable', `cannot fetch the trust root from ${l.server} (${(e as Error).message})`);
    }
    const actual = crypto.createHash('sha256').update(root).digest('hex');
    if (actual !== l.rootSha256) throw new AgentError('root-mismatch', `the control plane's trust root (sha256 ${actual.slice(0, 16)}…) is not the one in the link (${l.rootSha256.slice(0, 16)}…): refusing to enrol`);
    const ks = openKeystore(this.agent.home);
    const existing = await loadDeviceKey(ks);
    const key = existing && !opts.replaceKey ? existing : await createDeviceKey(ks, { replace: true });
    this.key = key;
    const client = new ControlPlaneClient(l.server, key);
    const started = await client.call<{ id: string; user: string; ceremonyUrl: string }>('POST', '/api/v1/enrol/start', { code: l.code, deviceJwk: key.publicJwk });
    const finish = async (o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ user: string; server: string }> => {
      const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
      for (;;) {
        if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
        const s = await client.call<{ state: string; user: string }>('GET', `/api/v1/enrol/${started.id}`);
        if (s.state === 'complete') break;
        if (s.state === 'expired' || Date.now() > deadline) throw new AgentError('enrolment-expired', 'the security key was not registered in time; run `pim enroll` again with a new link');
        await sleep(1000);
      }
      if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
      this.agent.connect({ server: l.server, user: started.user, root, unenrolled: false });
      return { user: started.user, server: l.server };
    };
    return { id: started.id, user: started.user, server: l.server, ceremonyUrl: started.ceremonyUrl, deviceThumbprint: key.thumbprint, finish };
  }

  /** Ask for a role: checked offline first, then sent; returns the ceremony to sign it in. */
  async request(role: string, ask: { duration?: number; justification?: string; ticket?: string; extends?: string }): Promise<ActivationView> {
    const conn = this.agent.store.connection();
    const policy = this.agent.store.policySummary();
    if (!conn || !policy) throw new AgentError('no-policy', 'no verified policy yet: run `pim policy refresh`');
    const active = this.localActive(role).length;
    const offline = this.agent.decideRequest(role, ask, ask.extends ? Math.max(0, active - 1) : active);
    if (!offline.allowed) {
      throw new AgentError('not-allowed', offline.reasons.filter((r) => r.blocking).map((r) => `${r.code}: ${r.message}`).join('; '));
    }
    const key = await this.deviceKey();
    if (!key) throw new AgentError('not-enrolled', 'this agent has no device key: run `pim enroll LINK`');
    const request: ActivationRequest = {
      v: 1,
      kind: ask.extends ? 'extend' : 'activate',
      user: conn.user,
      device: key.thumbprint,
      role,
      duration: ask.duration ?? offline.requirements.defaultDuration,
      justification: ask.justification?.trim() || null,
      ticket: ask.ticket?.trim() || null,
      sshPublicKey: null,
      policyVersion: policy.version,
      requestedAt: new Date().toISOString(),
      extends: ask.extends ?? null,
    };
    const client = await this.client();
    const { activation } = await client.call<{ activation: ActivationView }>('POST', '/api/v1/activations', { request });
    this.remember(activation);
    return activation;
  }

  /** Ask for more time on an active role: a new signed request chained to the active one. */
  async extend(role: string, ask: { duration?: number; justification?: string; ticket?: string }): Promise<ActivationView> {
    const client = await this.client();
    const active = (await client.call<ActivationView[]>('GET', '/api/v1/activations')).find((a) => a.role === role && a.state === 'active');
    if (!active) throw new AgentError('not-active', `${role} is not active: activate it instead of extending it`);
    return this.request(role, {
      duration: ask.duration ?? active.request.duration,
      justification: ask.justification ?? active.request.justification ?? undefined,
      ticket: ask.ticket ?? active.request.ticket ?? undefined,
      extends: active.id,
    });
  }

  async get(id: string): Promise<ActivationView> {
    const a = await (await this.client()).call<ActivationView>('GET', `/api/v1/activations/${encodeURIComponent(id)}`);
    this.remember(a);
    return a;
  }

  /** Wait (long poll) until the request leaves `requested` (signed) — and, with `untilDecided`,
   *  until it also leaves `pending-approval`. */
  async wait(id: string, opts: { untilDecided: boolean; timeoutMs: number; onState?: (s: ActivationState) => void }): Promise<ActivationView> {
    const deadline = Date.now() + opts.timeoutMs;
    const client = await this.client();
    let a = await this.get(id);
    opts.onState?.(a.state);
    for (;;) {
      const done = FINAL_OR_WAITING.has(a.state) && !(opts.untilDecided && a.state === 'pending-approval');
      const left = deadline - Date.now();
      if (done || left <= 0) return a;
      const seen = a.state;
      a = await client.call<ActivationView>('GET', `/api/v1/activations/${encodeURIComponent(id)}?wait=${encodeURIComponent(seen)}&timeout=${Math.max(1, Math.min(25, Math.floor(left / 1000)))}`);
      this.remember(a);
      if (a.state !== seen) opts.onState?.(a.state);
    }
  }

  async deactivate(role: string): Promise<ActivationView[]> {
    const client = await this.client();
    const mine = (await client.call<ActivationView[]>('GET', '/api/v1/activations')).filter((a) => a.role === role && ['active', 'approved', 'pending-approval', 'requested'].includes(a.state));
    if (mine.length === 0) throw new AgentError('not-active', `${role} is not active`);
    const out: ActivationView[] = [];
    for (const a of mine) {
      const v = await client.call<ActivationView>('POST', `/api/v1/activations/${encodeURIComponent(a.id)}/deactivate`, {});
      this.remember(v);
      out.push(v);
    }
    return out;
  }

  /** End one activation (or withdraw one request) by its id. */
  async deactivateId(id: string): Promise<ActivationView> {
    const v = await (await this.client()).call<ActivationView>('POST', `/api/v1/activations/${encodeURIComponent(id)}/deactivate`, {});
    this.remember(v);
    return v;
  }

  async list(): Promise<ActivationView[]> {
    const all = await (await this.client()).call<ActivationView[]>('GET', '/api/v1/activations');
    const now = new Date();
    this.agent.store.db.transaction(() => {
      for (const a of all) this.agent.store.saveActivation(a, now);
    })();
    this.agent.emitChange();
    return all;
  }

  async approvals(): Promise<ActivationView[]> {
    return (await this.client()).call<ActivationView[]>('GET', '/api/v1/approvals');
  }

  /** Start an approval or denial; returns the ceremony where the approver's key signs it. */
  async decide(id: string, decision: 'approve' | 'deny', reason: string | null): Promise<{ ceremonyId: string; ceremonyUrl: string }> {
    return (await this.client()).call('POST', `/api/v1/approvals/${encodeURIComponent(id)}`, { decision, reason });
  }

  /** Wait until this approver's decision is recorded on the activation. */
  async waitForDecision(id: string, approver: string, timeoutMs: number): Promise<ActivationView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = await this.get(id);
      if (a.approvals.some((x) => x.approver === approver) || Date.now() > deadline) return a;
      await sleep(500);
    }
  }

  private localActive(role: string): { id: string }[] {
    return this.agent.store.db.prepare("SELECT id FROM activations WHERE role = ? AND state IN ('active', 'approved') AND (expires_at IS NULL OR expires_at > ?)").all(role, new Date().toISOString()) as { id: string }[];
  }

  private remember(a: ActivationView): void {
    this.agent.store.saveActivation(a, new Date());
    this.agent.emitChange();
  }
}

export { ControlPlaneError };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
