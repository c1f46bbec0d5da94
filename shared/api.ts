// The one contract between the UI (renderer) and the agent. Both transports — Electron IPC and
// the web shell's loopback HTTP — carry exactly these calls; inputs are validated with zod at the
// agent's boundary, and every reply is { ok: true, value } | { ok: false, error }.
import { z } from 'zod';
import { METHOD_NAMES, type MethodName } from './api-methods';

const Reason = z.object({
  code: z.string(),
  blocking: z.boolean(),
  message: z.string(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.array(z.string()), z.null()])).optional(),
});

const Requirements = z.object({
  maxDuration: z.number(),
  defaultDuration: z.number(),
  justification: z.enum(['required', 'optional']),
  ticket: z.object({ required: z.boolean(), pattern: z.string().nullable() }),
  approval: z
    .object({
      approvers: z.object({ groups: z.array(z.string()), users: z.array(z.string()) }),
      count: z.number(),
      selfApproval: z.boolean(),
    })
    .nullable(),
  userVerification: z.enum(['required', 'preferred', 'discouraged']),
  windows: z.array(z.object({ days: z.array(z.string()), from: z.string(), to: z.string(), tz: z.string() })),
  nextWindowOpens: z.string().nullable(),
  maxActive: z.number().nullable(),
  eligibleUntil: z.string().nullable(),
});

export const DecisionSchema = z.object({
  role: z.string(),
  allowed: z.boolean(),
  reasons: z.array(Reason),
  requirements: Requirements,
});

export const RoleViewSchema = z.object({
  name: z.string(),
  description: z.string(),
  decision: DecisionSchema,
});
export type RoleView = z.infer<typeof RoleViewSchema>;

export const ConnectionSchema = z.enum(['unconfigured', 'online', 'offline', 'rejected']);
export type Connection = z.infer<typeof ConnectionSchema>;

export const PolicyStatusSchema = z.object({
  version: z.number(),
  /** the signed copy may be used offline until this instant */
  expires: z.string(),
  /** last time a refresh verified and stored this copy */
  verifiedAt: z.string(),
});

export const AgentStateSchema = z.object({
  now: z.string(),
  server: z.string().nullable(),
  user: z.object({ email: z.string(), groups: z.array(z.string()) }).nullable(),
  /** online: last refresh reached the server; offline: it could not; rejected: the server
   *  answered something that failed verification (attack or corruption) — see lastError */
  connection: ConnectionSchema,
  lastAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  policy: PolicyStatusSchema.nullable(),
  /** roles that concern the user (eligible, or named for them but blocked) */
  roles: z.array(RoleViewSchema),
  /** how many further roles exist that the user is simply not eligible for */
  otherRoles: z.number(),
});
export type AgentState = z.infer<typeof AgentStateSchema>;

export const ApiError = z.object({ code: z.string(), message: z.string() });
export type ApiError = z.infer<typeof ApiError>;

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Every call: input schema and output schema. Add a method here and both transports carry it. */
export const contract = {
  getState: { input: z.object({}).strict(), output: AgentStateSchema },
  refreshPolicy: { input: z.object({}).strict(), output: AgentStateSchema },
  checkRole: {
    input: z
      .object({
        role: z.string().min(1).max(200),
        duration: z.number().int().positive().max(366 * 86400).optional(),
      })
      .strict(),
    output: DecisionSchema,
  },
  listAllRoles: { input: z.object({}).strict(), output: z.array(RoleViewSchema) },
} as const;

export type Contract = typeof contract;
export type Method = keyof Contract;
export type Input<M extends Method> = z.infer<Contract[M]['input']>;
export type Output<M extends Method> = z.infer<Contract[M]['output']>;
export const methods: readonly Method[] = METHOD_NAMES;

// compile-time: METHOD_NAMES and the contract's keys are the same set
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameMethods: Same<MethodName, Method> = true;
void _sameMethods;

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(contract, name);
}

/** The client side of the contract, whatever the transport. */
export type PimApi = { [M in Method]: (input: Input<M>) => Promise<Reply<Output<M>>> };
