// The activation state machine (shared/activation-state) over the stored rows: every transition,
// the time-driven ones (sweep), what a request needs to take effect (admission), and the view the
// API returns. Shared by the activation, approval, issuance and user services.
import type { EventEmitter } from 'node:events';
import type { ActivationRequest, ActivationView } from '../../shared/activation';
import { transition, type ActivationEvent, type ActivationState } from '../../shared/activation-state';
import { admit, APPROVAL_TTL_MS, type Admission } from '../admission';
import { conflict, notFound } from '../api/errors';
import type { ActivationRow, ActivationsStore } from '../store/activations-store';
import type { ApprovalsStore } from '../store/approvals-store';
import type { Transact } from '../store/store';
import type { UsersStore } from '../store/users-store';
import type { Clock } from './ids';
import type { PolicySource } from './policy';

export class ActivationLifecycle {
  constructor(
    private readonly deps: {
      activations: ActivationsStore;
      approvals: Pick<ApprovalsStore, 'decisionsOf'>;
      users: Pick<UsersStore, 'device'>;
      transaction: Transact;
      clock: Clock;
      policy: PolicySource;
      /** where the ceremony pages are (the view links the one that signs a request) */
      publicUrl: string;
      /** 'change' (activation id) after every state transition: what long-polling agents wait on */
      events: EventEmitter;
    },
  ) {}

  row(id: string): ActivationRow {
    const r = this.deps.activations.get(String(id));
    if (!r) throw notFound('activation');
    return r;
  }

  view(r: ActivationRow): ActivationView {
    return {
      id: r.id,
      user: r.email,
      role: r.role,
      state: r.state,
      request: JSON.parse(r.request_json) as ActivationRequest,
      requestSha256: r.request_sha256,
      createdAt: r.created_at,
      startsAt: r.starts_at,
      expiresAt: r.expires_at,
      endReason: r.end_reason,
      approvals: this.deps.approvals.decisionsOf(r.id),
      approvalsNeeded: r.approvals_needed,
      ceremonyUrl: r.state === 'requested' ? `${this.deps.publicUrl}/ceremony/activation/${r.id}` : null,
    };
  }

  /** The facts admit() needs about a request that is about to take effect, read now. */
  admission(row: ActivationRow, now: Date, pendingSince: Date | null): Admission {
    const policy = this.deps.policy.current();
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const prev = row.extends_id ? this.row(row.extends_id) : null;
    return admit({
      request,
      now,
      role: policy.roles.roles.find((r) => r.name === row.role) ?? null,
      policyVersion: policy.version,
      policyExpires: new Date(policy.expires),
      subject: this.deps.policy.subject(row.email),
      activeCount: this.deps.activations.countLiveOthers(row.email, row.role, row.id, row.extends_id ?? ''),
      deviceEnrolled: this.deps.users.device(row.device) !== null,
      pendingSince,
      extending: prev ? { state: prev.state, endReason: prev.end_reason } : null,
    });
  }

  start(id: string, now: Date): void {
    const row = this.row(id);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    let startsAt = now;
    if (row.extends_id) {
      // an extension continues the active window; the previous activation ends where this begins
      const prev = this.row(row.extends_id);
      if (prev.state === 'active' && prev.expires_at)
        startsAt = new Date(Math.max(now.getTime(), Date.parse(prev.expires_at)));
      if (prev.state === 'active') this.end(prev.id, { type: 'deactivate' }, now, `extended by ${id}`);
    }
    this.apply(id, { type: 'start' }, now);
    const expiresAt = new Date((row.extends_id ? startsAt.getTime() : now.getTime()) + request.duration * 1000);
    this.deps.activations.setWindow(id, now.toISOString(), expiresAt.toISOString());
  }

  apply(id: string, event: ActivationEvent, now: Date): ActivationState {
    const row = this.row(id);
    const t = transition(row.state, event);
    if (!t.ok) throw conflict('bad-transition', t.error);
    const decided = ['approved', 'denied', 'pending-approval'].includes(t.state) ? now.toISOString() : row.decided_at;
    this.deps.activations.setState(id, row.state, t.state, decided);
    // listeners only resolve promises: they read the row after this transaction has committed
    this.deps.events.emit('change', id);
    return t.state;
  }

  end(id: string, event: ActivationEvent, now: Date, reason: string): void {
    this.apply(id, event, now);
    this.deps.activations.setEnded(id, now.toISOString(), reason);
  }

  /** Ends every live (active or approved) activation the device requested, with reason "device
   *  revoked", and its requests still waiting (to be signed, or approved): none may take effect
   *  later. Runs inside the caller's transaction. */
  endAllOfDevice(thumbprint: string, now: Date): { activations: string[]; requests: string[] } {
    const live = this.deps.activations.liveOfDevice(thumbprint);
    for (const id of live) this.end(id, { type: 'revoke' }, now, 'device revoked');
    const waiting = this.deps.activations.waitingOfDevice(thumbprint);
    for (const id of waiting) this.end(id, { type: 'refused' }, now, 'the device that signed the request was revoked');
    return { activations: live, requests: waiting };
  }

  /** Time-driven transitions: unsigned requests after 5 min, unapproved after 24 h, windows ending. */
  private lastSweep = -Infinity;

  sweep(): void {
    const now = this.deps.clock();
    // time-driven transitions need second precision, not a scan on every call
    if (now.getTime() - this.lastSweep < 1000 && now.getTime() >= this.lastSweep) return;
    this.lastSweep = now.getTime();
    const iso = now.toISOString();
    const store = this.deps.activations;
    this.deps.transaction(() => {
      for (const id of store.unsignedBy(iso))
        this.end(id, { type: 'request-timeout' }, now, 'not signed within 5 minutes');
      const cutoff = new Date(now.getTime() - APPROVAL_TTL_MS).toISOString();
      for (const id of store.pendingSince(cutoff))
        this.end(id, { type: 'request-timeout' }, now, 'not approved within 24 hours');
      for (const id of store.windowEndedBy(iso))
        this.end(id, { type: 'window-ended' }, now, 'the activation window ended');
    });
  }
}
