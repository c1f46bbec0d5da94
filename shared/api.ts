// The one contract between the UI (renderer) and the agent. Both transports — Electron IPC and
// the web shell's loopback HTTP — carry exactly these calls; inputs are validated with zod at the
// agent's boundary, and every reply is { ok: true, value } | { ok: false, error }.
import { z } from 'zod';
import { ACTIVATION_STATES } from './activation-state';
import { ROLE_NAME_RE } from './role-name';

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
  ticket: z.object({ required: z.boolean(), pattern: z.string().nullable(), hint: z.string().optional() }),
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

const noControl = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed');
const RoleName = z.string().regex(ROLE_NAME_RE, 'not a role name');
const ActivationId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not an activation id');
const Instant = z.string();

export const ActivationStateSchema = z.enum(ACTIVATION_STATES);

/** An activation as the control plane reports it to agents, ceremony pages and the UI. The one
 *  definition: shared/activation re-exports its type, the control-plane contract uses this schema. */
export const ActivationViewSchema = z.object({
  id: z.string(),
  user: z.string(),
  role: z.string(),
  state: ActivationStateSchema,
  request: z.object({
    v: z.literal(1),
    kind: z.enum(['activate', 'extend']),
    user: z.string(),
    device: z.string(),
    role: z.string(),
    duration: z.number(),
    justification: z.string().nullable(),
    ticket: z.string().nullable(),
    sshPublicKey: z.string().nullable(),
    policyVersion: z.number(),
    requestedAt: Instant,
    extends: z.string().nullable(),
  }),
  requestSha256: z.string(),
  createdAt: Instant,
  startsAt: Instant.nullable(),
  expiresAt: Instant.nullable(),
  endReason: z.string().nullable(),
  approvals: z.array(
    z.object({ approver: z.string(), decision: z.string(), reason: z.string().nullable(), at: Instant }),
  ),
  approvalsNeeded: z.number(),
  /** the page to touch the key on, while the request is `requested` */
  ceremonyUrl: z.string().nullable(),
});
export type ActivationView = z.infer<typeof ActivationViewSchema>;

export const EnrolmentStatusSchema = z.object({
  /** waiting: the agent waits for the security key to be registered on the ceremony page */
  state: z.enum(['waiting', 'complete', 'expired', 'failed']),
  server: z.string(),
  user: z.string(),
  ceremonyUrl: z.string(),
  /** the first 16 characters of the device key's thumbprint (the ceremony page shows the same) */
  deviceFingerprint: z.string(),
  /** why it failed or expired */
  error: z.string().nullable(),
  /** said once at first run: which keystore this home uses and why (no OS keychain here) */
  keystoreNotice: z.string().nullable().optional(),
});
export type EnrolmentStatus = z.infer<typeof EnrolmentStatusSchema>;

export const ExpiryNoticeSchema = z.object({
  key: z.string(),
  activation: z.string(),
  role: z.string(),
  expiresAt: z.string(),
  threshold: z.number(),
  minutesLeft: z.number(),
});

/** What the agent put into the user's world for an activation (kubeconfig, AWS config, ssh-agent). */
export const InjectionViewSchema = z.object({
  role: z.string(),
  activation: z.string(),
  expiresAt: z.string(),
  /** set while the role's helpers only explain that it ended */
  endedAt: z.string().nullable(),
  /** `until`: on an ended role, when the entry itself goes (it only explains the end until then) */
  /** `problem`: it could not be put in place (no ssh-agent): why, in words; it is retried */
  items: z.array(
    z.object({
      kind: z.enum(['kube', 'aws', 'ssh', 'gcp', 'azure']),
      name: z.string(),
      where: z.string(),
      until: z.string().optional(),
      problem: z.string().optional(),
    }),
  ),
});
export type InjectionView = z.infer<typeof InjectionViewSchema>;

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
  /** this device is enrolled with a security key (false: not connected, or the --user demo path) */
  enrolled: z.boolean(),
  /** the enrolment this agent is running or ran last (in memory; null when none since start) */
  enrolment: EnrolmentStatusSchema.nullable(),
  /** this user's activations from agent.db: live ones (requested, pending-approval, approved,
   *  active) and recently ended ones with their endReason, newest first */
  activations: z.array(ActivationViewSchema),
  /** active roles ending within 10 minutes (then 2): the UI offers a one-click extend */
  notices: z.array(ExpiryNoticeSchema),
  /** the credentials injected for this user's activations */
  credentials: z.array(InjectionViewSchema),
});
export type AgentState = z.infer<typeof AgentStateSchema>;

export const ApiError = z.object({ code: z.string(), message: z.string() });
export type ApiError = z.infer<typeof ApiError>;

/** One record of this device's audit journal as the audit view shows it: what it is about and its
 *  small details (scalars only — the signed request and the key's assertion stay in agent.db). */
export const AuditEntrySchema = z.object({
  seq: z.number(),
  at: z.string(),
  type: z.string(),
  user: z.string().nullable(),
  /** data.role / data.activation when the record names them */
  role: z.string().nullable(),
  activation: z.string().nullable(),
  /** the record's other scalar details, strings shortened; lists of injected items as one string */
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  /** the control plane acknowledged holding it */
  synced: z.boolean(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** Where sending the journal to the control plane stands (kept in agent.db, so it survives restarts). */
export const AuditSyncStateSchema = z.object({
  /** this device keeps a journal (enrolled with a security key) */
  journaling: z.boolean(),
  /** the last record's seq, and the highest one the control plane acknowledged */
  last: z.number(),
  acked: z.number(),
  /** records not yet acknowledged by the control plane */
  pending: z.number(),
  lastSuccessAt: z.string().nullable(),
  /** the first failure of the current run of failures (null once a sync succeeds) */
  failingSince: z.string().nullable(),
  lastError: ApiError.nullable(),
});
export type AuditSyncState = z.infer<typeof AuditSyncStateSchema>;

export const AuditViewSchema = z.object({
  /** the agent's clock */
  now: z.string(),
  /** newest first */
  records: z.array(AuditEntrySchema),
  sync: AuditSyncStateSchema,
});
export type AuditView = z.infer<typeof AuditViewSchema>;

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Every call: input schema and output schema. Add a method here and both transports carry it. */
export const contract = {
  getState: { input: z.object({}).strict(), output: AgentStateSchema },
  refreshPolicy: { input: z.object({}).strict(), output: AgentStateSchema },
  checkRole: {
    input: z
      .object({
        role: z.string().min(1).max(200),
        duration: z
          .number()
          .int()
          .positive()
          .max(366 * 86400)
          .optional(),
      })
      .strict(),
    output: DecisionSchema,
  },
  listAllRoles: { input: z.object({}).strict(), output: z.array(RoleViewSchema) },
  /** Start enrolling this device with the link from an admin. Returns at once with the ceremony
   *  where the security key is registered; the agent finishes in the background (getState().enrolment). */
  enroll: {
    // confirmCode: in the web shell, the code `pim ui` printed on its terminal for this link — the
    // person's confirmation that the agent may be pointed at that control plane (webshell/server.ts)
    input: z.object({ link: noControl(2048).min(10), confirmCode: z.string().max(64).optional() }).strict(),
    output: z.object({ ceremonyUrl: z.string(), user: z.string(), server: z.string(), deviceFingerprint: z.string() }),
  },
  /** Ask for a role: checked offline first, then sent; the answer carries the ceremony URL. */
  activate: {
    input: z
      .object({
        role: RoleName,
        duration: z
          .number()
          .int()
          .min(60)
          .max(366 * 86400)
          .optional(),
        justification: noControl(1000).optional(),
        ticket: noControl(128).optional(),
      })
      .strict(),
    output: ActivationViewSchema,
  },
  /** This user's activations, fresh from the control plane (also refreshes agent.db). */
  listActivations: { input: z.object({}).strict(), output: z.array(ActivationViewSchema) },
  /** Give a role back early (every live activation of it), or end one activation by id. */
  deactivate: {
    input: z
      .object({ role: RoleName.optional(), id: ActivationId.optional() })
      .strict()
      .refine((i) => (i.role === undefined) !== (i.id === undefined), 'give exactly one of role and id'),
    output: z.array(ActivationViewSchema),
  },
  /** More time on an active role: a new signed request chained to it (the answer carries its ceremony). */
  extend: {
    input: z
      .object({
        role: RoleName,
        duration: z
          .number()
          .int()
          .min(60)
          .max(366 * 86400)
          .optional(),
      })
      .strict(),
    output: ActivationViewSchema,
  },
  /** This device's audit journal, newest first (optionally one role's records), and its sync state. */
  auditView: {
    input: z.object({ role: RoleName.optional(), limit: z.number().int().min(1).max(500).optional() }).strict(),
    output: AuditViewSchema,
  },
  /** Requests waiting for this user's approval. */
  approvals: { input: z.object({}).strict(), output: z.array(ActivationViewSchema) },
  /** Start an approval or a denial (a denial needs a reason); the key signs it on the returned ceremony. */
  decide: {
    input: z
      .object({ id: ActivationId, decision: z.enum(['approve', 'deny']), reason: noControl(1000).optional() })
      .strict()
      .refine((i) => i.decision !== 'deny' || (i.reason ?? '').trim() !== '', {
        message: 'a denial needs a reason the requester will see',
        path: ['reason'],
      }),
    output: z.object({ ceremonyId: z.string(), ceremonyUrl: z.string() }),
  },
  /** Open a ceremony page of the connected control plane: Electron's main process opens it in a
   *  locked-down window (or, with `external`, the system browser) and answers opened: true; other
   *  hosts check the URL and answer opened: false — the page opens it itself. */
  openCeremony: {
    input: z.object({ url: z.string().min(1).max(2048), external: z.boolean().optional() }).strict(),
    output: z.object({ opened: z.boolean() }),
  },
} as const;

export type Contract = typeof contract;
export type Method = keyof Contract;
export type Input<M extends Method> = z.infer<Contract[M]['input']>;
export type Output<M extends Method> = z.infer<Contract[M]['output']>;

/** Every method name, from the contract's own keys: the preload, the IPC router and the web
 *  client all iterate this, so a method added to `contract` is carried everywhere. */
export const methods: readonly Method[] = Object.keys(contract).filter(isMethod);

/** Electron IPC channel of a method: `pim:<method>`. The preload invokes it, the main process
 *  handles it (electron/main/ipc-router checks the prefix and the method). */
export const CHANNEL_PREFIX = 'pim:';
export function channelFor(method: Method): string {
  return CHANNEL_PREFIX + method;
}

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(contract, name);
}

/** The client side of the contract, whatever the transport. */
export type PimApi = { [M in Method]: (input: Input<M>) => Promise<Reply<Output<M>>> };
