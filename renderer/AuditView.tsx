// This device's audit journal as a timeline (newest first), filtered by role, with where sending it
// to the control plane stands: how many records it has not acknowledged yet, when a sync last
// worked, and a warning when syncing has been failing for more than an hour.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ApiError, AuditEntry, AuditSyncState, AuditView as AuditViewData, PimApi } from '../shared/api';
import {
  auditRoleOptions,
  auditTime,
  auditTone,
  auditTypeLabel,
  describeAuditEntry,
  lastSyncText,
  pendingText,
  syncWarning,
} from './audit-format';
import { formatDateTime, formatRelative } from './format';

const POLL_MS = 4000;
const PAGE = 100;
const MAX = 500;

export function AuditSyncPanel({ sync, nowIso }: { sync: AuditSyncState; nowIso: string }) {
  const warning = syncWarning(sync, nowIso);
  return (
    <div className={`audit-sync${warning ? ' audit-sync--warning' : ''}`} data-testid="audit-sync">
      <p className="audit-sync__line" data-testid="audit-pending" data-pending={sync.pending}>
        <span
          className={`audit-sync__dot audit-sync__dot--${sync.pending === 0 ? 'ok' : 'waiting'}`}
          aria-hidden="true"
        />
        {pendingText(sync)}
      </p>
      {sync.journaling && (
        <p
          className="audit-sync__line muted"
          data-testid="audit-last-sync"
          data-at={sync.lastSuccessAt ?? ''}
          title={sync.lastSuccessAt ? formatDateTime(sync.lastSuccessAt) : undefined}
        >
          {lastSyncText(sync, nowIso)}
        </p>
      )}
      {warning ? (
        <p className="audit-sync__warning" role="alert" data-testid="audit-sync-warning">
          {warning}
        </p>
      ) : (
        sync.failingSince &&
        sync.lastError && (
          <p className="audit-sync__line muted" data-testid="audit-sync-error" data-code={sync.lastError.code}>
            Retrying (failing since {formatRelative(sync.failingSince, nowIso)}): {sync.lastError.message}
          </p>
        )
      )}
    </div>
  );
}

export function AuditTimeline({
  records,
  nowIso,
  filtered,
}: {
  records: readonly AuditEntry[];
  nowIso: string;
  filtered: boolean;
}) {
  if (records.length === 0) {
    return (
      <p className="empty" data-testid="audit-empty">
        {filtered ? 'No records about this role.' : 'No records yet.'}
      </p>
    );
  }
  return (
    <ol className="audit-timeline" data-testid="audit-timeline">
      {records.map((r) => (
        <li
          key={r.seq}
          className={`audit-record audit-record--${auditTone(r.type)}`}
          data-testid="audit-record"
          data-seq={r.seq}
          data-type={r.type}
          data-role={r.role ?? ''}
          data-synced={String(r.synced)}
        >
          <div className="audit-record__head">
            <span className="audit-record__type" data-testid="audit-record-type">
              {auditTypeLabel(r.type)}
            </span>
            {r.role && (
              <span className="audit-record__role" data-testid="audit-record-role">
                {r.role}
              </span>
            )}
            <time
              className="audit-record__time"
              dateTime={r.at}
              title={`${formatDateTime(r.at)} · record ${r.seq}${r.synced ? '' : ' · not yet synced'}`}
            >
              {auditTime(r.at, nowIso)}
            </time>
          </div>
          <p className="audit-record__what" data-testid="audit-record-description">
            {describeAuditEntry(r)}
            {!r.synced && <span className="audit-record__unsynced"> · not yet synced</span>}
          </p>
        </li>
      ))}
    </ol>
  );
}

export function AuditView({
  client,
  policyRoles,
  pollMs = POLL_MS,
}: {
  client: PimApi;
  policyRoles: readonly string[];
  pollMs?: number;
}) {
  const [role, setRole] = useState('');
  const [limit, setLimit] = useState(PAGE);
  const [data, setData] = useState<AuditViewData | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    const r = await client
      .auditView({ limit, ...(role ? { role } : {}) })
      .catch((x: unknown) => ({ ok: false as const, error: { code: 'agent-unreachable', message: String(x) } }));
    // a reply for an older filter must not replace a newer one
    if (mine !== seq.current) return;
    if (!r.ok) {
      setError(r.error);
      return;
    }
    setError(null);
    setData(r.value);
  }, [client, role, limit]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), pollMs);
    return () => clearInterval(timer);
  }, [load, pollMs]);

  const options = auditRoleOptions(policyRoles, data?.records ?? [], role || null);
  // records of the filter in force (a poll for the previous filter may still be on screen)
  const records = data ? data.records.filter((r) => !role || r.role === role) : [];

  return (
    <section className="audit" data-testid="audit-view" aria-labelledby="audit-heading">
      <h2 id="audit-heading" className="section-title">
        Audit journal
      </h2>
      {error && (
        <p className="field-error" role="alert" data-testid="audit-error" data-code={error.code}>
          {error.message}
        </p>
      )}
      {data && <AuditSyncPanel sync={data.sync} nowIso={data.now} />}
      <label className="field audit__filter">
        <span className="field__label">Role</span>
        <select
          className="input"
          data-testid="audit-role-filter"
          value={role}
          onChange={(e) => {
            setRole(e.target.value);
            setLimit(PAGE);
          }}
        >
          <option value="">All records</option>
          {options.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      {!data && !error && <p className="empty">Loading…</p>}
      {data && <AuditTimeline records={records} nowIso={data.now} filtered={role !== ''} />}
      {data && data.records.length >= limit && limit < MAX && (
        <button type="button" className="link-button" data-testid="audit-more" onClick={() => setLimit(MAX)}>
          Show more
        </button>
      )}
    </section>
  );
}
