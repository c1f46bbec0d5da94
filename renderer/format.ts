// Pure presentation helpers for the popover: no DOM, no React, no Node built-ins, so they run in
// unit tests as they are. Everything that turns agent data into words lives here.
import type { AgentState, Connection, RoleView } from '../shared/api';
import { compactDuration, relativeTime } from '../shared/duration';

type Requirements = RoleView['decision']['requirements'];
type Reason = RoleView['decision']['reasons'][number];

/** Seconds → compact duration: 5400 → "1h30m", 7200 → "2h", 90 → "1m30s", 0 → "0s". */
export const formatDuration = (seconds: number): string => compactDuration(seconds);

/** "just now", "3 min ago", "2 h ago", "5 days ago"; future instants read "in 3 min". */
export const formatRelative = relativeTime;

/** A date and time for people, in their locale; `opts` pins locale and zone (tests). */
export function formatDateTime(iso: string, opts: { locale?: string; timeZone?: string } = {}): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Intl.DateTimeFormat(opts.locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
  }).format(new Date(t));
}

const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY_NAME: Record<string, string> = {
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
  sun: 'Sun',
};

/** ['mon','tue','wed','thu','fri'] → "Mon–Fri"; ['mon','wed'] → "Mon, Wed"; all seven → "Daily". */
export function formatDays(days: readonly string[]): string {
  const set = new Set(days.map((d) => d.toLowerCase()));
  const idx = WEEK.map((d, i) => (set.has(d) ? i : -1)).filter((i) => i >= 0);
  if (idx.length === 7) return 'Daily';
  const runs: number[][] = [];
  for (const i of idx) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === i - 1) last.push(i);
    else runs.push([i]);
  }
  const parts: string[] = [];
  for (const run of runs) {
    const names = run.map((i) => DAY_NAME[WEEK[i]!]!);
    if (names.length >= 3) parts.push(`${names[0]}–${names[names.length - 1]}`);
    else parts.push(...names);
  }
  // Days the week above doesn't know are shown as written rather than silently dropped.
  for (const d of days) if (!(WEEK as readonly string[]).includes(d.toLowerCase())) parts.push(d);
  return parts.join(', ');
}

/** "Mon–Fri 08:00–18:00 Europe/Berlin" */
export function formatWindow(w: Requirements['windows'][number]): string {
  return `${formatDays(w.days)} ${w.from}–${w.to} ${w.tz}`;
}

/**
 * A short hint for a ticket pattern: its literal prefix followed by "…" ("^INC-[0-9]+$" → "INC-…");
 * when the pattern starts with no literal text, the pattern itself.
 */
export function ticketHint(pattern: string): string {
  const body = pattern.replace(/^\^/, '');
  // an alternation has no single prefix worth showing
  if (body.includes('|')) return pattern;
  let prefix = '';
  let i = 0;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && i + 1 < body.length && /[-./:#_ ]/.test(body[i + 1]!)) {
      prefix += body[i + 1];
      i++;
      continue;
    }
    if (/[\\[\](){}.*+?|^$]/.test(c)) {
      // a quantifier applies to the previous character, which is then not certain to be literal
      if (/[*+?{]/.test(c)) prefix = prefix.slice(0, -1);
      break;
    }
    prefix += c;
  }
  if (prefix.length === 0) return pattern;
  const rest = body.slice(i);
  return rest === '' || rest === '$' ? prefix : `${prefix}…`;
}

export interface Chip {
  key: string;
  label: string;
  /** longer explanation for a tooltip */
  title?: string;
}

/** The requirement chips shown on a role card, in a fixed order. */
export function requirementChips(r: Requirements): Chip[] {
  const chips: Chip[] = [];
  chips.push({
    key: 'duration',
    label: `max ${formatDuration(r.maxDuration)}`,
    title: `maximum duration ${formatDuration(r.maxDuration)}, default ${formatDuration(r.defaultDuration)}`,
  });
  if (r.justification === 'required')
    chips.push({ key: 'justification', label: 'justification', title: 'a justification is required' });
  if (r.ticket.required || r.ticket.pattern) {
    const hint = r.ticket.hint ? `: ${r.ticket.hint}` : r.ticket.pattern ? ` ${ticketHint(r.ticket.pattern)}` : '';
    chips.push({
      key: 'ticket',
      label: `ticket${hint}${r.ticket.required ? '' : ' (optional)'}`,
      title: r.ticket.hint
        ? `ticket: ${r.ticket.hint}`
        : r.ticket.pattern
          ? `ticket matching ${r.ticket.pattern}`
          : 'a ticket is required',
    });
  }
  if (r.approval) {
    const who = [...r.approval.approvers.groups, ...r.approval.approvers.users];
    chips.push({
      key: 'approval',
      label: `approval: ${r.approval.count} of ${who.length ? who.join(', ') : 'approvers'}`,
      title: r.approval.selfApproval ? 'self-approval allowed' : 'someone else must approve',
    });
  }
  if (r.userVerification === 'required')
    chips.push({ key: 'uv', label: 'key + PIN', title: 'security key with PIN or biometrics' });
  r.windows.forEach((w, i) => chips.push({ key: `window-${i}`, label: formatWindow(w), title: 'activation window' }));
  if (r.maxActive != null) chips.push({ key: 'max-active', label: `${r.maxActive} active at most` });
  if (r.eligibleUntil)
    chips.push({ key: 'until', label: `eligible until ${r.eligibleUntil.slice(0, 10)}`, title: r.eligibleUntil });
  return chips;
}

export function blockingReasons(role: RoleView): Reason[] {
  return role.decision.reasons.filter((r) => r.blocking);
}

export function notices(role: RoleView): Reason[] {
  return role.decision.reasons.filter((r) => !r.blocking);
}

/** Eligible roles first (in the agent's order), then the ones blocked right now. */
/** Above this many roles the popover offers a filter box. */
export const FILTER_THRESHOLD = 6;

/** Roles whose name or description contains every word of `query` (case-insensitive). */
export function filterRoles<T extends Pick<RoleView, 'name' | 'description'>>(roles: readonly T[], query: string): T[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...roles];
  return roles.filter((r) => {
    const text = `${r.name} ${r.description}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Active roles first (what a user comes back for), otherwise in the policy's order. */
export function activeFirst<T extends Pick<RoleView, 'name'>>(roles: readonly T[], active: ReadonlySet<string>): T[] {
  return [...roles.filter((r) => active.has(r.name)), ...roles.filter((r) => !active.has(r.name))];
}

export function partitionRoles(roles: readonly RoleView[]): { eligible: RoleView[]; blocked: RoleView[] } {
  return {
    eligible: roles.filter((r) => r.decision.allowed),
    blocked: roles.filter((r) => !r.decision.allowed),
  };
}

export type PolicyLine =
  | { kind: 'none'; text: string }
  | { kind: 'policy'; version: string; verified: string; validity: string; expired: boolean };

/** "Policy v7" · "verified 3 min ago" · "valid offline until 24 Nov 2025, 14:00". */
export function policyLine(
  state: Pick<AgentState, 'policy' | 'now'>,
  opts: { locale?: string; timeZone?: string } = {},
): PolicyLine {
  const p = state.policy;
  if (!p) return { kind: 'none', text: 'No verified policy yet' };
  const expired = Date.parse(p.expires) <= Date.parse(state.now);
  const when = formatDateTime(p.expires, opts);
  return {
    kind: 'policy',
    version: `Policy v${p.version}`,
    verified: `verified ${formatRelative(p.verifiedAt, state.now)}`,
    validity: expired ? `expired ${when}` : `valid offline until ${when}`,
    expired,
  };
}

export interface ConnectionView {
  connection: Connection;
  label: string;
  tone: 'subtle' | 'warning' | 'danger' | 'neutral';
}

export function connectionView(state: Pick<AgentState, 'connection' | 'lastError'>): ConnectionView {
  switch (state.connection) {
    case 'online':
      return { connection: 'online', label: 'Online', tone: 'subtle' };
    case 'offline':
      return { connection: 'offline', label: 'Offline — showing the last verified policy', tone: 'warning' };
    case 'rejected':
      return {
        connection: 'rejected',
        label: `Policy update rejected: ${state.lastError ?? 'verification failed'}`,
        tone: 'danger',
      };
    case 'unconfigured':
    default:
      return { connection: 'unconfigured', label: 'Not connected', tone: 'neutral' };
  }
}

export function otherRolesText(n: number): string {
  return `${n} other ${n === 1 ? 'role' : 'roles'} you are not eligible for`;
}

/** The host of the control plane URL for the header; the string itself if it isn't a URL. */
export function serverLabel(server: string | null): string {
  if (!server) return '';
  try {
    return new URL(server).host || server;
  } catch {
    return server;
  }
}
