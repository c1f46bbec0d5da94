// zod schemas for the signed policy files as the agent receives them. TUF proves who wrote the
// bytes; these prove the bytes are what our engine expects before anything reads them.
import { z } from 'zod';
import { AzureGrantSchema, GcpGrantSchema } from './cloud-grants';

const name = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed');
const instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO instant');
const seconds = z
  .number()
  .int()
  .positive()
  .max(366 * 86400);

const TimeWindow = z
  .object({
    days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1),
    from: z.string().regex(/^\d\d:\d\d$/),
    to: z.string().regex(/^\d\d:\d\d$/),
    tz: z.string().min(1).max(64),
  })
  .strict();

export const CompiledRoleSchema = z
  .object({
    name,
    description: z.string().max(2000),
    eligible: z.object({ groups: z.array(name), until: instant.nullable() }).strict(),
    activation: z
      .object({
        maxDuration: seconds,
        defaultDuration: seconds,
        userVerification: z.enum(['required', 'preferred', 'discouraged']),
        justification: z.enum(['required', 'optional']),
        ticket: z
          .object({
            required: z.boolean(),
            pattern: z.string().max(500).nullable(),
            hint: z.string().max(200).optional(),
          })
          .strict(),
        approval: z
          .object({
            approvers: z.object({ groups: z.array(name), users: z.array(name) }).strict(),
            count: z.number().int().min(1),
            selfApproval: z.boolean(),
          })
          .strict()
          .nullable(),
        windows: z.array(TimeWindow),
        maxActive: z.number().int().min(1).nullable(),
        sessionTrail: z.literal(true).optional(),
        onLock: z.literal('deactivate').optional(),
      })
      .strict(),
    grants: z
      .object({
        kubernetes: z.array(z.object({ cluster: name, groups: z.array(name) }).strict()),
        aws: z.array(
          z
            .object({ roleArn: name, audience: name.optional(), stsEndpoint: name.optional(), region: name.optional() })
            .strict(),
        ),
        ssh: z.array(
          z.object({ principals: z.array(name), hosts: z.array(name), extensions: z.array(name).optional() }).strict(),
        ),
        // the signed file is checked again, field by field, as the admin's source was
        gcp: z.array(GcpGrantSchema).min(1).optional(),
        azure: z.array(AzureGrantSchema).min(1).optional(),
      })
      .strict(),
  })
  .strict();

export const RolesFileSchema = z
  .object({
    schema: z.literal('pim-roles/v1'),
    roles: z.array(CompiledRoleSchema).max(100_000),
    clusters: z.array(
      z
        .object({ name, server: z.string().max(2000), certificateAuthorityData: z.string().max(100_000).optional() })
        .strict(),
    ),
  })
  .strict();

export const MemberFileSchema = z
  .object({
    schema: z.literal('pim-member/v1'),
    email: name,
    groups: z.array(name).max(10_000),
    assignments: z.array(z.object({ role: name, until: instant.nullable() }).strict()).max(100_000),
  })
  .strict();
