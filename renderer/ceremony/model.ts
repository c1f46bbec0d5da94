// What the ceremony page is about and what the control plane sends it (GET /api/v1/ceremony/…).
// Pure: no DOM, no React. The shapes mirror server/control-plane.ts (enrolmentCeremony,
// activationCeremony, approvalCeremony) without importing the server.
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import type { ActivationRequest, ApprovalStatement } from '../../shared/activation';
import type { ActivationState } from '../../shared/activation-state';

export type CeremonyKind = 'enrol' | 'activation' | 'approval';

export interface CeremonyRoute {
  kind: CeremonyKind;
  id: string;
}

export interface EnrolmentCeremony {
  kind: 'enrolment';
  user: string;
  /** RFC 7638 thumbprint of the device key being bound */
  device: string;
  options: PublicKeyCredentialCreationOptionsJSON;
}

export interface ActivationCeremony {
  kind: 'activation';
  id: string;
  request: ActivationRequest;
  requestSha256: string;
  nonce: string;
  nonceExpiresAt: string;
  needsApproval: boolean;
  options: PublicKeyCredentialRequestOptionsJSON;
}

export interface ApprovalCeremony {
  kind: 'approval';
  statement: ApprovalStatement;
  request: ActivationRequest;
  requester: string;
  options: PublicKeyCredentialRequestOptionsJSON;
}

export type Ceremony = EnrolmentCeremony | ActivationCeremony | ApprovalCeremony;

/** The part of the server's ActivationView the page uses after a touch. */
export interface ActivationOutcome {
  id: string;
  user: string;
  role: string;
  state: ActivationState;
  expiresAt: string | null;
  endReason: string | null;
  approvals: { approver: string; decision: string; reason: string | null; at: string }[];
  approvalsNeeded: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const NONCE = /^[0-9a-f]{64}$/;

/** `/ceremony/enrol/ID`, `/ceremony/activation/ID`, `/ceremony/approval/NONCE`; null otherwise. */
export function parseCeremonyPath(pathname: string): CeremonyRoute | null {
  const m = /^\/ceremony\/(enrol|activation|approval)\/([^/]+)\/?$/.exec(pathname);
  if (!m) return null;
  const kind = m[1] as CeremonyKind;
  const id = m[2]!;
  if (kind === 'approval' ? !NONCE.test(id) : !ID.test(id)) return null;
  return { kind, id };
}

/** The kind of ceremony a GET answer must be for the route it was fetched from. */
export const EXPECTED_KIND: Record<CeremonyKind, Ceremony['kind']> = {
  enrol: 'enrolment',
  activation: 'activation',
  approval: 'approval',
};
