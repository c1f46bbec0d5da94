// The popover's words and checks for activating, approving and enrolling (renderer/activation-format).
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { ActivationView, RoleView } from '../../shared/api';
import { isCeremonyUrl, sameOrigin } from '../../shared/ceremony-url';
import {
  activationFor,
  activationStatus,
  checkActivateForm,
  checkTicket,
  denialText,
  durationChoices,
  durationLabel,
  enrolmentLinkProblem,
  formatCountdown,
  groupFingerprint,
  oneLine,
} from '../../renderer/activation-format';
import { activationView } from '../helpers/activation-view';

type Requirements = RoleView['decision']['requirements'];

const req: Requirements = {
  maxDuration: 7200,
  defaultDuration: 3600,
  justification: 'required',
  ticket: { required: true, pattern: '^INC-[0-9]+$' },
  approval: { approvers: { groups: ['ml-leads'], users: [] }, count: 1, selfApproval: false },
  userVerification: 'required',
  windows: [],
  nextWindowOpens: null,
  maxActive: null,
  eligibleUntil: null,
};

function view(over: Partial<ActivationView> = {}): ActivationView {
  return activationView({
    role: 'admin',
    state: 'requested',
    request: {
      role: 'admin',
      duration: 5400,
      justification: 'x',
      ticket: 'INC-1',
      requestedAt: '2025-01-01T10:00:00.000Z',
    },
    approvalsNeeded: 1,
    ceremonyUrl: 'http://localhost:7443/ceremony/activation/a1',
    ...over,
  });
}

test('durations are offered in the usual steps up to the maximum, with the maximum and default included', () => {
  assert.deepEqual(
    durationChoices(7200, 3600).map((c) => c.label),
    ['15 min', '30 min', '1 h', '2 h'],
  );
  assert.deepEqual(
    durationChoices(8 * 3600, 3600).map((c) => c.value),
    [900, 1800, 3600, 7200, 14400, 28800],
  );
  assert.deepEqual(
    durationChoices(5400, 2700).map((c) => c.label),
    ['15 min', '30 min', '45 min', '1 h', '1 h 30 min'],
    'odd maximum and default are offered too',
  );
  assert.deepEqual(
    durationChoices(600, 600).map((c) => c.label),
    ['10 min'],
    'a maximum below the first step',
  );
  assert.deepEqual(
    durationChoices(3600, 99999).map((c) => c.value),
    [900, 1800, 3600],
    'a default above the maximum is not offered',
  );
  assert.equal(durationLabel(86400), '1 day');
  assert.equal(durationLabel(2 * 86400 + 3600), '2 days 1 h');
  assert.equal(durationLabel(90), '1 min 30 s');
});

test("the ticket is checked as typed, with the engine's rules (unicode regex, length, control characters)", () => {
  const t = req.ticket;
  assert.deepEqual(checkTicket('', t), {
    state: 'empty',
    ok: false,
    message: 'A ticket is required (format ^INC-[0-9]+$)',
  });
  assert.equal(checkTicket('INC-', t).ok, false);
  assert.equal(checkTicket('INC-', t).message, 'Does not match ^INC-[0-9]+$');
  assert.equal(checkTicket('INC-4711', t).state, 'valid');
  assert.equal(checkTicket('  INC-4711 ', t).ok, true, 'surrounding spaces are trimmed, as the agent does');
  assert.equal(checkTicket('CHG-1', t).state, 'invalid');
  assert.equal(checkTicket('INC-1\u0007', t).ok, false);
  assert.equal(checkTicket('INC-' + '1'.repeat(200), t).message, 'At most 128 characters');
  assert.deepEqual(checkTicket('', { required: false, pattern: null }), {
    state: 'empty',
    ok: true,
    message: 'Optional',
  });
  assert.equal(checkTicket('anything', { required: false, pattern: null }).ok, true);
  // \p{…} needs the u flag, as in the engine; a pattern that does not compile fails closed
  assert.equal(checkTicket('ÄB-1', { required: true, pattern: '^\\p{Lu}+-\\d+$' }).ok, true);
  const broken = checkTicket('x', { required: true, pattern: '([' });
  assert.equal(broken.ok, false);
  assert.match(broken.message, /invalid — ask an admin/);
});

test('the form can be sent only when justification, ticket and duration are acceptable', () => {
  const ok = { duration: 3600, justification: 'node 17 hangs', ticket: 'INC-4711' };
  assert.equal(checkActivateForm(req, ok).ok, true);
  assert.equal(checkActivateForm(req, { ...ok, justification: ' \n ' }).justification.ok, false);
  assert.equal(checkActivateForm({ ...req, justification: 'optional' }, { ...ok, justification: '' }).ok, true);
  assert.equal(checkActivateForm(req, { ...ok, ticket: 'INC-' }).ok, false);
  assert.equal(checkActivateForm(req, { ...ok, duration: 7201 }).duration.ok, false);
  assert.equal(checkActivateForm(req, { ...ok, justification: 'x'.repeat(1001) }).ok, false);
  assert.equal(oneLine(' two\nlines\t and\u0000 more '), 'two lines and more');
});

test('countdowns read mm:ss under an hour and h:mm:ss from an hour on, never negative', () => {
  assert.equal(formatCountdown(59 * 60_000 + 59_000), '59:59');
  assert.equal(formatCountdown(5 * 60_000 + 3_000), '05:03');
  assert.equal(formatCountdown(3_600_000), '1:00:00');
  assert.equal(formatCountdown(2 * 3_600_000 + 61_000), '2:01:01');
  assert.equal(formatCountdown(400), '00:01', 'a started second still counts');
  assert.equal(formatCountdown(-5000), '00:00');
});

test('each activation state has words a person can act on', () => {
  const now = Date.parse('2025-01-01T10:00:00.000Z');
  assert.equal(activationStatus(view(), req, now).title, 'Touch your security key');
  assert.equal(activationStatus(view({ state: 'pending-approval' }), req, now).title, 'Waiting for 1 of ml-leads');
  assert.equal(
    activationStatus(
      view({
        state: 'pending-approval',
        approvalsNeeded: 2,
        approvals: [{ approver: 'bob@x', decision: 'approve', reason: null, at: '' }],
      }),
      { ...req, approval: { ...req.approval!, count: 2 } },
      now,
    ).title,
    'Waiting for 1 of ml-leads',
    'counts what is still needed',
  );
  assert.equal(activationStatus(view({ state: 'pending-approval' }), null, now).title, 'Waiting for 1 approver');
  const active = activationStatus(view({ state: 'active', expiresAt: '2025-01-01T10:42:10.000Z' }), req, now);
  assert.equal(active.tone, 'ok');
  assert.equal(active.detail, '42:10 left');
  const denied = view({
    state: 'denied',
    endReason: 'denied by bob@acme.example: no',
    approvals: [{ approver: 'bob@acme.example', decision: 'deny', reason: 'change freeze until Monday', at: '' }],
  });
  assert.equal(activationStatus(denied, req, now).detail, 'Denied by bob@acme.example: change freeze until Monday');
  assert.equal(
    denialText(view({ state: 'denied', endReason: 'denied by carol: too broad' })),
    'Denied by carol: too broad',
  );
  assert.equal(activationStatus(view({ state: 'expired' }), req, now).title, 'Expired');
  assert.equal(
    activationStatus(view({ state: 'request-expired', endReason: 'not signed within 5 minutes' }), req, now).detail,
    'Not signed within 5 minutes',
  );
  assert.equal(activationStatus(view({ state: 'deactivated' }), req, now).tone, 'ended');
});

test('a role card shows its newest live activation, else its newest ended one unless dismissed', () => {
  const older = view({
    id: 'old',
    state: 'active',
    createdAt: '2025-01-01T09:00:00.000Z',
    expiresAt: '2025-01-01T11:00:00.000Z',
  });
  const newer = view({ id: 'new', state: 'denied', createdAt: '2025-01-01T10:00:00.000Z' });
  const other = view({ id: 'o', role: 'readonly', state: 'active' });
  assert.equal(activationFor('admin', [newer, older, other])?.id, 'old', 'live beats a newer ended one');
  assert.equal(activationFor('admin', [newer])?.id, 'new');
  assert.equal(activationFor('admin', [newer], new Set(['new'])), null);
  assert.equal(activationFor('nothing', [newer, other]), null);
});

test('enrolment links are checked before they are sent; fingerprints are grouped like the ceremony page', () => {
  assert.equal(enrolmentLinkProblem(''), 'Paste the enrolment link your admin sent you');
  assert.match(enrolmentLinkProblem('hello')!, /not a link/);
  assert.match(enrolmentLinkProblem('https://pim.example.com/')!, /not a complete enrolment link/);
  assert.equal(enrolmentLinkProblem(` https://pim.example.com/enrol#code=abc&root=${'a'.repeat(64)} `), null);
  assert.equal(groupFingerprint('AbCdEfGhIjKlMnOpQrSt'), 'AbCd EfGh IjKl MnOp');
});

test("ceremony URLs: the connected control plane's ceremony pages only", () => {
  const s = 'http://localhost:7443';
  assert.equal(isCeremonyUrl(`${s}/ceremony/enrol/abc`, s), true);
  assert.equal(isCeremonyUrl(`${s}/ceremony/activation/abc_-D`, s), true);
  assert.equal(isCeremonyUrl(`${s}/ceremony/approval/${'0'.repeat(64)}`, s), true);
  for (const u of [
    `${s}/ceremony/approval/abc`,
    `${s}/ceremony/other/abc`,
    `${s}/ceremony/activation/abc/x`,
    `${s}/ceremony/activation/a?b=c`,
    `${s}/ceremony/activation/a#x`,
    'http://localhost:7444/ceremony/enrol/abc',
    'https://localhost:7443/ceremony/enrol/abc',
    'javascript:alert(1)',
    `${s}/ceremony/enrol/${'a'.repeat(65)}`,
  ]) {
    assert.equal(isCeremonyUrl(u, s), false, u);
  }
  assert.equal(isCeremonyUrl(`${s}/ceremony/enrol/abc`, null), false);
  assert.equal(sameOrigin('https://a.example/x', 'https://a.example:443/y'), true);
  assert.equal(sameOrigin('https://u:p@a.example/x', 'https://a.example/'), false);
});

test('a policy ticket hint replaces the regular expression in what the user reads', () => {
  const t = {
    required: true,
    pattern: '^(INC|CHG)-[0-9]+$',
    hint: 'an incident or change ID, like INC-1234 or CHG-77',
  };
  assert.deepEqual(checkTicket('', t), {
    state: 'empty',
    ok: false,
    message: 'A ticket is required (an incident or change ID, like INC-1234 or CHG-77)',
  });
  assert.equal(checkTicket('JIRA-1', t).message, 'Expected an incident or change ID, like INC-1234 or CHG-77');
  assert.equal(checkTicket('CHG-77', t).ok, true);
});
