// The agent's side of the contract: validate the input with zod, run the handler, and always
// answer { ok, value } | { ok: false, error } — never throw across a transport. Errors keep their
// codes (shared/errors.ts: every PimError), whichever part of the agent threw them.
import {
  contract,
  isMethod,
  type AuditEntry,
  type AuditView,
  type Input,
  type Method,
  type Reply,
} from '../../shared/api';
import type { AuditRecord } from '../../shared/audit';
import { isCeremonyUrl } from '../../shared/ceremony-url';
import { isPimError } from '../../shared/errors';
import { ActivationTracker } from '../activation/tracker';
import { Agent, AgentError } from '../agent';

export type Dispatch = (method: string, input: unknown) => Promise<Reply<unknown>>;

/** each handler answers with a value or a promise of one */
type Handlers = { [M in Method]: (input: Input<M>) => unknown };

/** `tracker`: the host's background activation tracker (started by agent-runtime); without one,
 *  an idle tracker is made and nothing runs in the background but enrolment. */
export function createDispatch(agent: Agent, opts: { tracker?: ActivationTracker } = {}): Dispatch {
  let own: ActivationTracker | null = opts.tracker ?? null;
  const tracker = () => (own ??= new ActivationTracker(agent));
  const handlers: Handlers = {
    getState: () => agent.state(),
    refreshPolicy: async () => {
      // a failed refresh is still a useful answer: the state says offline/rejected and why
      await agent.refresh().catch(() => undefined);
      return agent.state();
    },
    checkRole: (input) => agent.check(input.role, input.duration),
    listAllRoles: () => agent.listAllRoles(),
    enroll: (input) => tracker().enroll(input.link),
    activate: async (input) => {
      const t = tracker();
      const a = await t.svc.request(input.role, {
        duration: input.duration,
        justification: input.justification,
        ticket: input.ticket,
      });
      t.kick();
      return a;
    },
    extend: async (input) => {
      const t = tracker();
      const a = await t.svc.extend(input.role, { duration: input.duration });
      t.kick();
      return a;
    },
    listActivations: async () => {
      const t = tracker();
      const all = await t.svc.list();
      t.kick();
      return all;
    },
    deactivate: async (input) => {
      const t = tracker();
      const out = input.id !== undefined ? [await t.svc.deactivateId(input.id)] : await t.svc.deactivate(input.role!);
      t.kick();
      return out;
    },
    auditView: async (input) => auditView(agent, input),
    approvals: () => tracker().svc.approvals(),
    decide: async (input) => {
      const t = tracker();
      const c = await t.svc.decide(input.id, input.decision, input.reason?.trim() || null);
      t.watchDecision(input.id);
      return { ceremonyId: c.ceremonyId, ceremonyUrl: c.ceremonyUrl };
    },
    openCeremony: (input) => {
      // this host has no window of its own to open: check the URL, and let the page open it
      const server = agent.store.connection()?.server ?? agent.enrolment()?.server ?? null;
      if (!isCeremonyUrl(input.url, server))
        throw new AgentError('bad-ceremony-url', 'that is not a ceremony page of the connected control plane');
      return { opened: false };
    },
  };
  return async (method, input) => {
    if (!isMethod(method))
      return {
        ok: false,
        error: { code: 'unknown-method', message: `unknown method "${String(method).slice(0, 64)}"` },
      };
    const parsed = contract[method].input.safeParse(input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        error: {
          code: 'bad-input',
          message: `${method}: ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}`,
        },
      };
    }
    try {
      const value: unknown = await (handlers[method] as (i: unknown) => unknown)(parsed.data);
      return { ok: true, value };
    } catch (e) {
      // any error of ours carries its code; anything else is a bug, and its text may hold a stack
      if (isPimError(e)) return { ok: false, error: { code: e.code, message: e.message } };
      return { ok: false, error: { code: 'internal', message: 'internal error in the agent' } };
    }
  };
}

/** Details bulkier than a line (the signed request, the key's assertion) stay in agent.db. */
const BULKY = new Set(['request', 'assertion', 'role', 'activation']);
const MAX_DETAIL = 200;
const MAX_DETAILS = 24;

function short(s: string): string {
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s;
}

/** A journal record as the audit view shows it: what it is about and its small details. Pure. */
export function auditEntry(r: AuditRecord, acked: number): AuditEntry {
  const d = r.data;
  const details: AuditEntry['details'] = {};
  let n = 0;
  for (const [k, v] of Object.entries(d)) {
    if (BULKY.has(k) || n >= MAX_DETAILS) continue;
    let out: string | number | boolean | null | undefined;
    if (typeof v === 'string') out = short(v);
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) out = v;
    else if (Array.isArray(v)) {
      // injected items ({kind, name, where}) and lists of names read as one line
      const parts = v
        .map((x) =>
          typeof x === 'string'
            ? x
            : x && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string'
              ? `${textOf((x as { kind?: unknown }).kind)} ${(x as { name: string }).name}`.trim()
              : null,
        )
        .filter((x): x is string => x !== null);
      if (parts.length) out = short(parts.join(', '));
    }
    if (out === undefined) continue;
    details[k] = out;
    n++;
  }
  // whether the key's assertion (the evidence) came with the record
  if ('assertion' in d) details.keyTouch = !!d.assertion;
  return {
    seq: r.seq,
    at: r.at,
    type: r.type,
    user: r.user,
    role: typeof d.role === 'string' ? d.role : null,
    activation: typeof d.activation === 'string' ? d.activation : null,
    details,
    synced: r.seq <= acked,
  };
}

async function auditView(agent: Agent, input: Input<'auditView'>): Promise<AuditView> {
  const now = agent.now().toISOString();
  const j = await agent.journal();
  const device = j.device();
  const outcome = j.syncOutcome();
  if (!device) {
    return { now, records: [], sync: { journaling: false, last: 0, acked: 0, pending: 0, ...outcome } };
  }
  const acked = j.acked();
  const last = j.head().seq;
  const records = j
    .list({ limit: input.limit ?? 100, role: input.role })
    .reverse()
    .map((c) => auditEntry(c.record, acked));
  return { now, records, sync: { journaling: true, last, acked, pending: Math.max(0, last - acked), ...outcome } };
}

/** A value people read: a string as it is, anything else (absent, an object) as nothing. */
function textOf(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
