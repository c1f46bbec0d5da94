// Every desktop notification, decided from plain snapshots. Pure: the tray app shows what this
// returns with Electron's Notification (electron/main/main.ts), the web shell with the browser's
// Notification API (renderer/useBrowserNotices.ts); a click opens `view`. Each notice has a key and
// fires once: the caller keeps the returned `seen` set.
import type { ActivationView, AgentState } from './api';
import { noticeText } from './notices';
import { plainText } from './plain-text';

/** The popover view a click opens (the renderer reads it from the URL fragment). */
export type NoticeView = 'roles' | 'approvals' | 'audit' | 'extend';

export interface DesktopNotice {
  key: string;
  title: string;
  body: string;
  view: NoticeView;
  /** the role it is about, when there is one (the Extend view opens on it) */
  role?: string;
}

export interface NoticeInput {
  state: AgentState | null;
  /** requests waiting for this user's approval (the agent's `approvals` call) */
  approvals: readonly ActivationView[];
  /** since when the audit sync keeps failing (null: it is fine) */
  auditFailingSince: string | null;
}

export const AUDIT_FAILING_AFTER_MS = 3600_000;
const MAX = 80;

function clip(text: string): string {
  const t = Array.from(plainText(text));
  return t.length > MAX ? `${t.slice(0, MAX - 1).join('')}…` : t.join('');
}

const ENDED: Readonly<Record<string, string>> = {
  expired: 'ended',
  deactivated: 'was deactivated',
  revoked: 'was revoked',
};

/** What is due in this snapshot, seen or not. */
export function dueNotices(input: NoticeInput): DesktopNotice[] {
  const out: DesktopNotice[] = [];
  const { state } = input;
  if (state) {
    for (const a of state.activations) {
      if (a.approvalsNeeded > 0 && (a.state === 'approved' || a.state === 'active') && a.request.kind === 'activate') {
        out.push({
          key: `approved:${a.id}`,
          title: clip(`${a.role} was approved`),
          body: 'Your request was approved.',
          view: 'roles',
          role: a.role,
        });
      }
      if (a.state === 'denied') {
        const why = a.approvals.find((x) => x.decision === 'deny')?.reason ?? a.endReason;
        out.push({
          key: `denied:${a.id}`,
          title: clip(`${a.role} was denied`),
          body: clip(why ? `Reason: ${why}` : 'No reason was given.'),
          view: 'roles',
          role: a.role,
        });
      }
      const ended = ENDED[a.state];
      if (ended)
        out.push({
          key: `ended:${a.id}`,
          title: clip(`${a.role} ${ended}`),
          body: 'Its credentials were removed from this computer.',
          view: 'roles',
          role: a.role,
        });
    }
    for (const n of state.notices) {
      out.push({
        key: `expiry:${n.key}`,
        title: clip(noticeText(n)),
        body: 'Click to extend it (your security key signs the extension).',
        view: 'extend',
        role: n.role,
      });
    }
    if (state.connection === 'rejected') {
      // one per distinct refusal: the same attack repeating at every refresh is one notice
      out.push({
        key: `policy-rejected:${state.lastError ?? ''}`,
        title: 'A policy update was refused',
        body: clip(
          state.lastError ?? 'It failed verification (possible attack); the last verified policy stays in use.',
        ),
        view: 'roles',
      });
    }
  }
  for (const a of input.approvals) {
    if (a.state !== 'pending-approval') continue;
    out.push({
      key: `approve:${a.id}`,
      title: clip(`${a.user} asks for ${a.role}`),
      body: 'Waiting for your approval.',
      view: 'approvals',
    });
  }
  const now = state ? Date.parse(state.now) : NaN;
  if (
    input.auditFailingSince &&
    Number.isFinite(now) &&
    now - Date.parse(input.auditFailingSince) > AUDIT_FAILING_AFTER_MS
  ) {
    out.push({
      key: `audit-failing:${input.auditFailingSince}`,
      title: 'The audit log is not reaching the control plane',
      body: 'It has failed for over an hour; records are kept on this computer.',
      view: 'audit',
    });
  }
  return out;
}

/**
 * The notices to show now and the keys to remember. `prime` (the first snapshot after start):
 * what already happened before the app started (approved, denied, ended) is remembered without
 * popping up; what still needs the user (an ending role, a request to approve, a refusal, a failing
 * sync) shows.
 */
export function desktopNoticesToShow(
  input: NoticeInput,
  seen: ReadonlySet<string>,
  opts: { prime?: boolean } = {},
): { show: DesktopNotice[]; seen: ReadonlySet<string> } {
  if (!input.state) return { show: [], seen };
  const due = dueNotices(input);
  const dueKeys = new Set(due.map((n) => n.key));
  // remembered: every key still due, plus the most recent few that no longer are — a key that
  // drops out for a snapshot (an approvals call that failed once, a sync that recovered briefly)
  // must not fire again, but a tray running for months must not remember every activation ever
  const gone = [...seen].filter((k) => !dueKeys.has(k)).slice(-KEEP_GONE);
  const next = new Set(gone);
  const show: DesktopNotice[] = [];
  for (const n of due) {
    const known = seen.has(n.key) || next.has(n.key);
    next.add(n.key);
    if (known) continue;
    if (opts.prime && /^(approved|denied|ended):/.test(n.key)) continue;
    show.push(n);
  }
  return { show, seen: next };
}

/** How many keys that are no longer due are still remembered (newest first to stay). */
export const KEEP_GONE = 200;

/** The popover fragment a click opens. */
export function noticeFragment(n: Pick<DesktopNotice, 'view' | 'role'>): string {
  return n.role !== undefined ? `#view=${n.view}&role=${encodeURIComponent(n.role)}` : `#view=${n.view}`;
}
