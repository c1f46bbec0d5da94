// The audit view's words: record types, one-line descriptions, and the sync state — including the
// decision to warn when the journal has not reached the control plane for over an hour. Pure: no
// DOM, no React, unit-tested as it is.
import type { AuditEntry, AuditSyncState } from '../shared/api';
import { durationLabel } from './activation-format';
import { formatDateTime, formatRelative } from './format';

/** Warn when syncing has been failing for longer than this. */
export const SYNC_WARN_AFTER_MS = 60 * 60_000;

const TYPE_LABEL: Record<string, string> = {
  enrolled: 'Enrolled',
  'policy-refreshed': 'Policy refreshed',
  'policy-rejected': 'Policy rejected',
  'activation-requested': 'Requested',
  'activation-pending-approval': 'Waiting for approval',
  'activation-approved': 'Approved',
  'activation-denied': 'Denied',
  'activation-active': 'Active',
  'activation-extended': 'Extended',
  'activation-deactivated': 'Deactivated',
  'activation-expired': 'Expired',
  'activation-revoked': 'Revoked',
  'activation-request-expired': 'Request expired',
  'approval-given': 'Your decision',
  'credentials-injected': 'Credentials added',
  'credentials-removed': 'Credentials removed',
  'keystore-changed': 'Keystore changed',
  'config-changed': 'Settings changed',
  'sync-failed': 'Sync failed',
  'shell-command': 'Shell command',
};

/** "activation-extended" → "Extended"; an unknown type as it is. */
export function auditTypeLabel(type: string): string {
  return TYPE_LABEL[type] ?? type;
}

export type AuditTone = 'ok' | 'bad' | 'ended' | 'neutral';

/** The dot's colour on the timeline. */
export function auditTone(type: string): AuditTone {
  if (
    ['activation-active', 'activation-extended', 'activation-approved', 'enrolled', 'credentials-injected'].includes(
      type,
    )
  )
    return 'ok';
  if (['activation-denied', 'activation-revoked', 'policy-rejected', 'sync-failed'].includes(type)) return 'bad';
  if (
    ['activation-deactivated', 'activation-expired', 'activation-request-expired', 'credentials-removed'].includes(type)
  )
    return 'ended';
  return 'neutral';
}

type Opts = { locale?: string; timeZone?: string };

/** A short description of what the record says (the role and time are shown beside it). */
export function describeAuditEntry(e: AuditEntry, opts: Opts = {}): string {
  const d = e.details;
  const s = (k: string) => (d[k] === undefined || d[k] === null ? '' : String(d[k]));
  const touch = d.keyTouch === true ? ' · key touch recorded' : '';
  switch (e.type) {
    case 'enrolled':
      return `${s('user') || e.user || 'this device'} enrolled with ${s('server') || 'the control plane'}`;
    case 'keystore-changed':
      return (
        [s('kind').replace(/-/g, ' '), s('keystore') && `in the ${s('keystore')} keystore`].filter(Boolean).join(' ') ||
        'keystore changed'
      );
    case 'policy-refreshed':
      return `policy v${s('version')}${d.changed === false ? ' (unchanged)' : ''}`;
    case 'policy-rejected':
    case 'sync-failed':
      return [s('code'), s('message')].filter(Boolean).join(': ');
    case 'activation-requested': {
      const what = s('kind') === 'extend' ? 'extension' : 'activation';
      return typeof d.duration === 'number' ? `${what} for ${durationLabel(d.duration)}` : what;
    }
    case 'activation-active':
    case 'activation-extended':
      return `${s('expiresAt') ? `until ${formatDateTime(s('expiresAt'), opts)}` : 'started'}${touch}`;
    case 'activation-pending-approval':
    case 'activation-approved':
      return `signed${touch}`;
    case 'approval-given':
      return `${s('decision') === 'deny' ? 'denied' : 'approved'} ${s('requester') || 'a request'}${s('reason') ? ` — ${s('reason')}` : ''}`;
    case 'credentials-injected':
      return s('items') || 'nothing to inject';
    case 'credentials-removed':
      return [s('items'), s('reason') && `(${s('reason')})`].filter(Boolean).join(' ') || 'removed';
    default:
      if (s('endReason')) return s('endReason');
      return Object.entries(d)
        .filter(([k]) => k !== 'keyTouch')
        .slice(0, 3)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(', ');
  }
}

/** "3 records not yet acknowledged by the control plane", or that all of them are there. */
export function pendingText(sync: Pick<AuditSyncState, 'journaling' | 'pending'>): string {
  if (!sync.journaling) return 'No audit journal yet: it starts when this device is enrolled';
  if (sync.pending === 0) return 'Every record is with the control plane';
  return `${sync.pending} ${sync.pending === 1 ? 'record' : 'records'} not yet acknowledged by the control plane`;
}

/** "Last sync 3 min ago" / "Not synced yet". */
export function lastSyncText(sync: Pick<AuditSyncState, 'lastSuccessAt'>, nowIso: string): string {
  return sync.lastSuccessAt ? `Last sync ${formatRelative(sync.lastSuccessAt, nowIso)}` : 'Not synced yet';
}

/**
 * The warning to show when syncing has been failing for more than an hour (null otherwise): the
 * journal is then only on this device, and the security team does not see what happens here.
 */
export function syncWarning(
  sync: Pick<AuditSyncState, 'failingSince' | 'pending' | 'lastError'>,
  nowIso: string,
): string | null {
  if (!sync.failingSince) return null;
  const since = Date.parse(sync.failingSince);
  const now = Date.parse(nowIso);
  if (!Number.isFinite(since) || !Number.isFinite(now) || now - since <= SYNC_WARN_AFTER_MS) return null;
  const minutes = Math.floor((now - since) / 60_000);
  const waiting =
    sync.pending > 0 ? `; ${sync.pending} ${sync.pending === 1 ? 'record is' : 'records are'} only on this device` : '';
  const why = sync.lastError ? ` (${sync.lastError.message})` : '';
  return `The audit journal has not reached the control plane for ${durationLabel(minutes * 60)}${waiting}${why}`;
}

/** The roles the filter offers: the policy's roles for this user, those in the records shown, and
 *  the selected one — sorted, each once. */
export function auditRoleOptions(
  policyRoles: readonly string[],
  records: readonly AuditEntry[],
  selected: string | null,
): string[] {
  const set = new Set<string>(policyRoles);
  for (const r of records) if (r.role) set.add(r.role);
  if (selected) set.add(selected);
  return [...set].sort();
}

/** A record's time on the timeline: the time of day for today's records, else date and time. */
export function auditTime(iso: string, nowIso: string, opts: Opts = {}): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const zone = opts.timeZone ? { timeZone: opts.timeZone } : {};
  const day = (ms: number) =>
    new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', ...zone }).format(
      new Date(ms),
    );
  const sameDay = !Number.isNaN(Date.parse(nowIso)) && day(t) === day(Date.parse(nowIso));
  return new Intl.DateTimeFormat(
    opts.locale,
    sameDay ? { timeStyle: 'medium', ...zone } : { dateStyle: 'short', timeStyle: 'short', ...zone },
  ).format(new Date(t));
}
