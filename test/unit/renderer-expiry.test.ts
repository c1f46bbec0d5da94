// Roles ending soon in the popover: the banner's words and its one-click Extend, the extension on
// its way shown under the active role (not in its place), and the active card's Extend button.
// Pure helpers are called directly; components are rendered to HTML with react-dom/server.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { ActivationView, AgentState, PimApi } from '../../shared/api';
import { activationFor, extensionFor, extensionStatus } from '../../renderer/activation-format';
import { ActivationStatus } from '../../renderer/ActivationStatus';
import { ErrorBanner } from '../../renderer/ErrorBanner';
import { ExpiryBanner, liveNotice } from '../../renderer/ExpiryBanner';
import { activationView } from '../helpers/activation-view';

type Notice = AgentState['notices'][number];

const NOW = Date.parse('2025-11-24T10:00:00.000Z');

function view(
  over: Partial<ActivationView> & { kind?: 'activate' | 'extend'; extendsId?: string | null } = {},
): ActivationView {
  const { kind = 'activate', extendsId = null, ...rest } = over;
  const role = rest.role ?? 'gpu-admin';
  return activationView({
    role,
    request: { kind, role, duration: 300, requestedAt: '2025-11-24T09:55:00.000Z', extends: extendsId },
    startsAt: '2025-11-24T09:55:00.000Z',
    expiresAt: '2025-11-24T10:02:00.000Z',
    ...rest,
  });
}

const active = view();
const ext = view({
  id: 'e1',
  state: 'requested',
  kind: 'extend',
  extendsId: 'a1',
  createdAt: '2025-11-24T09:59:00.000Z',
  startsAt: null,
  expiresAt: null,
  ceremonyUrl: 'http://localhost:7443/ceremony/activation/e1',
});

function notice(over: Partial<Notice> = {}): Notice {
  return {
    key: 'a1:2',
    activation: 'a1',
    role: 'gpu-admin',
    expiresAt: '2025-11-24T10:02:00.000Z',
    threshold: 2,
    minutesLeft: 2,
    ...over,
  };
}

test('an extension on its way is shown under the active role, not in its place', () => {
  assert.equal(activationFor('gpu-admin', [ext, active])?.id, 'a1', 'the card keeps showing the active activation');
  assert.equal(extensionFor(active, [ext, active])?.id, 'e1');
  // once the extension is active, it is the role's activation (the old one ends "extended by")
  const started = { ...ext, state: 'active' as const, expiresAt: '2025-11-24T10:07:00.000Z' };
  const ended = { ...active, state: 'deactivated' as const, endReason: 'extended by e1' };
  assert.equal(activationFor('gpu-admin', [started, ended])?.id, 'e1');
  assert.equal(extensionFor(started, [started, ended]), null);
  // an extension of something no longer active is an ordinary request
  assert.equal(activationFor('gpu-admin', [ext, ended])?.id, 'e1');
});

test('a refused or lapsed extension stays readable until dismissed; a withdrawn one says nothing', () => {
  const denied = {
    ...ext,
    state: 'denied' as const,
    approvals: [{ approver: 'bob@acme.example', decision: 'deny', reason: 'not now', at: '' }],
  };
  assert.equal(extensionFor(active, [denied, active])?.id, 'e1');
  assert.equal(extensionFor(active, [denied, active], new Set(['e1'])), null);
  assert.equal(extensionFor(active, [{ ...ext, state: 'deactivated' }, active]), null);
  assert.equal(
    extensionFor({ ...active, state: 'expired' }, [ext]),
    null,
    'only an active activation has an extension',
  );
  assert.deepEqual(extensionStatus(denied, null), {
    tone: 'bad',
    title: 'Extension denied',
    detail: 'Denied by bob@acme.example: not now',
  });
  assert.equal(extensionStatus(ext, null).title, 'Extend by 5 min: touch your security key');
  assert.equal(
    extensionStatus({ ...ext, state: 'pending-approval', approvalsNeeded: 1 }, null).title,
    'Extension by 5 min: waiting for 1 approver',
  );
  assert.equal(extensionStatus({ ...ext, state: 'request-expired' }, null).title, 'Extension: request expired');
});

test('the notice counts its minutes down from the agent clock between polls', () => {
  assert.equal(liveNotice(notice({ minutesLeft: 2 }), NOW + 61_000).minutesLeft, 1);
  assert.equal(liveNotice(notice(), NOW + 119_500).minutesLeft, 1, 'the last minute reads 1, never 0');
  assert.equal(liveNotice(notice({ expiresAt: '2025-11-24T10:05:00.000Z', minutesLeft: 9 }), NOW).minutesLeft, 5);
});

const noop = () => undefined;
const banner = (over: Partial<Parameters<typeof ExpiryBanner>[0]> = {}) =>
  renderToStaticMarkup(
    createElement(ExpiryBanner, {
      notices: [notice()],
      activations: [active],
      nowMs: NOW,
      extending: new Set<string>(),
      onExtend: noop,
      onOpenCeremony: noop,
      onDismiss: noop,
      ...over,
    }),
  );

test('the banner says which role ends when, with an Extend button', () => {
  const html = banner();
  assert.match(html, /data-testid="expiry-notice-gpu-admin"/);
  assert.match(html, /data-key="a1:2"/);
  assert.match(html, /<span data-testid="expiry-notice-text">gpu-admin ends in 2 minutes<\/span>/);
  assert.match(html, /data-testid="notice-extend-gpu-admin"[^>]*>Extend</);
  assert.match(
    banner({ extending: new Set(['gpu-admin']) }),
    /data-testid="notice-extend-gpu-admin" disabled="" aria-busy="true">Extending…</,
  );
  assert.equal(banner({ notices: [] }), '', 'no notice, no banner');
  assert.equal(banner({ nowMs: NOW + 3 * 60_000 }), '', 'a notice past its end is not shown');
});

test('once Extend was clicked, the banner asks for the key touch on the security key page', () => {
  const html = banner({ activations: [ext, active] });
  assert.match(html, /data-testid="notice-extension-gpu-admin" data-state="requested"/);
  assert.match(html, /Extend by 5 min: touch your security key/);
  assert.match(html, /data-testid="notice-open-ceremony-gpu-admin"/);
  assert.doesNotMatch(html, /notice-extend-gpu-admin/, 'no second Extend while one is on its way');
  const waiting = banner({ activations: [{ ...ext, state: 'pending-approval', approvalsNeeded: 1 }, active] });
  assert.match(waiting, /waiting for 1 approver/);
  assert.doesNotMatch(waiting, /notice-open-ceremony/);
});

test('role names in the banner are text, never markup', () => {
  const html = banner({ notices: [notice({ role: '<img src=x onerror=alert(1)>' })] });
  assert.doesNotMatch(html, /<img/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt; ends in 2 minutes/);
});

test('a failed Extend is shown in the error banner with its code', () => {
  const html = renderToStaticMarkup(
    createElement(ErrorBanner, {
      loadError: null,
      refreshError: null,
      onDismissRefreshError: noop,
      actionError: {
        title: 'Could not extend gpu-admin',
        error: { code: 'not-allowed', message: 'duration-exceeds-max: at most 5 min' },
      },
      onDismissActionError: noop,
    }),
  );
  assert.match(
    html,
    /data-testid="action-error" data-code="not-allowed">Could not extend gpu-admin: duration-exceeds-max: at most 5 min/,
  );
  assert.equal(
    renderToStaticMarkup(
      createElement(ErrorBanner, { loadError: null, refreshError: null, onDismissRefreshError: noop }),
    ),
    '',
  );
});

const client = {} as PimApi;
const card = (over: Partial<Parameters<typeof ActivationStatus>[0]> = {}) =>
  renderToStaticMarkup(
    createElement(ActivationStatus, {
      client,
      role: 'gpu-admin',
      activation: active,
      requirements: null,
      server: 'http://localhost:7443',
      nowMs: NOW,
      onChanged: noop,
      onDismiss: noop,
      ...over,
    }),
  );

test("an active role's card offers Extend next to Deactivate, and shows the extension on its way", () => {
  const plain = card({ onExtend: noop });
  assert.match(plain, /data-testid="extend-gpu-admin"[^>]*>Extend</);
  assert.match(plain, /data-testid="deactivate-gpu-admin"/);
  assert.doesNotMatch(
    card(),
    /extend-gpu-admin/,
    'no Extend without a handler (e.g. a role the policy no longer offers)',
  );
  const pending = card({ onExtend: noop, extension: ext });
  assert.match(pending, /data-testid="extension-state-gpu-admin" data-state="requested"/);
  assert.match(pending, /data-testid="open-extension-ceremony-gpu-admin"/);
  assert.match(pending, /data-testid="withdraw-extension-gpu-admin"/);
  assert.doesNotMatch(pending, /data-testid="extend-gpu-admin"/, 'one extension at a time');
  assert.doesNotMatch(
    card({ activation: { ...active, state: 'expired' }, extension: ext }),
    /extension-state/,
    'an ended activation has no extension',
  );
});
