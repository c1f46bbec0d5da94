// The signed objects of the activation protocol: canonical bytes, hashes, challenges, and the
// state machine both sides persist.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'vitest';
import {
  activationChallenge,
  ActivationRequestSchema,
  approvalChallenge,
  canonicalBytes,
  objectHash,
  toBase64Url,
  type ActivationRequest,
} from '../../shared/activation';
import { ACTIVATION_STATES, TERMINAL, transition, type ActivationEvent } from '../../shared/activation-state';

const request: ActivationRequest = {
  v: 1,
  kind: 'activate',
  user: 'alice@acme.example',
  device: 'x'.repeat(43),
  role: 'ai-cluster-admin',
  duration: 3600,
  justification: 'debug NCCL hang on node 17',
  ticket: 'INC-4711',
  sshPublicKey: null,
  policyVersion: 7,
  requestedAt: '2026-11-22T10:00:00.000Z',
  extends: null,
};
const nonce = 'ab'.repeat(32);

test('the canonical bytes do not depend on key order (RFC 8785)', () => {
  const shuffled = Object.fromEntries(Object.entries(request).reverse()) as ActivationRequest;
  assert.deepEqual(canonicalBytes(shuffled), canonicalBytes(request));
  assert.match(new TextDecoder().decode(canonicalBytes(request)), /^\{"device":/);
});

test('the challenge is SHA-256("pim-activation/v1" ‖ nonce ‖ SHA-256(canonical request))', () => {
  const reqHash = crypto.createHash('sha256').update(canonicalBytes(request)).digest();
  const expected = crypto
    .createHash('sha256')
    .update(Buffer.concat([Buffer.from('pim-activation/v1'), Buffer.from(nonce, 'hex'), reqHash]))
    .digest();
  assert.equal(objectHash(request), reqHash.toString('hex'));
  assert.deepEqual(Buffer.from(activationChallenge(nonce, request)), expected);
  assert.equal(toBase64Url(activationChallenge(nonce, request)), expected.toString('base64url'));
});

test('changing any signed field changes the challenge', () => {
  const base = toBase64Url(activationChallenge(nonce, request));
  const changes: Partial<ActivationRequest>[] = [
    { role: 'gpu-cluster-readonly' },
    { duration: 7200 },
    { justification: 'x' },
    { ticket: 'INC-1' },
    { sshPublicKey: 'ssh-ed25519 AAAA' },
    { policyVersion: 8 },
  ];
  for (const c of changes)
    assert.notEqual(toBase64Url(activationChallenge(nonce, { ...request, ...c })), base, JSON.stringify(c));
  assert.notEqual(toBase64Url(activationChallenge('cd'.repeat(32), request)), base, 'another nonce');
});

test('an approval is bound to the request hash and the decision, under its own domain tag', () => {
  const st = {
    v: 1 as const,
    activation: 'a1',
    requestHash: objectHash(request),
    decision: 'approve' as const,
    approver: 'bob@acme.example',
    reason: null,
  };
  const approve = toBase64Url(approvalChallenge(nonce, st));
  assert.notEqual(toBase64Url(approvalChallenge(nonce, { ...st, decision: 'deny' })), approve);
  assert.notEqual(toBase64Url(approvalChallenge(nonce, { ...st, requestHash: '0'.repeat(64) })), approve);
});

test('requests with control characters, bad names or inconsistent extend fields are refused', () => {
  assert.equal(ActivationRequestSchema.safeParse(request).success, true);
  for (const bad of [
    { justification: 'a\nb' },
    { role: 'Admin!' },
    { kind: 'extend' },
    { extends: 'abc' },
    { duration: 0 },
    { requestedAt: 'yesterday' },
    { extra: 1 },
  ]) {
    assert.equal(ActivationRequestSchema.safeParse({ ...request, ...bad }).success, false, JSON.stringify(bad));
  }
});

test('the state machine follows docs/architecture.md (Activation with WebAuthn) and never leaves a terminal state', () => {
  const go = (s: (typeof ACTIVATION_STATES)[number], e: ActivationEvent) => {
    const t = transition(s, e);
    return t.ok ? t.state : null;
  };
  assert.equal(go('requested', { type: 'assertion-verified', needsApproval: false }), 'approved');
  assert.equal(go('requested', { type: 'assertion-verified', needsApproval: true }), 'pending-approval');
  assert.equal(go('pending-approval', { type: 'quorum-reached' }), 'approved');
  assert.equal(go('pending-approval', { type: 'denied' }), 'denied');
  // refused by the policy in force when it was to take effect (server/admission.ts)
  assert.equal(go('requested', { type: 'refused' }), 'denied');
  assert.equal(go('pending-approval', { type: 'refused' }), 'denied');
  assert.equal(go('approved', { type: 'refused' }), null);
  assert.equal(go('active', { type: 'refused' }), null);
  assert.equal(go('pending-approval', { type: 'request-timeout' }), 'request-expired');
  assert.equal(go('approved', { type: 'start' }), 'active');
  assert.equal(go('active', { type: 'window-ended' }), 'expired');
  assert.equal(go('active', { type: 'deactivate' }), 'deactivated');
  assert.equal(go('active', { type: 'revoke' }), 'revoked');
  assert.equal(go('requested', { type: 'start' }), null, 'no activation without approval');
  assert.equal(go('pending-approval', { type: 'start' }), null);
  assert.equal(go('active', { type: 'assertion-verified', needsApproval: false }), null, 'an assertion counts once');
  for (const s of TERMINAL)
    for (const type of ['start', 'deactivate', 'revoke', 'quorum-reached'] as const)
      assert.equal(go(s, { type }), null, `${s} + ${type}`);
});
