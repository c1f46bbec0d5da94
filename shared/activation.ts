// The activation protocol's signed objects (docs/architecture.md, Flows: Activation with WebAuthn). The agent builds a
// request, the server re-evaluates it with the same engine and binds a WebAuthn challenge to its exact bytes:
//   requestHash = SHA-256(JCS(request))
//   challenge   = SHA-256("pim-activation/v1" ‖ nonce ‖ requestHash)
// so the key touch is evidence of intent for that role, duration, reason, ticket and SSH key —
// anyone holding the request bytes, the nonce and the assertion can re-verify it later.
// Approvals are bound the same way to (request hash, decision), with their own domain tag.
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';
import { canonicalJson } from './canonical';
import { ROLE_NAME_RE } from './role-name';

const email = z
  .string()
  .min(3)
  .max(254)
  .regex(/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/, 'not an e-mail address');
const noControl = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed');
const instant = z
  .string()
  .refine(
    (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/.test(s) && !Number.isNaN(Date.parse(s)),
    'not an ISO-8601 UTC instant',
  );

export const ActivationRequestSchema = z
  .object({
    v: z.literal(1),
    /** 'extend' asks for more time on an active activation, chained by `extends` */
    kind: z.enum(['activate', 'extend']),
    user: email,
    /** RFC 7638 thumbprint of the device key that sent it */
    device: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'not a JWK thumbprint'),
    role: z.string().regex(ROLE_NAME_RE, 'not a role name'),
    /** seconds */
    duration: z
      .number()
      .int()
      .positive()
      .max(366 * 86400),
    justification: noControl(1000).nullable(),
    ticket: noControl(128).nullable(),
    /** the ephemeral SSH key the certificate will be issued for ("ssh-ed25519 AAAA…"), if any */
    sshPublicKey: z
      .string()
      .max(2000)
      .regex(/^ssh-ed25519 [A-Za-z0-9+/=]+$/, 'not an ssh-ed25519 public key')
      .nullable(),
    policyVersion: z.number().int().nonnegative(),
    requestedAt: instant,
    extends: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .nullable(),
  })
  .strict()
  .refine((r) => (r.kind === 'extend') === (r.extends !== null), {
    message: 'extends is set exactly when kind is extend',
    path: ['extends'],
  });

export type ActivationRequest = z.infer<typeof ActivationRequestSchema>;

/** An activation as the control plane reports it to agents and ceremony pages: the type of
 *  ActivationViewSchema in shared/api.ts, where its one definition is. */
export type { ActivationView } from './api';

export const ApprovalStatementSchema = z
  .object({
    v: z.literal(1),
    activation: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** hex SHA-256 of the request being decided: the approver signs what the requester signed */
    requestHash: z.string().regex(/^[0-9a-f]{64}$/),
    decision: z.enum(['approve', 'deny']),
    approver: email,
    reason: noControl(1000).nullable(),
  })
  .strict();

export type ApprovalStatement = z.infer<typeof ApprovalStatementSchema>;

const ACTIVATION_TAG = utf8ToBytes('pim-activation/v1');
const APPROVAL_TAG = utf8ToBytes('pim-approval/v1');

/** RFC 8785 bytes of a request or statement: what is hashed, stored and shown as evidence. */
export function canonicalBytes(value: ActivationRequest | ApprovalStatement): Uint8Array {
  return utf8ToBytes(canonicalJson(value));
}

export function objectHash(value: ActivationRequest | ApprovalStatement): string {
  return bytesToHex(sha256(canonicalBytes(value)));
}

function challengeFor(tag: Uint8Array, nonceHex: string, hashHex: string): Uint8Array {
  const nonce = hexToBytes(nonceHex);
  if (nonce.length !== 32) throw new Error('nonce must be 32 bytes');
  return sha256(concatBytes(tag, nonce, hexToBytes(hashHex)));
}

/** challenge = SHA-256("pim-activation/v1" ‖ nonce ‖ SHA-256(JCS(request))) */
export function activationChallenge(nonceHex: string, request: ActivationRequest): Uint8Array {
  return challengeFor(ACTIVATION_TAG, nonceHex, objectHash(request));
}

/** challenge = SHA-256("pim-approval/v1" ‖ nonce ‖ SHA-256(JCS(statement))) */
export function approvalChallenge(nonceHex: string, statement: ApprovalStatement): Uint8Array {
  return challengeFor(APPROVAL_TAG, nonceHex, objectHash(statement));
}

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
