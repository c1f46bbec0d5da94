// Admission: may a request take effect NOW? Asked at the moment a request would become active — the
// key touch of an auto-approved role, the last approval of one that needs approval, an extension
// taking over — and never only at the time it was asked: a request can wait up to 24 hours, and
// meanwhile the policy is republished, the windows close, the role fills up, the device is revoked.
// Pure: the caller (control-plane.ts) gathers the facts inside the transaction that would start it.
import type { ActivationRequest } from '../shared/activation';
import type { ActivationState } from '../shared/activation-state';
import { decide } from '../shared/policy/engine';
import type { CompiledRole, Decision, Subject } from '../shared/policy/types';

export const APPROVAL_TTL_MS = 24 * 3600_000;

export interface AdmissionInput {
  request: ActivationRequest;
  /** the server's clock */
  now: Date;
  /** the role in the policy in force now; null when it was removed */
  role: CompiledRole | null;
  policyVersion: number;
  policyExpires: Date;
  /** the requester as the policy in force now sees them */
  subject: Subject;
  /** the requester's other live (approved or active) activations of this role, not counting the
   *  one an extension replaces */
  activeCount: number;
  /** false once the device that signed the request was revoked */
  deviceEnrolled: boolean;
  /** when the request started waiting for approval (its 24 h deadline runs from there); null for
   *  auto-approved roles */
  pendingSince: Date | null;
  /** for an extension: the activation it continues, as it is now */
  extending: { state: ActivationState; endReason: string | null } | null;
}

export type Admission =
  | { ok: true; decision: Decision }
  /** `expired`: the request timed out (request-expired) rather than being refused (denied) */
  | { ok: false; code: string; message: string; expired: boolean };

const no = (code: string, message: string, expired = false): Admission => ({ ok: false, code, message, expired });

export function admit(input: AdmissionInput): Admission {
  const { request, now, role } = input;
  if (input.pendingSince !== null && now.getTime() >= input.pendingSince.getTime() + APPROVAL_TTL_MS) {
    return no('approval-deadline-passed', 'not approved within 24 hours', true);
  }
  if (!input.deviceEnrolled) return no('device-revoked', 'the device that signed the request was revoked');
  if (role === null)
    return no('role-removed', `role ${request.role} is no longer in the policy (v${input.policyVersion})`);
  if (request.kind === 'extend' && input.extending?.state !== 'active') {
    const was = input.extending
      ? `${input.extending.state}${input.extending.endReason ? `: ${input.extending.endReason}` : ''}`
      : 'unknown';
    return no('extended-not-active', `the activation it extends is no longer active (${was}); request the role again`);
  }
  const decision = decide({
    subject: input.subject,
    role,
    now,
    mode: 'request',
    ask: {
      duration: request.duration,
      justification: request.justification ?? undefined,
      ticket: request.ticket ?? undefined,
    },
    activeCount: input.activeCount,
    policyExpires: input.policyExpires,
  });
  if (!decision.allowed) {
    const blocking = decision.reasons.filter((r) => r.blocking);
    return no(
      blocking[0]?.code ?? 'not-allowed',
      `the policy in force (v${input.policyVersion}) no longer allows it: ${blocking.map((r) => `${r.code}: ${r.message}`).join('; ')}`,
    );
  }
  return { ok: true, decision };
}

/**
 * After an approval was recorded: do the approvals so far reach the quorum the policy in force asks
 * for now? Only approvers that policy still lets approve this request count (`mayApprove`), against
 * its count now — not the count stored when the request was made. When admission refuses, the
 * count is the stricter of the stored one and the role's rule now (if the role still has one), so
 * a refusal is reported only once the request would otherwise have started.
 */
export function quorum(input: {
  admission: Admission;
  approvers: readonly string[];
  mayApprove: (approver: string) => boolean;
  storedNeeded: number;
  ruleCount: number | null;
}): { needed: number; counted: number; reached: boolean } {
  const { admission } = input;
  const needed = admission.ok
    ? (admission.decision.requirements.approval?.count ?? 0)
    : Math.max(input.storedNeeded, input.ruleCount ?? 0);
  const counted = new Set(input.approvers.filter((a) => input.mayApprove(a))).size;
  return { needed, counted, reached: counted >= needed };
}
