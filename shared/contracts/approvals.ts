// Approvers: the requests waiting for them, and starting a decision (signed on a ceremony page).
import { z } from 'zod';
import { ApprovalStatementSchema } from '../activation';
import { ActivationViewSchema } from '../api';
import { IdParams, WebAuthnOptions } from './common';
import { defineRoute, NoParams, NoQuery } from './route';

export const approvalRoutes = {
  pendingApprovals: defineRoute({
    method: 'GET',
    path: '/api/v1/approvals',
    auth: 'device',
    params: NoParams,
    query: NoQuery,
    output: z.array(ActivationViewSchema),
  }),
  /** returns the statement to sign and its ceremony; a denial needs a reason (reason-required) */
  decideApproval: defineRoute({
    method: 'POST',
    path: '/api/v1/approvals/:id',
    auth: 'device',
    params: IdParams,
    query: NoQuery,
    body: z.object({ decision: z.enum(['approve', 'deny']), reason: z.string().max(1000).nullish() }),
    output: z.object({
      ceremonyId: z.string(),
      statement: ApprovalStatementSchema,
      ceremonyUrl: z.string(),
      options: WebAuthnOptions,
    }),
  }),
} as const;
