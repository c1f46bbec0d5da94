// The audit view's words and its sync state — above all the decision to warn when the journal has
// not reached the control plane for more than an hour (which an e2e test cannot wait for: the
// panel is rendered here with a failure that started 59 and 61 minutes ago).
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { AuditEntry, AuditSyncState } from '../../shared/api';
import {
  auditRoleOptions,
  auditTime,
  auditTone,
  auditTypeLabel,
  describeAuditEntry,
  lastSyncText,
  pendingText,
  SYNC_WARN_AFTER_MS,
  syncWarning,
} from '../../renderer/audit-format';
import { AuditSyncPanel, AuditTimeline } from '../../renderer/AuditView';

const NOW = '2025-11-24T12:00:00.000Z';
const minutesAgo = (m: number) => new Date(Date.parse(NOW) - m * 60_000).toISOString();
const UTC = { locale: 'en-GB', timeZone: 'UTC' };

function sync(over: Partial<AuditSyncState> = {}): AuditSyncState {
  return {
    journaling: true,
    last: 12,
    acked: 12,
    pending: 0,
    lastSuccessAt: minutesAgo(3),
    failingSince: null,
    lastError: null,
    ...over,
  };
}

function entry(over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq: 7,
    at: minutesAgo(5),
    type: 'activation-active',
    user: 'alice@acme.example',
    role: 'gpu-admin',
    activation: 'act1',
    details: {},
    synced: true,
    ...over,
  };
}

const failing = (minutes: number) =>
  sync({
    pending: 4,
    lastSuccessAt: minutesAgo(minutes + 5),
    failingSince: minutesAgo(minutes),
    lastError: { code: 'unreachable', message: 'cannot reach the control plane' },
  });

test('sync failing for more than an hour is a warning; up to an hour it is not', () => {
  assert.equal(SYNC_WARN_AFTER_MS, 3_600_000);
  assert.equal(syncWarning(sync(), NOW), null, 'not failing');
  assert.equal(syncWarning(failing(59), NOW), null);
  assert.equal(syncWarning(failing(60), NOW), null, 'exactly an hour is not more than an hour');
  assert.equal(
    syncWarning(failing(61), NOW),
    'The audit journal has not reached the control plane for 1 h 1 min; 4 records are only on this device (cannot reach the control plane)',
  );
  assert.equal(
    syncWarning({ ...failing(180), pending: 1, lastError: null }, NOW),
    'The audit journal has not reached the control plane for 3 h; 1 record is only on this device',
  );
  assert.equal(syncWarning({ ...failing(90), failingSince: 'garbage' }, NOW), null);
});

test('the sync panel shows the pending count, the last sync, and the warning only past the hour', () => {
  const ok = renderToStaticMarkup(createElement(AuditSyncPanel, { sync: sync(), nowIso: NOW }));
  assert.match(ok, /data-testid="audit-pending" data-pending="0"/);
  assert.match(ok, /Every record is with the control plane/);
  assert.match(ok, /data-testid="audit-last-sync"[^>]*>Last sync 3 min ago</);
  assert.doesNotMatch(ok, /audit-sync-warning|audit-sync-error/);

  const recent = renderToStaticMarkup(createElement(AuditSyncPanel, { sync: failing(59), nowIso: NOW }));
  assert.match(recent, /data-pending="4"/);
  assert.match(recent, /4 records not yet acknowledged by the control plane/);
  assert.doesNotMatch(recent, /audit-sync-warning/);
  assert.match(
    recent,
    /data-testid="audit-sync-error" data-code="unreachable">Retrying \(failing since 59 min ago\): cannot reach the control plane/,
  );

  const long = renderToStaticMarkup(createElement(AuditSyncPanel, { sync: failing(61), nowIso: NOW }));
  assert.match(long, /class="audit-sync audit-sync--warning"/);
  assert.match(
    long,
    /role="alert" data-testid="audit-sync-warning">The audit journal has not reached the control plane for 1 h 1 min/,
  );

  const none = renderToStaticMarkup(
    createElement(AuditSyncPanel, {
      sync: sync({ journaling: false, last: 0, acked: 0, lastSuccessAt: null }),
      nowIso: NOW,
    }),
  );
  assert.match(none, /No audit journal yet/);
  assert.doesNotMatch(none, /audit-last-sync/);
});

test('pending and last-sync words', () => {
  assert.equal(pendingText(sync({ pending: 1 })), '1 record not yet acknowledged by the control plane');
  assert.equal(lastSyncText(sync({ lastSuccessAt: null }), NOW), 'Not synced yet');
  assert.equal(lastSyncText(sync({ lastSuccessAt: minutesAgo(0) }), NOW), 'Last sync just now');
});

test('each record type has a label, a tone and a short description', () => {
  assert.equal(auditTypeLabel('activation-extended'), 'Extended');
  assert.equal(auditTypeLabel('something-new'), 'something-new');
  assert.equal(auditTone('activation-denied'), 'bad');
  assert.equal(auditTone('activation-active'), 'ok');
  assert.equal(auditTone('activation-expired'), 'ended');
  assert.equal(
    describeAuditEntry(entry({ type: 'activation-requested', details: { kind: 'activate', duration: 300 } })),
    'activation for 5 min',
  );
  assert.equal(
    describeAuditEntry(entry({ type: 'activation-requested', details: { kind: 'extend', duration: 3600 } })),
    'extension for 1 h',
  );
  assert.equal(
    describeAuditEntry(entry({ details: { expiresAt: '2025-11-24T12:30:00.000Z', keyTouch: true } }), UTC),
    'until 24 Nov 2025, 12:30 · key touch recorded',
  );
  assert.equal(
    describeAuditEntry(entry({ type: 'activation-deactivated', details: { endReason: 'deactivated by the user' } })),
    'deactivated by the user',
  );
  assert.equal(
    describeAuditEntry(
      entry({ type: 'credentials-injected', details: { items: 'kube pim-gpu-train--gpu-admin, aws pim-gpu-admin' } }),
    ),
    'kube pim-gpu-train--gpu-admin, aws pim-gpu-admin',
  );
  assert.equal(
    describeAuditEntry(entry({ type: 'credentials-removed', details: { items: 'kube pim-x', reason: 'expired' } })),
    'kube pim-x (expired)',
  );
  assert.equal(
    describeAuditEntry(
      entry({ type: 'approval-given', details: { decision: 'deny', requester: 'bob@acme.example', reason: 'freeze' } }),
    ),
    'denied bob@acme.example — freeze',
  );
  assert.equal(
    describeAuditEntry(entry({ type: 'policy-refreshed', role: null, details: { version: 3, changed: false } })),
    'policy v3 (unchanged)',
  );
  assert.equal(
    describeAuditEntry(
      entry({ type: 'sync-failed', role: null, details: { code: 'unreachable', message: 'cannot reach' } }),
    ),
    'unreachable: cannot reach',
  );
  assert.equal(
    describeAuditEntry(
      entry({
        type: 'enrolled',
        role: null,
        details: { user: 'alice@acme.example', server: 'https://pim.acme.example' },
      }),
    ),
    'alice@acme.example enrolled with https://pim.acme.example',
  );
  assert.equal(
    describeAuditEntry(
      entry({ type: 'keystore-changed', role: null, details: { kind: 'device-key-created', keystore: 'file' } }),
    ),
    'device key created in the file keystore',
  );
  assert.equal(
    describeAuditEntry(
      entry({ type: 'config-changed', role: null, details: { key: 'server', value: 'x', other: 1, more: 2 } }),
    ),
    'key: server, value: x, other: 1',
  );
});

test("today's records show the time of day; older ones the date too", () => {
  assert.equal(auditTime('2025-11-24T09:05:07.000Z', NOW, UTC), '09:05:07');
  assert.equal(auditTime('2025-11-20T09:05:07.000Z', NOW, UTC), '20/11/2025, 09:05');
  assert.equal(auditTime('nonsense', NOW, UTC), 'nonsense');
});

test("the role filter offers the policy's roles and those in the journal, each once", () => {
  assert.deepEqual(
    auditRoleOptions(['readonly', 'gpu-admin'], [entry(), entry({ role: 'old-role' }), entry({ role: null })], null),
    ['gpu-admin', 'old-role', 'readonly'],
  );
  assert.deepEqual(auditRoleOptions([], [], 'gone'), ['gone'], 'the selected role stays selectable');
});

test('the timeline lists records newest first as given, marks unsynced ones, and escapes text', () => {
  const html = renderToStaticMarkup(
    createElement(AuditTimeline, {
      records: [
        entry({ seq: 9, type: 'activation-deactivated', synced: false, details: { endReason: '<b>bye</b>' } }),
        entry({ seq: 8 }),
      ],
      nowIso: NOW,
      filtered: false,
    }),
  );
  assert.deepEqual(
    [...html.matchAll(/data-seq="(\d+)"/g)].map((m) => m[1]),
    ['9', '8'],
  );
  assert.match(html, /data-seq="9" data-type="activation-deactivated" data-role="gpu-admin" data-synced="false"/);
  assert.match(html, /not yet synced/);
  assert.match(html, /&lt;b&gt;bye&lt;\/b&gt;/);
  assert.match(
    renderToStaticMarkup(createElement(AuditTimeline, { records: [], nowIso: NOW, filtered: true })),
    /data-testid="audit-empty">No records about this role/,
  );
});
