// Approvals: who may decide on a request waiting for approvers, the statement an approver signs
// with a key touch, and the quorum that starts the request under the policy in force then.
import crypto from 'node:crypto';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import {
  approvalChallenge,
  toBase64Url,
  type ActivationRequest,
  type ActivationView,
  type ApprovalStatement,
} from '../../shared/activation';
import { APPROVAL_TTL_MS, quorum } from '../admission';
import { bad, conflict, forbidden, notFound } from '../api/errors';
import type { ServerConfig } from '../config';
import type { ActivationRow, ActivationsStore } from '../store/activations-store';
import type { ApprovalChallengeRow, ApprovalsStore } from '../store/approvals-store';
import type { Transact } from '../store/store';
import type { UsersStore } from '../store/users-store';
import { assertionOptions } from '../webauthn';
import type { ApproverRules } from './approver-rules';
import type { Caller, Clock } from './ids';
import { NONCE_TTL_MS, type KeyAssertions } from './key-assertions';
import type { ActivationLifecycle } from './lifecycle';
import type { PolicySource } from './policy';

export class ApprovalsService {
  constructor(
    private readonly deps: {
      approvals: ApprovalsStore;
      activations: Pick<ActivationsStore, 'pendingApproval' | 'setApprovalsNeeded'>;
      users: Pick<UsersStore, 'credentialsOf' | 'device'>;
      transaction: Transact;
      lifecycle: ActivationLifecycle;
      policy: PolicySource;
      rules: ApproverRules;
      keys: KeyAssertions;
      clock: Clock;
      cfg: ServerConfig;
    },
  ) {}

  /** The requests waiting for this caller's decision. */
  pending(caller: Caller): ActivationView[] {
    const { lifecycle, rules } = this.deps;
    lifecycle.sweep();
    return this.deps.activations
      .pendingApproval()
      .filter(
        (r) =>
          rules.canApprove(caller.email, r) &&
          rules.selfApprovalOk(caller.email, r) &&
          !this.deps.approvals.hasDecided(r.id, caller.email),
      )
      .map((r) => lifecycle.view(r));
  }

  /** An approver asks to decide: returns the statement to sign and its ceremony. */
  async challenge(caller: Caller, id: string, decision: 'approve' | 'deny', reason: string | null) {
    const { lifecycle, rules } = this.deps;
    lifecycle.sweep();
    const row = lifecycle.row(id);
    if (!rules.canApprove(caller.email, row))
      throw forbidden('not-an-approver', `you are not an approver for ${row.role}`);
    if (!rules.selfApprovalOk(caller.email, row))
      throw forbidden('self-approval-forbidden', `${row.role} does not allow approving your own request`);
    if (row.state !== 'pending-approval') throw conflict('not-pending', `this request is ${row.state}`);
    if (this.deps.approvals.hasDecided(id, caller.email))
      throw conflict('already-decided', 'you already decided on this request');
    if (decision === 'deny' && !reason?.trim())
      throw bad('reason-required', 'a denial needs a reason the requester will see');
    const statement: ApprovalStatement = {
      v: 1,
      activation: id,
      requestHash: row.request_sha256,
      decision,
      approver: caller.email,
      reason: reason?.trim() || null,
    };
    const nonce = crypto.randomBytes(32).toString('hex');
    this.deps.approvals.addChallenge({
      nonce,
      activation_id: id,
      approver: caller.email,
      statement_json: JSON.stringify(statement),
      expires_at: new Date(this.deps.clock().getTime() + NONCE_TTL_MS).toISOString(),
      device: caller.device,
    });
    const options = await assertionOptions(
      this.deps.cfg,
      approvalChallenge(nonce, statement),
      this.deps.users.credentialsOf(caller.email),
      'required',
    );
    return {
      ceremonyId: nonce,
      statement,
      ceremonyUrl: `${this.deps.cfg.publicUrl}/ceremony/approval/${nonce}`,
      options,
    };
  }

  /** What the approval ceremony page shows and signs. */
  async ceremony(nonce: string) {
    const c = this.challengeRow(nonce);
    const statement = JSON.parse(c.statement_json) as ApprovalStatement;
    const row = this.deps.lifecycle.row(c.activation_id);
    const options = await assertionOptions(
      this.deps.cfg,
      approvalChallenge(nonce, statement),
      this.deps.users.credentialsOf(c.approver),
      'required',
    );
    return {
      kind: 'approval' as const,
      statement,
      request: JSON.parse(row.request_json) as ActivationRequest,
      requester: row.email,
      options,
    };
  }

  private challengeRow(nonce: string): ApprovalChallengeRow {
    const c = this.deps.approvals.challenge(String(nonce));
    if (!c) throw notFound('approval ceremony');
    return c;
  }

  /** The approver's key touch arrives: verify it, record the decision, and act on it. */
  async submitAssertion(nonce: string, response: AuthenticationResponseJSON): Promise<ActivationView> {
    const { lifecycle, rules, keys, approvals } = this.deps;
    const c = this.challengeRow(nonce);
    const now = this.deps.clock();
    if (c.used_at) throw forbidden('nonce-used', 'this approval was already signed');
    if (Date.parse(c.expires_at) <= now.getTime())
      throw forbidden('nonce-expired', 'the approval expired before the key was touched; decide again');
    const statement = JSON.parse(c.statement_json) as ApprovalStatement;
    const row = lifecycle.row(c.activation_id);
    // the 24 h deadline is the server's, whatever the sweep has done yet: a touch after it grants nothing
    if (
      row.state === 'pending-approval' &&
      row.decided_at &&
      now.getTime() >= Date.parse(row.decided_at) + APPROVAL_TTL_MS
    ) {
      this.deps.transaction(() =>
        lifecycle.end(row.id, { type: 'request-timeout' }, now, 'not approved within 24 hours'),
      );
      throw conflict(
        'approval-deadline-passed',
        'this request was not approved within 24 hours and has expired; the requester must ask again',
      );
    }
    if (row.state !== 'pending-approval') throw conflict('not-pending', `this request is ${row.state}`);
    if (!rules.canApprove(c.approver, row))
      throw forbidden('not-an-approver', `${c.approver} is no longer an approver for ${row.role}`);
    if (!rules.selfApprovalOk(c.approver, row))
      throw forbidden('self-approval-forbidden', `${row.role} does not allow approving your own request`);
    if (statement.requestHash !== row.request_sha256)
      throw forbidden('challenge-mismatch', 'the approval is for another request');
    // the approver's device asked for this challenge; once it is revoked, what it asked for is void
    if (c.device !== null && this.deps.users.device(c.device) === null)
      throw forbidden(
        'device-revoked',
        'the device that asked for this approval was revoked; decide again from an enrolled device',
      );
    // a revoked key is no longer listed, so a challenge issued before its revocation cannot be signed
    const credential = this.deps.users.credentialsOf(c.approver).find((k) => k.id === response?.id);
    if (!credential)
      throw forbidden('unknown-credential', 'this security key is not enrolled for the approver (or was revoked)');
    const { newCounter } = await keys.verify(
      response,
      credential,
      toBase64Url(approvalChallenge(nonce, statement)),
      true,
    );
    keys.flaggingRegression(credential.id, () => {
      if (!approvals.useChallenge(nonce, now.toISOString()))
        throw forbidden('nonce-used', 'this approval was already signed');
      // the same approver through two challenges: the second one only learns it was too late
      if (approvals.hasDecided(row.id, c.approver))
        throw conflict('already-decided', 'you already decided on this request');
      const current = lifecycle.row(row.id);
      if (current.state !== 'pending-approval') throw conflict('not-pending', `this request is ${current.state}`);
      keys.storeCounter(credential.id, newCounter);
      approvals.add({
        activationId: row.id,
        approver: c.approver,
        decision: statement.decision,
        reason: statement.reason,
        statementJson: c.statement_json,
        nonce,
        assertionJson: JSON.stringify(response),
        credentialId: credential.id,
        createdAt: now.toISOString(),
      });
      if (statement.decision === 'deny') {
        lifecycle.end(row.id, { type: 'denied' }, now, `denied by ${c.approver}: ${statement.reason ?? ''}`);
      } else {
        this.afterApproval(current, now);
      }
    });
    return lifecycle.view(lifecycle.row(row.id));
  }

  /** An approval was recorded: start the request if the policy in force now allows it and enough
   *  approvals count under it. Only approvals by people who may approve now count (an approver
   *  removed from the group after approving no longer does), against the count the policy asks now
   *  (raised from 1 to 2 while it waited: one approval is not enough). */
  private afterApproval(current: ActivationRow, now: Date): void {
    const { lifecycle, rules } = this.deps;
    const admission = lifecycle.admission(current, now, current.decided_at ? new Date(current.decided_at) : null);
    const rule = this.deps.policy.current().roles.roles.find((r) => r.name === current.role)?.activation.approval;
    const { needed, reached } = quorum({
      admission,
      approvers: this.deps.approvals.approversOf(current.id),
      mayApprove: (a) => rules.canApprove(a, current) && rules.selfApprovalOk(a, current),
      storedNeeded: current.approvals_needed,
      ruleCount: rule?.count ?? null,
    });
    // the requester sees how many approvals the policy asks for now
    if (needed !== current.approvals_needed) this.deps.activations.setApprovalsNeeded(current.id, needed);
    if (!reached) return;
    // the last approval: the request takes effect only if the policy in force now allows it
    if (!admission.ok) {
      if (admission.expired) lifecycle.end(current.id, { type: 'request-timeout' }, now, admission.message);
      else lifecycle.end(current.id, { type: 'refused' }, now, `not granted when approved: ${admission.message}`);
      return;
    }
    lifecycle.apply(current.id, { type: 'quorum-reached' }, now);
    lifecycle.start(current.id, now);
  }
}
