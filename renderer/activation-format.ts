// Pure helpers for activating, approving and enrolling: the activate form's choices and checks,
// the words for each activation state, countdowns. No DOM, no React: unit-tested as they are.
import type { ActivationView, RoleView } from '../shared/api';
import { clockDuration, wordsDuration } from '../shared/duration';

type Requirements = RoleView['decision']['requirements'];
type State = ActivationView['state'];

/** 900 → "15 min", 3600 → "1 h", 5400 → "1 h 30 min", 86400 → "1 day", 172800 → "2 days". */
export const durationLabel = (seconds: number): string => wordsDuration(seconds, 'minutes');

const STEPS = [15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400];

export interface DurationChoice {
  value: number;
  label: string;
}

/** The durations offered for a role: the usual steps up to its maximum, plus the maximum and the
 *  default themselves, ascending. */
export function durationChoices(maxDuration: number, defaultDuration: number): DurationChoice[] {
  const set = new Set<number>(STEPS.filter((s) => s <= maxDuration));
  if (maxDuration > 0) set.add(maxDuration);
  if (defaultDuration > 0 && defaultDuration <= maxDuration) set.add(defaultDuration);
  return [...set].sort((a, b) => a - b).map((value) => ({ value, label: durationLabel(value) }));
}

export type TicketCheck =
  | { state: 'empty'; ok: boolean; message: string }
  | { state: 'valid'; ok: true; message: string }
  | { state: 'invalid'; ok: false; message: string };

/** Compiles a policy's ticket pattern as the engine does (`u` flag); null when it does not compile. */
export function compileTicketPattern(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return null;
  }
}

/** The ticket field, checked as the user types: the same rules the engine applies. */
export function checkTicket(value: string, ticket: Requirements['ticket']): TicketCheck {
  const t = value.trim();
  // the policy's words for it when it has them; the regular expression only as a fallback
  const format = ticket.hint ? ticket.hint : ticket.pattern ? `format ${ticket.pattern}` : '';
  if (t === '') {
    if (ticket.required)
      return { state: 'empty', ok: false, message: `A ticket is required${format ? ` (${format})` : ''}` };
    return { state: 'empty', ok: true, message: format ? `Optional; ${format}` : 'Optional' };
  }
  if (t.length > 128) return { state: 'invalid', ok: false, message: 'At most 128 characters' };
  if (/\p{Cc}/u.test(t)) return { state: 'invalid', ok: false, message: 'No control characters' };
  if (!ticket.pattern) return { state: 'valid', ok: true, message: 'Looks fine' };
  const re = compileTicketPattern(ticket.pattern);
  if (!re)
    return {
      state: 'invalid',
      ok: false,
      message: `The policy's ticket pattern ${ticket.pattern} is invalid — ask an admin`,
    };
  if (ticket.hint)
    return re.test(t)
      ? { state: 'valid', ok: true, message: 'Looks right' }
      : { state: 'invalid', ok: false, message: `Expected ${ticket.hint}` };
  return re.test(t)
    ? { state: 'valid', ok: true, message: `Matches ${ticket.pattern}` }
    : { state: 'invalid', ok: false, message: `Does not match ${ticket.pattern}` };
}

/** Whitespace (newlines, tabs) folded to single spaces: what a justification is sent as. */
export function oneLine(text: string): string {
  return text.replace(/[\s\u0000-\u001f\u007f]+/gu, ' ').trim();
}

export interface ActivateForm {
  duration: number;
  justification: string;
  ticket: string;
}

export interface FormCheck {
  ok: boolean;
  justification: { ok: boolean; message: string | null };
  ticket: TicketCheck;
  duration: { ok: boolean; message: string | null };
}

export function checkActivateForm(r: Requirements, f: ActivateForm): FormCheck {
  const just = oneLine(f.justification);
  const justification =
    just.length > 1000
      ? { ok: false, message: 'At most 1000 characters' }
      : r.justification === 'required' && just === ''
        ? { ok: false, message: 'Required: say briefly why you need this access' }
        : { ok: true, message: null };
  const ticket = checkTicket(f.ticket, r.ticket);
  const duration =
    f.duration > 0 && f.duration <= r.maxDuration
      ? { ok: true, message: null }
      : { ok: false, message: `At most ${durationLabel(r.maxDuration)}` };
  return { ok: justification.ok && ticket.ok && duration.ok, justification, ticket, duration };
}

/** "1 of ml-leads", "2 of ml-leads, carol@acme.example". */
export function approverText(approval: NonNullable<Requirements['approval']>, count = approval.count): string {
  const who = [...approval.approvers.groups, ...approval.approvers.users];
  return `${count} of ${who.length ? who.join(', ') : 'the approvers'}`;
}

/** Remaining time for a countdown: "59:59", "05:03" under an hour; "1:59:59" from an hour on. */
export const formatCountdown = clockDuration;

export const LIVE: ReadonlySet<State> = new Set<State>(['requested', 'pending-approval', 'approved', 'active']);

/** A request to extend an activation that is still active: the card shows it under the active one
 *  (the role stays active while the extension waits for the key or an approver). */
function isExtensionOfActive(a: ActivationView, all: readonly ActivationView[]): boolean {
  return (
    a.state !== 'active' &&
    a.request.kind === 'extend' &&
    a.request.extends !== null &&
    all.some((b) => b.id === a.request.extends && b.state === 'active')
  );
}

/** The activation a role's card shows: its newest live one, else its newest recently ended one
 *  that was not dismissed — an extension of an active one is not shown in its place. */
export function activationFor(
  role: string,
  activations: readonly ActivationView[],
  dismissed: ReadonlySet<string> = new Set(),
): ActivationView | null {
  const mine = activations
    .filter((a) => a.role === role)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  const shown = mine.filter((a) => !isExtensionOfActive(a, mine));
  return shown.find((a) => LIVE.has(a.state)) ?? shown.find((a) => !dismissed.has(a.id)) ?? null;
}

/** The newest request to extend `active` (live, or denied / lapsed and not dismissed: a denial is
 *  worth reading); null when there is none. */
export function extensionFor(
  active: ActivationView,
  activations: readonly ActivationView[],
  dismissed: ReadonlySet<string> = new Set(),
): ActivationView | null {
  if (active.state !== 'active') return null;
  const ext = activations
    .filter((a) => a.request.kind === 'extend' && a.request.extends === active.id && a.state !== 'active')
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  // a withdrawn extension (deactivated) needs no words; a refused or lapsed one does
  return (
    ext.find((a) => LIVE.has(a.state)) ??
    ext.find((a) => (a.state === 'denied' || a.state === 'request-expired') && !dismissed.has(a.id)) ??
    null
  );
}

/** Words for a pending (or refused) extension, shown under the active role. */
export function extensionStatus(ext: ActivationView, requirements: Requirements | null): StatusText {
  const by = durationLabel(ext.request.duration);
  switch (ext.state) {
    case 'requested':
      return {
        tone: 'action',
        title: `Extend by ${by}: touch your security key`,
        detail: 'Open the security key page and touch your key to sign the extension.',
      };
    case 'pending-approval': {
      const s = activationStatus(ext, requirements, 0);
      return {
        tone: 'waiting',
        title: `Extension by ${by}: ${s.title[0]!.toLowerCase()}${s.title.slice(1)}`,
        detail: 'The role stays active meanwhile; the extra time starts when the current window ends.',
      };
    }
    case 'approved':
      return { tone: 'ok', title: `Extension by ${by} approved — starting…`, detail: '' };
    case 'denied':
      return { tone: 'bad', title: 'Extension denied', detail: denialText(ext) };
    default: {
      const s = activationStatus(ext, requirements, 0);
      return { tone: s.tone, title: `Extension: ${s.title.toLowerCase()}`, detail: s.detail };
    }
  }
}

export type Tone = 'action' | 'waiting' | 'ok' | 'bad' | 'ended';

export interface StatusText {
  tone: Tone;
  title: string;
  detail: string;
}

/** The denial's approver and reason, from the signed approvals (else the end reason). */
export function denialText(a: ActivationView): string {
  const d = [...a.approvals].reverse().find((x) => x.decision === 'deny');
  if (d) return `Denied by ${d.approver}: ${d.reason ?? '(no reason given)'}`;
  return a.endReason ? sentence(a.endReason) : 'Denied';
}

function sentence(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** Words for an activation's state on its role card (`nowMs`: the agent's clock). */
export function activationStatus(a: ActivationView, requirements: Requirements | null, nowMs: number): StatusText {
  switch (a.state) {
    case 'requested':
      return {
        tone: 'action',
        title: 'Touch your security key',
        detail: `Open the security key page and touch your key to sign this request for ${durationLabel(a.request.duration)}. It expires 5 minutes after you asked.`,
      };
    case 'pending-approval': {
      const approved = a.approvals.filter((x) => x.decision === 'approve').length;
      const more = Math.max(1, a.approvalsNeeded - approved);
      const who = requirements?.approval
        ? approverText(requirements.approval, more)
        : `${more} ${more === 1 ? 'approver' : 'approvers'}`;
      return {
        tone: 'waiting',
        title: `Waiting for ${who}`,
        detail: 'Your request is signed. It starts as soon as it is approved.',
      };
    }
    case 'approved':
      return { tone: 'ok', title: 'Approved — starting…', detail: '' };
    case 'active': {
      const left = a.expiresAt ? Date.parse(a.expiresAt) - nowMs : 0;
      return { tone: 'ok', title: 'Active', detail: a.expiresAt ? `${formatCountdown(left)} left` : '' };
    }
    case 'denied':
      return { tone: 'bad', title: 'Denied', detail: denialText(a) };
    case 'request-expired':
      return {
        tone: 'ended',
        title: 'Request expired',
        detail: sentence(a.endReason ?? 'the request was not completed in time'),
      };
    case 'expired':
      return { tone: 'ended', title: 'Expired', detail: sentence(a.endReason ?? 'the activation window ended') };
    case 'deactivated':
      return { tone: 'ended', title: 'Deactivated', detail: sentence(a.endReason ?? 'deactivated') };
    case 'revoked':
      return { tone: 'bad', title: 'Revoked', detail: sentence(a.endReason ?? 'revoked by an admin') };
  }
}

/** A device key fingerprint in groups of four, as the ceremony page shows it: "AbCd eFgH iJkL mNoP". */
export function groupFingerprint(fp: string): string {
  return (fp.slice(0, 16).match(/.{1,4}/g) ?? []).join(' ');
}

/** An enrolment link as pasted: trimmed; a quick check before the agent's real one. */
export function enrolmentLinkProblem(link: string): string | null {
  const l = link.trim();
  if (l === '') return 'Paste the enrolment link your admin sent you';
  let u: URL;
  try {
    u = new URL(l);
  } catch {
    return 'That is not a link (it should start with https://)';
  }
  if (u.pathname !== '/enrol' || !/code=/.test(u.hash) || !/root=/.test(u.hash))
    return 'That is not a complete enrolment link (…/enrol#code=…&root=…)';
  return null;
}
