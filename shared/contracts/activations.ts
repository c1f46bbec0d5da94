// Activations as the agent asks for, follows, ends and draws credentials for them.
import { z } from 'zod';
import { ActivationRequestSchema } from '../activation';
import { ActivationViewSchema, DecisionSchema } from '../api';
import { IssuedCredentialsSchema } from '../credentials';
import { EmptyBody, IdParams, WebAuthnOptions } from './common';
import { defineRoute, NoParams, NoQuery } from './route';

/** What the control plane keeps as evidence of an activation; the agent journals it as it comes
 *  (the assertion and approvals are re-verifiable JSON, kept whole). */
export const ActivationEvidenceSchema = z.object({
  /** the canonical (JCS) request JSON the key signed */
  request: z.string(),
  requestSha256: z.string(),
  /** hex; challenge = SHA-256("pim-activation/v1" ‖ nonce ‖ requestSha256) */
  nonce: z.string(),
  /** WebAuthn AuthenticationResponseJSON, once the key was touched */
  assertion: z.unknown(),
  credentialId: z.string().nullable(),
  approvals: z.array(z.unknown()),
});
export type ActivationEvidence = z.infer<typeof ActivationEvidenceSchema>;

export const activationRoutes = {
  /** a signed request (shared/activation.ts); the answer carries the ceremony to touch the key on */
  createActivation: defineRoute({
    method: 'POST',
    path: '/api/v1/activations',
    auth: 'device',
    params: NoParams,
    query: NoQuery,
    body: z.object({ request: ActivationRequestSchema }),
    output: z.object({ activation: ActivationViewSchema, decision: DecisionSchema, options: WebAuthnOptions }),
  }),
  /** this user's activations */
  listActivations: defineRoute({
    method: 'GET',
    path: '/api/v1/activations',
    auth: 'device',
    params: NoParams,
    query: NoQuery,
    output: z.array(ActivationViewSchema),
  }),
  /** ?wait=STATE&timeout=SECONDS (≤ 30): answer when the state is no longer STATE (long poll) */
  getActivation: defineRoute({
    method: 'GET',
    path: '/api/v1/activations/:id',
    auth: 'device',
    params: IdParams,
    query: z.object({ wait: z.string().max(40).optional(), timeout: z.string().max(20).optional() }),
    output: ActivationViewSchema,
  }),
  deactivateActivation: defineRoute({
    method: 'POST',
    path: '/api/v1/activations/:id/deactivate',
    auth: 'device',
    params: IdParams,
    query: NoQuery,
    body: EmptyBody,
    output: ActivationViewSchema,
  }),
  /** short-lived credentials for an active activation, to the device that requested it;
   *  409 not-active once the activation ended (deactivated, expired, revoked) */
  issueCredentials: defineRoute({
    method: 'POST',
    path: '/api/v1/activations/:id/credentials',
    auth: 'device',
    params: IdParams,
    query: NoQuery,
    body: EmptyBody,
    output: IssuedCredentialsSchema,
  }),
  /** what the agent journals with an activation: the request bytes, nonce, assertion and approvals */
  activationEvidence: defineRoute({
    method: 'GET',
    path: '/api/v1/activations/:id/evidence',
    auth: 'device',
    params: IdParams,
    query: NoQuery,
    output: ActivationEvidenceSchema,
  }),
} as const;
