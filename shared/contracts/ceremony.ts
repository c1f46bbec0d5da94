// The ceremony pages' calls: what to show and sign, and the security key's answer. Unsigned: the
// WebAuthn challenge binds each answer to the one request (or enrolment, or decision) it is for.
import { z } from 'zod';
import { ActivationRequestSchema, ApprovalStatementSchema } from '../activation';
import { ActivationViewSchema } from '../api';
import { CeremonyBody, IdParams, NonceParams, WebAuthnOptions } from './common';
import { defineRoute, NoQuery } from './route';

export const ceremonyRoutes = {
  enrolmentCeremony: defineRoute({
    method: 'GET',
    path: '/api/v1/ceremony/enrol/:id',
    auth: 'ceremony',
    params: IdParams,
    query: NoQuery,
    output: z.object({ kind: z.literal('enrolment'), user: z.string(), device: z.string(), options: WebAuthnOptions }),
  }),
  finishEnrolment: defineRoute({
    method: 'POST',
    path: '/api/v1/ceremony/enrol/:id',
    auth: 'ceremony',
    params: IdParams,
    query: NoQuery,
    body: CeremonyBody,
    output: z.object({ user: z.string() }),
  }),
  activationCeremony: defineRoute({
    method: 'GET',
    path: '/api/v1/ceremony/activation/:id',
    auth: 'ceremony',
    params: IdParams,
    query: NoQuery,
    output: z.object({
      kind: z.literal('activation'),
      id: z.string(),
      request: ActivationRequestSchema,
      requestSha256: z.string(),
      nonce: z.string(),
      nonceExpiresAt: z.string(),
      needsApproval: z.boolean(),
      options: WebAuthnOptions,
    }),
  }),
  signActivation: defineRoute({
    method: 'POST',
    path: '/api/v1/ceremony/activation/:id',
    auth: 'ceremony',
    params: IdParams,
    query: NoQuery,
    body: CeremonyBody,
    output: ActivationViewSchema,
  }),
  approvalCeremony: defineRoute({
    method: 'GET',
    path: '/api/v1/ceremony/approval/:nonce',
    auth: 'ceremony',
    params: NonceParams,
    query: NoQuery,
    output: z.object({
      kind: z.literal('approval'),
      statement: ApprovalStatementSchema,
      request: ActivationRequestSchema,
      requester: z.string(),
      options: WebAuthnOptions,
    }),
  }),
  signApproval: defineRoute({
    method: 'POST',
    path: '/api/v1/ceremony/approval/:nonce',
    auth: 'ceremony',
    params: NonceParams,
    query: NoQuery,
    body: CeremonyBody,
    output: ActivationViewSchema,
  }),
} as const;
