// Audit sync: the agent sends its journal's chained records and follows the control plane's signed
// acknowledgement of the head it holds (shared/audit-ack.ts).
import { z } from 'zod';
import { defineRoute, NoParams, NoQuery } from './route';

/** Why ingesting stopped early (shared/audit.ts ChainProblem, or a fork of what is held). `kind` is
 *  gap, fork, broken-link, wrong-device or invalid today; any string is taken, so an agent can
 *  still report a kind a newer control plane adds (agent/audit/sync.ts describes unknown ones). */
export const IngestProblemSchema = z.object({
  kind: z.string(),
  seq: z.number().nullable(),
  expected: z.number().optional(),
  message: z.string().optional(),
});

/** The signed acknowledgement (shared/audit-ack.ts) is not parsed here on purpose, nor required:
 *  the agent checks it against the TUF timestamp keys (agent/audit/ack.ts), which says exactly why
 *  an answer without a valid one is refused (unsigned-ack) and keeps the cursor where it was. */
const Signed = z.unknown().optional();

export const auditRoutes = {
  /** { records: [{ record, hash }] } → { acked, problem, signed }: the agent advances its cursor to
   *  acked once `signed` verifies. Records are checked one by one on ingest (problem: invalid), not
   *  here, so the ones before a bad record are still stored */
  ingestAudit: defineRoute({
    method: 'POST',
    path: '/api/v1/audit',
    auth: 'device',
    params: NoParams,
    query: NoQuery,
    body: z.object({ records: z.array(z.unknown()) }),
    output: z.object({
      acked: z.number().int().nonnegative(),
      problem: IngestProblemSchema.nullable(),
      signed: Signed,
    }),
  }),
  /** where an agent that lost its cursor resumes */
  auditHead: defineRoute({
    method: 'GET',
    path: '/api/v1/audit/head',
    auth: 'device',
    params: NoParams,
    query: NoQuery,
    // hash: the head's; the agent follows the one inside `signed`, so an answer without it still
    // reaches the signature check
    output: z.object({ acked: z.number().int().nonnegative(), hash: z.string().optional(), signed: Signed }),
  }),
} as const;
