// The decision engine: may this subject activate this role, now, like this — and if not, why, in
// words a person can act on. Pure and synchronous; the agent (offline, from its signed copy) and the
// server (authoritative) run the same code, so the UI never promises what the server refuses.
//
// Hot path: the agent decides every role that concerns a user on each state refresh (thousands of
// roles). So: no zod, no regex compiled per call (ticket patterns are cached), and Intl (windows)
// is only touched when the role has windows and the subject is otherwise eligible.

import { formatDuration } from './duration';
import type {
  ActivationAsk,
  ApprovalRule,
  CompiledRole,
  Decision,
  DecideInput,
  Reason,
  Requirements,
  RolesFile,
  Subject,
} from './types';
import { describeNext, isInWindow, nextOpening } from './windows';

export const MAX_TICKET_LENGTH = 128;
const CONTROL_RE = /\p{Cc}/u;

// Compiled once per distinct pattern; null marks a pattern that does not compile (fail closed).
const ticketRegexes = new Map<string, RegExp | null>();

function ticketRegex(pattern: string): RegExp | null {
  let re = ticketRegexes.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      re = null;
    }
    if (ticketRegexes.size > 10_000) ticketRegexes.clear();
    ticketRegexes.set(pattern, re);
  }
  return re;
}

function fmt(seconds: number): string {
  return Number.isSafeInteger(seconds) && seconds >= 0 ? formatDuration(seconds) : `${seconds}s`;
}

// Per-role objects that do not depend on the subject or the clock, built once. Decisions share
// them (and the role's own arrays): treat decisions as read-only (the shared ones are frozen).
const plainRequirements = new WeakMap<CompiledRole, Requirements>();
const notEligibleDecisions = new WeakMap<CompiledRole, Decision>();
const approvalReasons = new WeakMap<CompiledRole, { others: Reason; notYou: Reason }>();

function requirementsOf(
  role: CompiledRole,
  nextWindowOpens: string | null,
  eligibleUntil: string | null,
): Requirements {
  if (nextWindowOpens === null && eligibleUntil === null) {
    let r = plainRequirements.get(role);
    if (r === undefined) {
      r = Object.freeze(buildRequirements(role, null, null));
      plainRequirements.set(role, r);
    }
    return r;
  }
  return buildRequirements(role, nextWindowOpens, eligibleUntil);
}

function buildRequirements(
  role: CompiledRole,
  nextWindowOpens: string | null,
  eligibleUntil: string | null,
): Requirements {
  const a = role.activation;
  return {
    maxDuration: a.maxDuration,
    defaultDuration: a.defaultDuration,
    justification: a.justification,
    ticket: a.ticket,
    approval: a.approval,
    userVerification: a.userVerification,
    windows: a.windows,
    nextWindowOpens,
    maxActive: a.maxActive,
    eligibleUntil,
  };
}

/** The sooner of two ISO instants, null meaning "no end". */
function sooner(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

/** The later of two optional ends (null = no end wins; undefined = no such path). */
function later(a: string | null | undefined, b: string | null | undefined): string | null {
  if (a === undefined) return b ?? null;
  if (b === undefined) return a;
  if (a === null || b === null) return null;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/** Is `until` still in the future at `t`? (null = no end) */
function open(until: string | null, t: number): boolean {
  return until === null || t < Date.parse(until);
}

export function decide(input: DecideInput): Decision {
  const { subject, role, now, mode } = input;
  const t = now.getTime();
  const a = role.activation;

  // Eligibility: through a group (bounded by the role's until) or a direct assignment (bounded by
  // its own until and the role's). Any path still open is enough.
  const roleUntil = role.eligible.until;
  let viaGroup = false;
  for (const g of role.eligible.groups) {
    if (subject.groups.includes(g)) {
      viaGroup = true;
      break;
    }
  }
  let assignmentUntil: string | null | undefined; // undefined: no assignment
  for (const asg of subject.assignments) {
    if (asg.role === role.name) {
      assignmentUntil = sooner(asg.until, roleUntil);
      break;
    }
  }
  const viaAssignment = assignmentUntil !== undefined;

  // Applies to every role, eligible or not: the device's copy of the policy is too old to trust.
  const expires = input.policyExpires ?? null;
  const policyExpired = expires !== null && t >= expires.getTime();

  if (!viaGroup && !viaAssignment && !policyExpired) return notEligibleDecision(role); // the common case

  const reasons: Reason[] = [];
  if (policyExpired) {
    reasons.push({
      code: 'policy-expired',
      blocking: true,
      message: `this device's copy of the policy expired at ${expires.toISOString()}; connect to the server to refresh it`,
      detail: { until: expires.toISOString() },
    });
  }
  if (!viaGroup && !viaAssignment) {
    reasons.push(notEligibleDecision(role).reasons[0]!);
    return { role: role.name, allowed: false, reasons, requirements: requirementsOf(role, null, null) };
  }

  // The subject's eligibility end: the later end of the paths still open, else the later that passed.
  const groupUntil = viaGroup ? roleUntil : undefined;
  const asgUntil = viaAssignment ? (assignmentUntil ?? null) : undefined;
  const groupOpen = groupUntil !== undefined && open(groupUntil, t);
  const asgOpen = asgUntil !== undefined && open(asgUntil, t);
  const eligibleUntil =
    groupOpen && !asgOpen ? groupUntil! : asgOpen && !groupOpen ? asgUntil! : later(groupUntil, asgUntil);

  if (!groupOpen && !asgOpen) {
    reasons.push({
      code: 'eligibility-expired',
      blocking: true,
      message: `your eligibility for ${role.name} ended at ${eligibleUntil}; ask an admin to renew it`,
      detail: { until: eligibleUntil },
    });
    return { role: role.name, allowed: false, reasons, requirements: requirementsOf(role, null, eligibleUntil) };
  }

  let nextWindowOpens: string | null = null;
  if (a.windows.length > 0 && !isInWindow(a.windows, now)) {
    const next = nextOpening(a.windows, now);
    nextWindowOpens = next === null ? null : next.at.toISOString();
    reasons.push({
      code: 'outside-window',
      blocking: true,
      message:
        next === null
          ? 'outside the activation window, and no window opens in the next 8 days'
          : `outside the activation window; next opens ${describeNext(next.at, next.window.tz)}`,
      detail: { next: nextWindowOpens },
    });
  }

  const ask: ActivationAsk = input.ask ?? {};
  const duration = ask.duration ?? a.defaultDuration;
  if (!(duration <= a.maxDuration)) {
    reasons.push({
      code: 'duration-exceeds-max',
      blocking: true,
      message: `${fmt(duration)} is longer than this role's maximum of ${fmt(a.maxDuration)}; ask for ${fmt(a.maxDuration)} or less`,
      detail: { max: fmt(a.maxDuration), requested: fmt(duration) },
    });
  }

  // In 'check' mode missing fields are requirements (shown in the form), not failures.
  if (mode === 'request' && a.justification === 'required' && (ask.justification ?? '').trim() === '') {
    reasons.push({
      code: 'justification-required',
      blocking: true,
      message: 'a justification is required: say briefly why you need this access',
    });
  }

  const ticket = ask.ticket ?? '';
  if (ticket.trim() === '') {
    if (mode === 'request' && a.ticket.required) {
      reasons.push({
        code: 'ticket-required',
        blocking: true,
        message: a.ticket.hint
          ? `a ticket is required: ${a.ticket.hint}`
          : a.ticket.pattern
            ? `a ticket is required (matching ${a.ticket.pattern})`
            : 'a ticket is required',
        detail: { pattern: a.ticket.pattern },
      });
    }
  } else {
    const problem = ticketProblem(ticket, a.ticket.pattern, a.ticket.hint);
    if (problem !== null) {
      reasons.push({ code: 'ticket-invalid', blocking: true, message: problem, detail: { pattern: a.ticket.pattern } });
    }
  }

  const active = input.activeCount ?? 0;
  if (a.maxActive !== null && active >= a.maxActive) {
    reasons.push({
      code: 'max-active-reached',
      blocking: true,
      message: `already active ${active} time(s), the most this role allows is ${a.maxActive}; deactivate one first`,
      detail: { active, max: a.maxActive },
    });
  }

  if (a.approval !== null) {
    let cached = approvalReasons.get(role);
    if (cached === undefined) {
      const ap = a.approval;
      const base = `needs approval by ${ap.count} of ${[...ap.approvers.groups, ...ap.approvers.users].join(', ')}`;
      const detail = Object.freeze({ count: ap.count, groups: ap.approvers.groups, users: ap.approvers.users });
      cached = {
        others: Object.freeze({ code: 'approval-required', blocking: false, message: base, detail }),
        notYou: Object.freeze({
          code: 'approval-required',
          blocking: false,
          message: `${base} (someone other than you)`,
          detail,
        }),
      };
      approvalReasons.set(role, cached);
    }
    reasons.push(selfExcluded(subject, a.approval) ? cached.notYou : cached.others);
  }

  let allowed = true;
  for (const r of reasons) if (r.blocking) allowed = false;
  return { role: role.name, allowed, reasons, requirements: requirementsOf(role, nextWindowOpens, eligibleUntil) };
}

/** The same frozen decision every time: most roles are not for this subject, and deciding
 *  thousands of them must not allocate. */
function notEligibleDecision(role: CompiledRole): Decision {
  let d = notEligibleDecisions.get(role);
  if (d === undefined) {
    const groups = role.eligible.groups;
    const reason: Reason = Object.freeze({
      code: 'not-eligible',
      blocking: true,
      message:
        groups.length > 0
          ? `not eligible: needs membership in ${groups.join(' or ')}, or a direct assignment — ask an admin`
          : 'not eligible: this role is assigned to named people only — ask an admin',
    });
    d = Object.freeze({
      role: role.name,
      allowed: false,
      reasons: Object.freeze([reason]) as Reason[],
      requirements: requirementsOf(role, null, null),
    });
    notEligibleDecisions.set(role, d);
  }
  return d;
}

/** True when the subject is among the approvers but may not approve their own request. */
function selfExcluded(subject: Subject, approval: ApprovalRule): boolean {
  if (approval.selfApproval) return false;
  return (
    approval.approvers.users.includes(subject.email) ||
    approval.approvers.groups.some((g) => subject.groups.includes(g))
  );
}

/** Why `ticket` is unacceptable, or null when it is fine. */
function ticketProblem(ticket: string, pattern: string | null, hint?: string): string | null {
  if (ticket.length > MAX_TICKET_LENGTH) return `the ticket is longer than ${MAX_TICKET_LENGTH} characters`;
  if (CONTROL_RE.test(ticket)) return 'the ticket must not contain control characters';
  if (pattern === null) return null;
  const re = ticketRegex(pattern);
  if (re === null) return `the policy's ticket pattern ${pattern} is invalid; ask an admin`;
  return re.test(ticket)
    ? null
    : hint
      ? `ticket ${JSON.stringify(ticket)} is not ${hint} (pattern ${pattern})`
      : `ticket ${JSON.stringify(ticket)} does not match ${pattern}`;
}

// --- many roles at once ---------------------------------------------------------------------

export interface RoleIndex {
  roles: readonly CompiledRole[];
  byName: Map<string, CompiledRole>;
  /** role name -> position in `roles` */
  position: Map<string, number>;
  /** group -> positions of the roles that group makes eligible */
  byGroup: Map<string, number[]>;
}

/** Precompute lookups so decideAll only touches the roles that name the subject. */
export function indexRoles(file: RolesFile | readonly CompiledRole[]): RoleIndex {
  const roles = Array.isArray(file) ? (file as readonly CompiledRole[]) : (file as RolesFile).roles;
  const byName = new Map<string, CompiledRole>();
  const position = new Map<string, number>();
  const byGroup = new Map<string, number[]>();
  roles.forEach((r, i) => {
    byName.set(r.name, r);
    position.set(r.name, i);
    for (const g of new Set(r.eligible.groups)) {
      const list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, [i]);
      else list.push(i);
    }
  });
  return { roles, byName, position, byGroup };
}

/** The roles that name `subject` (through a group or an assignment), in policy order. The agent
 *  stores these at refresh so everyday reads need not parse every role of a large policy. */
export function relevantRoles(subject: Subject, index: RoleIndex): CompiledRole[] {
  const named = new Set<number>();
  for (const g of subject.groups) for (const i of index.byGroup.get(g) ?? []) named.add(i);
  for (const asg of subject.assignments) {
    const i = index.position.get(asg.role);
    if (i !== undefined) named.add(i);
  }
  return [...named].sort((a, b) => a - b).map((i) => index.roles[i]!);
}

export interface DecideAllOptions {
  /** decide every role, not only those naming the subject (then otherCount is 0) */
  all?: boolean;
  /** restrict to this one role name */
  only?: string;
  mode?: 'check' | 'request';
  ask?: ActivationAsk;
  policyExpires?: Date | null;
  /** current activations per role name (for maxActive) */
  activeCounts?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
}

/** Decisions for the roles that concern `subject` (eligible through a group or an assignment,
 *  even if blocked by expiry, window, …) in policy order; the remaining roles are only counted.
 *  With `all`, every role is decided and returned in `relevant`. */
export function decideAll(
  subject: Subject,
  index: RoleIndex,
  now: Date,
  opts: DecideAllOptions = {},
): { relevant: Decision[]; otherCount: number } {
  const mode = opts.mode ?? 'check';
  const policyExpires = opts.policyExpires ?? null;
  const policyExpired = policyExpires !== null && now.getTime() >= policyExpires.getTime();
  const counts = opts.activeCounts;
  const activeCount = (name: string): number => {
    if (counts === undefined) return 0;
    const n: unknown = counts instanceof Map ? counts.get(name) : (counts as Record<string, number>)[name];
    return typeof n === 'number' ? n : 0;
  };
  const one = (role: CompiledRole): Decision =>
    decide({ subject, role, now, mode, ask: opts.ask, activeCount: activeCount(role.name), policyExpires });

  // Positions of the roles that name the subject, through a group or an assignment.
  const named = new Set<number>();
  for (const g of subject.groups) for (const i of index.byGroup.get(g) ?? []) named.add(i);
  for (const asg of subject.assignments) {
    const i = index.position.get(asg.role);
    if (i !== undefined) named.add(i);
  }

  if (opts.only !== undefined) {
    const p = index.position.get(opts.only);
    if (p === undefined) return { relevant: [], otherCount: 0 };
    return opts.all || named.has(p)
      ? { relevant: [one(index.roles[p]!)], otherCount: 0 }
      : { relevant: [], otherCount: 1 };
  }
  if (opts.all) {
    const relevant = new Array<Decision>(index.roles.length);
    for (let i = 0; i < index.roles.length; i++) {
      const role = index.roles[i]!;
      // Skip decide() for the (many) roles that cannot concern the subject.
      relevant[i] = named.has(i) || policyExpired ? one(role) : notEligibleDecision(role);
    }
    return { relevant, otherCount: 0 };
  }
  const positions = [...named].sort((x, y) => x - y);
  return { relevant: positions.map((i) => one(index.roles[i]!)), otherCount: index.roles.length - positions.length };
}
