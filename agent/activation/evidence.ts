// Which journal record an activation's state makes, and the evidence that proves the key touch
// (request bytes, nonce, WebAuthn assertion, approvals) so anyone can re-verify it later.
import { errorMessage } from '../../shared/errors';
import type { ActivationView } from '../../shared/activation';
import type { AuditType } from '../../shared/audit';
import { canonicalJson } from '../../shared/canonical';
import type { AuditData } from '../audit/journal';
import type { ControlPlaneClient } from './cp-client';

/** What the control plane keeps as evidence of an activation: the contract's activationEvidence reply. */
export type { ActivationEvidence } from '../../shared/contracts/control-plane';

/** The journal record for an activation seen in `state` (null: `requested` is journaled on send). */
export function auditTypeFor(a: Pick<ActivationView, 'state' | 'request'>): AuditType | null {
  if (a.state === 'requested') return null;
  if (a.state === 'active' && a.request.kind === 'extend') return 'activation-extended';
  return `activation-${a.state}`;
}

/** States reached after the key touch: their records carry the evidence. */
export const WITH_EVIDENCE: ReadonlySet<AuditType> = new Set([
  'activation-pending-approval',
  'activation-approved',
  'activation-active',
  'activation-extended',
]);

/** Fetches what proves the key touch; when it cannot be had, says why (the control plane keeps it). */
export async function fetchEvidence(client: () => Promise<ControlPlaneClient>, a: ActivationView): Promise<AuditData> {
  try {
    const ev = await (await client()).request('activationEvidence', { params: { id: a.id } });
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
      evidenceError: errorMessage(e),
    };
  }
}
