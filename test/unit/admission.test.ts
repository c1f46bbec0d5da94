// server/admission.ts (and webauthn's counter rule): the re-check made when a request is about to take effect. Pure, so every
// reason a waiting request can lose its right to start is checked here on fixed facts.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { ActivationRequest } from '../../shared/activation';
import type { CompiledRole, Subject } from '../../shared/policy/types';
import { admit, APPROVAL_TTL_MS, quorum, type AdmissionInput } from '../../server/admission';
import { counterRegressed } from '../../server/webauthn';

const NOW = new Date('2026-12-01T10:00:00Z'); // a Tuesday

const ROLE: CompiledRole = {
  name: 'admin',
  description: '',
  eligible: { groups: ['eng'], until: null },
  activation: {
    maxDuration: 7200,
    defaultDuration: 3600,
    userVerification: 'required',
    justification: 'optional',
    ticket: { required: false, pattern: null },
    approval: { approvers: { groups: ['leads'], users: [] }, count: 1, selfApproval: false },
    windows: [],
    maxActive: 1,
  },
  grants: { kubernetes: [], aws: [], ssh: [] },
};

const ALICE: Subject = { email: 'alice@acme.example', groups: ['eng'], assignments: [] };

const REQUEST: ActivationRequest = {
  v: 1,
  kind: 'activate',
  user: ALICE.email,
  device: 'dev',
  role: 'admin',
  duration: 3600,
  justification: null,
  ticket: null,
  sshPublicKey: null,
  policyVersion: 1,
  requestedAt: NOW.toISOString(),
  extends: null,
};

const input = (over: Partial<AdmissionInput> = {}): AdmissionInput => ({
  request: REQUEST,
  now: NOW,
  role: ROLE,
  policyVersion: 3,
  policyExpires: new Date(NOW.getTime() + 7 * 86400_000),
  subject: ALICE,
  activeCount: 0,
  deviceEnrolled: true,
  pendingSince: new Date(NOW.getTime() - 3600_000),
  extending: null,
  ...over,
});

const refusal = (over: Partial<AdmissionInput>) => {
  const a = admit(input(over));
  assert.equal(a.ok, false, 'refused');
  return a;
};

test('a request the policy in force still allows is admitted', () => {
  const a = admit(input());
  assert.equal(a.ok, true);
});

test('maxActive counts what is live now', () => {
  const r = refusal({ activeCount: 1 });
  assert.equal(r.code, 'max-active-reached');
  assert.match(r.message, /policy in force \(v3\) no longer allows it: max-active-reached/);
  assert.equal(r.expired, false);
});

test('a requester the republished policy no longer names is not eligible', () => {
  assert.equal(refusal({ subject: { ...ALICE, groups: [] } }).code, 'not-eligible');
});

test("a window closed on the server's clock refuses it", () => {
  const role = {
    ...ROLE,
    activation: { ...ROLE.activation, windows: [{ days: ['tue' as const], from: '08:00', to: '09:00', tz: 'UTC' }] },
  };
  assert.equal(refusal({ role }).code, 'outside-window');
  assert.equal(admit(input({ role, now: new Date('2026-12-01T08:30:00Z') })).ok, true);
});

test('the 24 h approval deadline is judged on the server clock, and makes it expire rather than be denied', () => {
  const since = new Date(NOW.getTime() - APPROVAL_TTL_MS);
  const r = refusal({ pendingSince: since });
  assert.equal(r.code, 'approval-deadline-passed');
  assert.equal(r.expired, true);
  assert.equal(
    admit(input({ pendingSince: new Date(since.getTime() + 1) })).ok,
    true,
    'one millisecond before the deadline',
  );
  assert.equal(
    admit(input({ pendingSince: null, activeCount: 0 })).ok,
    true,
    'auto-approved roles have no approval deadline',
  );
});

test('a revoked device, a removed role and an expired server policy each refuse it', () => {
  assert.equal(refusal({ deviceEnrolled: false }).code, 'device-revoked');
  assert.equal(refusal({ role: null }).code, 'role-removed');
  assert.equal(refusal({ policyExpires: NOW }).code, 'policy-expired');
});

test('an extension takes effect only while the activation it extends is active', () => {
  const ext = { ...REQUEST, kind: 'extend' as const, extends: 'prev' };
  assert.equal(admit(input({ request: ext, extending: { state: 'active', endReason: null } })).ok, true);
  const r = refusal({ request: ext, extending: { state: 'revoked', endReason: 'revoked by admin' } });
  assert.equal(r.code, 'extended-not-active');
  assert.match(r.message, /no longer active \(revoked: revoked by admin\)/);
  assert.equal(refusal({ request: ext, extending: { state: 'expired', endReason: null } }).code, 'extended-not-active');
});

test('the signature counter regresses only when it does not grow and someone counts', () => {
  assert.equal(counterRegressed(5, 6), false);
  assert.equal(counterRegressed(5, 5), true);
  assert.equal(counterRegressed(5, 1), true);
  assert.equal(counterRegressed(0, 0), false, 'keys that never count are not judged');
  assert.equal(counterRegressed(0, 7), false);
  assert.equal(counterRegressed(3, 0), true);
});

const withCount = (count: number | null) => ({
  ...ROLE,
  activation: { ...ROLE.activation, approval: count === null ? null : { ...ROLE.activation.approval!, count } },
});
const leads = new Set(['bob@acme.example', 'carol@acme.example']);
const q = (count: number | null, approvers: string[], storedNeeded = 1) =>
  quorum({
    admission: admit(input({ role: withCount(count) })),
    approvers,
    mayApprove: (a) => leads.has(a),
    storedNeeded,
    ruleCount: count,
  });

test('quorum: the approval count is the policy in force now, not the one stored with the request', () => {
  assert.deepEqual(
    q(2, ['bob@acme.example']),
    { needed: 2, counted: 1, reached: false },
    'raised from 1 to 2: one is not enough',
  );
  assert.deepEqual(q(2, ['bob@acme.example', 'carol@acme.example']), { needed: 2, counted: 2, reached: true });
  assert.deepEqual(
    q(1, ['bob@acme.example'], 2),
    { needed: 1, counted: 1, reached: true },
    'lowered: the policy now asks for one',
  );
  assert.deepEqual(q(null, [], 1), { needed: 0, counted: 0, reached: true }, 'approval removed from the role');
});

test('quorum: only approvers who may approve now count, each once', () => {
  assert.deepEqual(
    q(2, ['bob@acme.example', 'dave@acme.example']),
    { needed: 2, counted: 1, reached: false },
    'dave left the approver group',
  );
  assert.deepEqual(q(2, ['bob@acme.example', 'bob@acme.example']), { needed: 2, counted: 1, reached: false });
});

test('quorum: when admission refuses, the refusal waits for the stricter of the stored and current counts', () => {
  const refused = admit(input({ activeCount: 1 }));
  assert.equal(refused.ok, false);
  assert.deepEqual(
    quorum({
      admission: refused,
      approvers: ['bob@acme.example'],
      mayApprove: () => true,
      storedNeeded: 1,
      ruleCount: 2,
    }),
    { needed: 2, counted: 1, reached: false },
  );
  assert.deepEqual(
    quorum({
      admission: refused,
      approvers: ['bob@acme.example'],
      mayApprove: () => true,
      storedNeeded: 1,
      ruleCount: null,
    }),
    { needed: 1, counted: 1, reached: true },
    'role removed: the stored count',
  );
});
