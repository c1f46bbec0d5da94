// Activation requests: decide one with the same engine the agent used offline, sign it with a key
// touch, and what the requester (or an admin) does with it afterwards: read, wait on, deactivate,
// revoke, list, and the stored evidence.
import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import {
  ActivationRequestSchema,
  activationChallenge,
  objectHash,
  toBase64Url,
  type ActivationRequest,
  type ActivationView,
} from '../../shared/activation';
import { canonicalJson } from '../../shared/canonical';
import { decide } from '../../shared/policy/engine';
import type { Decision } from '../../shared/policy/types';
import { bad, conflict, forbidden, notFound, refuse } from '../api/errors';
import type { ServerConfig } from '../config';
import type { ActivationsStore } from '../store/activations-store';
import type { ApprovalsStore } from '../store/approvals-store';
import type { Transact } from '../store/store';
import type { UsersStore } from '../store/users-store';
import { assertionOptions } from '../webauthn';
import type { ApproverRules } from './approver-rules';
import { newId, type Caller, type Clock } from './ids';
import { NONCE_TTL_MS, type KeyAssertions } from './key-assertions';
import type { ActivationLifecycle } from './lifecycle';
import type { PolicySource } from './policy';

export class ActivationsService {
  constructor(
    private readonly deps: {
      activations: ActivationsStore;
      approvals: Pick<ApprovalsStore, 'evidenceOf'>;
      users: Pick<UsersStore, 'credentialsOf'>;
      transaction: Transact;
      lifecycle: ActivationLifecycle;
      policy: PolicySource;
      rules: ApproverRules;
      keys: KeyAssertions;
      clock: Clock;
      cfg: ServerConfig;
      /** 'change' (activation id) after every state transition (ActivationLifecycle emits it) */
      events: EventEmitter;
    },
  ) {}

  /** Decide a request with the same engine the agent used offline, against the current policy. */
  evaluate(request: ActivationRequest, activeCount: number): Decision {
    const p = this.deps.policy.current();
    const role = p.roles.roles.find((r) => r.name === request.role);
    if (!role) throw bad('unknown-role', `no role named "${request.role}" in policy v${p.version}`);
    return decide({
      subject: this.deps.policy.subject(request.user),
      role,
      now: this.deps.clock(),
      mode: 'request',
      ask: {
        duration: request.duration,
        justification: request.justification ?? undefined,
        ticket: request.ticket ?? undefined,
      },
      activeCount,
      policyExpires: new Date(p.expires),
    });
  }

  async create(
    caller: Caller,
    input: unknown,
  ): Promise<{
    activation: ActivationView;
    decision: Decision;
    options: Awaited<ReturnType<typeof assertionOptions>>;
  }> {
    const parsed = ActivationRequestSchema.safeParse(input);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw bad('bad-request', `activation request: ${i?.path.join('.') || 'request'}: ${i?.message ?? 'invalid'}`);
    }
    const request = parsed.data;
    if (request.user !== caller.email || request.device !== caller.device)
      throw forbidden('not-your-request', 'the request names another user or device than the one that signed it');
    const skew = Math.abs(Date.parse(request.requestedAt) - this.deps.clock().getTime());
    if (skew > NONCE_TTL_MS)
      throw bad('stale-request', 'requestedAt is more than 5 minutes away from the control plane clock');
    const policy = this.deps.policy.current();
    if (request.policyVersion > policy.version)
      throw bad(
        'unknown-policy-version',
        `policy v${request.policyVersion} does not exist (current is v${policy.version})`,
      );
    if (request.kind === 'extend') this.checkExtends(caller, request);
    this.deps.lifecycle.sweep();
    const active = this.deps.activations.countLive(request.user, request.role);
    const decision = this.evaluate(request, request.kind === 'extend' ? Math.max(0, active - 1) : active);
    if (!decision.allowed) {
      const why = decision.reasons.filter((r) => r.blocking);
      throw refuse('not-allowed', why.map((r) => `${r.code}: ${r.message}`).join('; '));
    }
    const credentials = this.deps.users.credentialsOf(request.user);
    if (credentials.length === 0)
      throw forbidden('no-security-key', 'you have no security key enrolled; run `pim enroll`');
    const id = newId();
    const nonce = crypto.randomBytes(32).toString('hex');
    const now = this.deps.clock();
    const approval = decision.requirements.approval;
    this.deps.activations.insertRequested({
      id,
      email: request.user,
      device: request.device,
      role: request.role,
      request_json: canonicalJson(request),
      request_sha256: objectHash(request),
      nonce,
      nonce_expires_at: new Date(now.getTime() + NONCE_TTL_MS).toISOString(),
      needs_approval: approval ? 1 : 0,
      approvals_needed: approval?.count ?? 0,
      created_at: now.toISOString(),
      extends_id: request.extends,
    });
    const options = await assertionOptions(
      this.deps.cfg,
      activationChallenge(nonce, request),
      credentials,
      decision.requirements.userVerification,
    );
    const { lifecycle } = this.deps;
    return { activation: lifecycle.view(lifecycle.row(id)), decision, options };
  }

  private checkExtends(caller: Caller, request: ActivationRequest): void {
    const prev = request.extends === null ? undefined : this.deps.activations.get(request.extends);
    if (!prev || prev.email !== caller.email) throw notFound('activation to extend');
    if (prev.state !== 'active')
      throw conflict('not-active', `only an active role can be extended (this one is ${prev.state})`);
    if (prev.role !== request.role) throw bad('role-mismatch', 'an extension must be for the same role');
  }

  /** What the ceremony page shows and signs: public by design (the challenge is bound to it). */
  async ceremony(id: string) {
    const row = this.deps.lifecycle.row(id);
    if (row.state !== 'requested') throw conflict('ceremony-done', `this request is already ${row.state}`);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const role = this.deps.policy.current().roles.roles.find((r) => r.name === row.role);
    const options = await assertionOptions(
      this.deps.cfg,
      activationChallenge(row.nonce, request),
      this.deps.users.credentialsOf(row.email),
      role?.activation.userVerification ?? 'required',
    );
    return {
      kind: 'activation' as const,
      id,
      request,
      requestSha256: row.request_sha256,
      nonce: row.nonce,
      nonceExpiresAt: row.nonce_expires_at,
      needsApproval: row.needs_approval === 1,
      options,
    };
  }

  /** The key touch arrives: verify it against the stored request, consume the nonce, move on. */
  async submitAssertion(id: string, response: AuthenticationResponseJSON): Promise<ActivationView> {
    const { lifecycle, keys } = this.deps;
    const row = lifecycle.row(id);
    const now = this.deps.clock();
    if (row.nonce_used_at) throw forbidden('nonce-used', 'this request was already signed (an assertion counts once)');
    if (Date.parse(row.nonce_expires_at) <= now.getTime())
      throw forbidden('nonce-expired', 'the request expired before the key was touched (5 minutes); ask again');
    if (row.state !== 'requested') throw conflict('ceremony-done', `this request is already ${row.state}`);
    const request = JSON.parse(row.request_json) as ActivationRequest;
    const policy = this.deps.policy.current();
    const role = policy.roles.roles.find((r) => r.name === row.role);
    if (!role) throw refuse('unknown-role', 'the role no longer exists', { status: 403 });
    // a revoked key is no longer listed, so a challenge issued before its revocation cannot be signed
    const credential = this.deps.users.credentialsOf(row.email).find((c) => c.id === response?.id);
    if (!credential)
      throw forbidden('unknown-credential', 'this security key is not enrolled for this user (or was revoked)');
    const expected = toBase64Url(activationChallenge(row.nonce, request));
    const { newCounter } = await keys.verify(
      response,
      credential,
      expected,
      role.activation.userVerification === 'required',
    );
    keys.flaggingRegression(credential.id, () => {
      // the nonce is consumed atomically: a second submission of anything fails here
      if (!this.deps.activations.markSigned(id, now.toISOString(), JSON.stringify(response), credential.id))
        throw forbidden('nonce-used', 'this request was already signed');
      keys.storeCounter(credential.id, newCounter);
      // checked after the signature verified (an unsigned POST must not end someone's request), in
      // the transaction that starts it: the facts cannot change between the check and the start
      const admission = lifecycle.admission(lifecycle.row(id), now, null);
      if (!admission.ok)
        return lifecycle.end(id, { type: 'refused' }, now, `not granted when signed: ${admission.message}`);
      // whether it waits for approvers, and for how many, is the policy in force now, not the one
      // it was asked under: a role made to need approval (or more of it) meanwhile does not start
      const approval = admission.decision.requirements.approval;
      this.deps.activations.setApprovalNeeds(id, approval !== null, approval?.count ?? 0);
      lifecycle.apply(id, { type: 'assertion-verified', needsApproval: approval !== null }, now);
      if (!approval) lifecycle.start(id, now);
    });
    return lifecycle.view(lifecycle.row(id));
  }

  deactivate(caller: Caller, id: string): ActivationView {
    const { lifecycle } = this.deps;
    const row = lifecycle.row(id);
    if (row.email !== caller.email) throw notFound('activation');
    this.deps.transaction(() =>
      lifecycle.end(id, { type: 'deactivate' }, this.deps.clock(), 'deactivated by the user'),
    );
    return lifecycle.view(lifecycle.row(id));
  }

  revoke(id: string, reason: string): ActivationView {
    const { lifecycle } = this.deps;
    this.deps.transaction(() => lifecycle.end(id, { type: 'revoke' }, this.deps.clock(), reason));
    return lifecycle.view(lifecycle.row(id));
  }

  /** One activation, to its requester or to someone who may approve it; others see no such one. */
  get(caller: Caller, id: string): ActivationView {
    const { lifecycle } = this.deps;
    lifecycle.sweep();
    const row = lifecycle.row(id);
    if (row.email !== caller.email && !this.deps.rules.canApprove(caller.email, row)) throw notFound('activation');
    return lifecycle.view(row);
  }

  /** Long poll: the activation as soon as its state differs from `seen`, or as it is after `timeoutMs`. */
  async waitForChange(
    caller: Caller,
    id: string,
    seen: string,
    timeoutMs: number,
    /** the caller went away: stop waiting */
    signal?: AbortSignal,
  ): Promise<ActivationView> {
    const now = this.get(caller, id);
    if (now.state !== seen || signal?.aborted) return now;
    const { events } = this.deps;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        events.off('change', onChange);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onChange = (changed: string) => changed === id && done();
      const timer = setTimeout(done, timeoutMs);
      timer.unref(); // a pending long poll must not keep a stopping server alive
      events.on('change', onChange);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.get(caller, id);
  }

  /** Every activation, newest first (admin view: `pim-server activation list`); `live` keeps those
   *  not ended yet. */
  all(opts: { live?: boolean; limit?: number } = {}): (ActivationView & { device: string })[] {
    const { lifecycle } = this.deps;
    lifecycle.sweep();
    return this.deps.activations
      .list({ live: opts.live === true, limit: opts.limit ?? 1000 })
      .map((r) => ({ ...lifecycle.view(r), device: r.device }));
  }

  /** The caller's own, newest first. */
  list(caller: Caller): ActivationView[] {
    const { lifecycle } = this.deps;
    lifecycle.sweep();
    return this.deps.activations.ofUser(caller.email).map((r) => lifecycle.view(r));
  }

  /** Time-driven transitions (see ActivationLifecycle.sweep). */
  sweep(): void {
    this.deps.lifecycle.sweep();
  }

  /** The stored evidence for an activation: request bytes, nonce, assertion, approvals. */
  evidence(id: string) {
    const r = this.deps.lifecycle.row(id);
    return {
      request: r.request_json,
      requestSha256: r.request_sha256,
      nonce: r.nonce,
      assertion: r.assertion_json ? (JSON.parse(r.assertion_json) as AuthenticationResponseJSON) : null,
      credentialId: r.credential_id,
      approvals: this.deps.approvals.evidenceOf(id),
    };
  }

  /** evidence(), for the activation's owner only (the agent journals it); others see no such activation */
  evidenceFor(caller: Caller, id: string) {
    if (this.deps.lifecycle.row(id).email !== caller.email) throw notFound('activation');
    return this.evidence(id);
  }
}
