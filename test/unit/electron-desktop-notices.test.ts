// Every desktop notification of the tray app and the web shell (shared/desktop-notices): the right one for each
// event, each once, clicks open the right view, safe words.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { ActivationView, AgentState } from '../../shared/api';
import { desktopNoticesToShow, KEEP_GONE, noticeFragment, type NoticeInput } from '../../shared/desktop-notices';
import { activationView } from '../helpers/activation-view';

const NOW = '2026-12-01T10:00:00.000Z';

function act(
  id: string,
  role: string,
  state: ActivationView['state'],
  over: Partial<ActivationView> = {},
): ActivationView {
  return activationView({ id, role, state, createdAt: NOW, ...over });
}

function state(over: Partial<AgentState> = {}): AgentState {
  return {
    now: NOW,
    server: 'http://localhost:1',
    user: { email: 'alice@acme.example', groups: [] },
    connection: 'online',
    lastAttemptAt: null,
    lastError: null,
    policy: null,
    roles: [],
    otherRoles: 0,
    enrolled: true,
    enrolment: null,
    activations: [],
    notices: [],
    credentials: [],
    ...over,
  };
}

function run(inputs: NoticeInput[]): string[][] {
  let seen: ReadonlySet<string> = new Set();
  return inputs.map((input) => {
    const r = desktopNoticesToShow(input, seen);
    seen = r.seen;
    return r.show.map((n) => `${n.view}|${n.title}|${n.body}`);
  });
}

const none = { approvals: [], auditFailingSince: null };

test('approved, denied with its reason, T-10 and T-2 with Extend, ended: each once', () => {
  const pending = act('a1', 'admin', 'pending-approval', { approvalsNeeded: 1 });
  const approved = act('a1', 'admin', 'active', {
    approvalsNeeded: 1,
    approvals: [{ approver: 'bob', decision: 'approve', reason: null, at: NOW }],
  });
  const t10 = { key: 'a1:10', activation: 'a1', role: 'admin', expiresAt: NOW, threshold: 10, minutesLeft: 10 };
  const t2 = { ...t10, key: 'a1:2', threshold: 2, minutesLeft: 2 };
  const denied = act('b1', 'prod', 'denied', {
    approvalsNeeded: 1,
    approvals: [{ approver: 'bob', decision: 'deny', reason: 'no ticket', at: NOW }],
  });
  const out = run([
    { state: state({ activations: [pending] }), ...none },
    { state: state({ activations: [approved] }), ...none },
    { state: state({ activations: [approved] }), ...none },
    { state: state({ activations: [approved], notices: [t10] }), ...none },
    { state: state({ activations: [approved], notices: [t10] }), ...none },
    { state: state({ activations: [approved], notices: [t2] }), ...none },
    { state: state({ activations: [act('a1', 'admin', 'expired', { approvalsNeeded: 1 }), denied] }), ...none },
    { state: state({ activations: [act('a1', 'admin', 'expired', { approvalsNeeded: 1 }), denied] }), ...none },
  ]);
  assert.deepEqual(out, [
    [],
    ['roles|admin was approved|Your request was approved.'],
    [],
    ['extend|admin ends in 10 minutes|Click to extend it (your security key signs the extension).'],
    [],
    ['extend|admin ends in 2 minutes|Click to extend it (your security key signs the extension).'],
    ['roles|admin ended|Its credentials were removed from this computer.', 'roles|prod was denied|Reason: no ticket'],
    [],
  ]);
});

test('a request waiting for me, a refused policy update, audit sync failing over an hour', () => {
  const req = act('c1', 'admin', 'pending-approval', { user: 'carol@acme.example' });
  const out = run([
    { state: state(), approvals: [req], auditFailingSince: '2026-12-01T09:30:00.000Z' },
    {
      state: state({ connection: 'rejected', lastError: 'roles.json signature invalid' }),
      approvals: [req],
      auditFailingSince: '2026-12-01T08:59:00.000Z',
    },
    {
      state: state({ connection: 'rejected', lastError: 'roles.json signature invalid' }),
      approvals: [req],
      auditFailingSince: '2026-12-01T08:59:00.000Z',
    },
  ]);
  assert.deepEqual(out, [
    ['approvals|carol@acme.example asks for admin|Waiting for your approval.'],
    [
      'roles|A policy update was refused|roles.json signature invalid',
      'audit|The audit log is not reaching the control plane|It has failed for over an hour; records are kept on this computer.',
    ],
    [],
  ]);
});

test('after a start, what happened before is remembered without popping up; what needs me still shows', () => {
  const input = {
    state: state({
      activations: [act('x', 'r', 'expired'), act('y', 'r', 'denied')],
      notices: [{ key: 'z:2', activation: 'z', role: 'q', expiresAt: NOW, threshold: 2, minutesLeft: 2 }],
    }),
    ...none,
  };
  const r = desktopNoticesToShow(input, new Set(), { prime: true });
  assert.deepEqual(
    r.show.map((n) => n.key),
    ['expiry:z:2'],
  );
  assert.deepEqual(desktopNoticesToShow(input, r.seen).show, []);
  assert.deepEqual(desktopNoticesToShow({ state: null, ...none }, r.seen), { show: [], seen: r.seen });
});

test('titles show what they say; clicks open the view they are about', () => {
  const [n] = desktopNoticesToShow(
    { state: state({ activations: [act('d', 'x\u202Eevil\n\u0007name', 'denied')] }), ...none },
    new Set(),
  ).show;
  assert.equal(n!.title, 'x evil name was denied');
  assert.equal(n!.body, 'No reason was given.');
  assert.equal(noticeFragment({ view: 'extend', role: 'gpu-admin' }), '#view=extend&role=gpu-admin');
  assert.equal(noticeFragment({ view: 'approvals' }), '#view=approvals');
});

test('a long-running tray remembers a bounded set: keys no longer due are trimmed, a brief gap does not fire again', () => {
  let seen: ReadonlySet<string> = new Set();
  const shown: string[] = [];
  const step = (input: NoticeInput) => {
    const r = desktopNoticesToShow(input, seen);
    seen = r.seen;
    shown.push(...r.show.map((n) => n.key));
  };
  // months of activations, each seen ending and then dropping out of the state
  for (let i = 0; i < 2000; i++) {
    step({ state: state({ activations: [act(`x${i}`, 'readonly', 'expired')] }), ...none });
    step({ state: state(), ...none });
  }
  assert.equal(shown.length, 2000, 'each ended once');
  assert.equal(new Set(shown).size, 2000);
  assert.ok(seen.size <= KEEP_GONE, `bounded (${seen.size})`);

  // a request to approve, then one snapshot where the approvals call came back empty: no second pop-up
  const req = act('r1', 'admin', 'pending-approval', { user: 'carol@acme.example', approvalsNeeded: 1 });
  step({ state: state(), approvals: [req], auditFailingSince: null });
  step({ state: state(), ...none });
  step({ state: state(), approvals: [req], auditFailingSince: null });
  assert.deepEqual(shown.slice(2000), ['approve:r1']);
  assert.ok(seen.has('approve:r1'));
});
