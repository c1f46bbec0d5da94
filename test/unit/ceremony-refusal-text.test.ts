// What the ceremony page says when a touch was good but the request was refused when it was to take
// effect (server/admission.ts): the reason, never "you denied" to an approver who approved.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { activationOutcome, approvalOutcome } from '../../renderer/ceremony/format';
import type { ActivationOutcome } from '../../renderer/ceremony/model';

const refused: ActivationOutcome = {
  id: 'a1',
  user: 'alice@acme.example',
  role: 'admin',
  state: 'denied',
  expiresAt: null,
  endReason:
    'not granted when approved: the policy in force (v2) no longer allows it: max-active-reached: already active 1 time(s)',
  approvals: [{ approver: 'bob@acme.example', decision: 'approve', reason: null, at: '2026-12-01T10:00:00Z' }],
  approvalsNeeded: 1,
};

test('an approver who approved a request the policy then refused reads why, not "you denied"', () => {
  const t = approvalOutcome(refused, 'approve', 'alice@acme.example');
  assert.equal(t.title, 'Approved, but not granted');
  assert.match(
    t.detail,
    /Your approval is recorded, but alice's admin cannot start: not granted when approved: .*max-active-reached/,
  );
  assert.doesNotMatch(t.detail, /You denied/);
});

test('a requester whose signed request was refused reads the reason', () => {
  const t = activationOutcome({
    ...refused,
    approvals: [],
    endReason: 'not granted when signed: the activation it extends is no longer active (revoked)',
  });
  assert.equal(t.title, 'Denied');
  assert.match(t.detail, /the activation it extends is no longer active/);
});
