// The control plane's side of activation (docs/architecture.md, Flows: Activation with WebAuthn): every way a request
// or an approval can be forged, replayed or mis-signed is refused with its own code, and nothing is activated.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import {
  activationChallenge,
  canonicalBytes,
  objectHash,
  toBase64Url,
  type ActivationRequest,
} from '../../shared/activation';
import crypto from 'node:crypto';
import { ApiError } from '../../server/api/errors';
import type { ControlPlane } from '../../server/control-plane';
import { enrol, newControlPlane, ORIGIN, requestFor, type Person } from '../helpers/control-plane';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { newAgent } from '../helpers/agent';
import { serveRepo } from '../helpers/repo';
import fs from 'node:fs';

const POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional, mfa: { userVerification: discouraged } }
  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      mfa: { userVerification: required }
      approval: { approvers: { groups: [leads] }, count: 1, selfApproval: false }
  - name: self-ok
    eligible: { groups: [leads] }
    activation:
      maxDuration: 1h
      approval: { approvers: { groups: [leads] }, count: 1, selfApproval: true }
users:
  - { email: alice@acme.example, groups: [eng] }
  - { email: bob@acme.example, groups: [eng, leads] }
  - { email: carol@acme.example, groups: [eng] }
`;

async function setup(clock?: () => Date) {
  const { cp } = await newControlPlane({ policy: POLICY, clock });
  const alice = await enrol(cp, 'alice@acme.example');
  const bob = await enrol(cp, 'bob@acme.example');
  const carol = await enrol(cp, 'carol@acme.example');
  return { cp, alice, bob, carol };
}

async function refused(p: Promise<unknown> | (() => unknown), code: string) {
  const e = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => assert.fail(`expected refusal ${code}`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApiError, String(e));
  assert.equal(e.code, code, e.message);
}

async function ask(cp: ControlPlane, p: Person, role: string, over = {}) {
  return cp.activations.create(p.caller, requestFor(p, role, over));
}

function state(cp: ControlPlane, p: Person, id: string) {
  return cp.activations.get(p.caller, id).state;
}

test('an auto-approved role becomes active with the key touch, and the evidence re-verifies', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  assert.equal(activation.state, 'requested');
  const view = await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN));
  assert.equal(view.state, 'active');
  assert.ok(view.expiresAt && Date.parse(view.expiresAt) - Date.parse(view.startsAt!) === 3600_000);
  // anyone with the stored request bytes, the nonce and the key's public key can re-check it
  const ev = cp.activations.evidence(activation.id);
  const cred = alice.key.credentials()[0]!;
  const check = await verifyAuthenticationResponse({
    response: ev.assertion!,
    expectedChallenge: toBase64Url(activationChallenge(ev.nonce, JSON.parse(ev.request) as ActivationRequest)),
    expectedOrigin: ORIGIN,
    expectedRPID: 'localhost',
    credential: { id: cred.id, publicKey: cred.publicKeyCose, counter: 0 },
    requireUserVerification: false,
  });
  assert.equal(check.verified, true);
  assert.equal(objectHash(JSON.parse(ev.request) as ActivationRequest), ev.requestSha256);
});

test('a request field changed after signing is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly', { duration: 1800 });
  // the key signs a challenge for an 8-hour request instead of the stored 30-minute one
  const forged = {
    ...options,
    challenge: toBase64Url(
      activationChallenge(cp.activations.evidence(activation.id).nonce, { ...activation.request, duration: 8 * 3600 }),
    ),
  };
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate(forged, ORIGIN)),
    'challenge-mismatch',
  );
  assert.equal(state(cp, alice, activation.id), 'requested');
});

test('the same assertion replayed is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  const assertion = alice.key.authenticate(options, ORIGIN);
  await cp.activations.submitAssertion(activation.id, assertion);
  await refused(cp.activations.submitAssertion(activation.id, assertion), 'nonce-used');
  const second = await ask(cp, alice, 'readonly');
  await refused(cp.activations.submitAssertion(second.activation.id, assertion), 'challenge-mismatch');
  assert.equal(state(cp, alice, second.activation.id), 'requested');
});

test('an expired nonce is refused, and the request expires', async () => {
  let now = Date.now();
  const { cp, alice } = await setup(() => new Date(now));
  const { activation, options } = await ask(cp, alice, 'readonly');
  now += 5 * 60_000 + 1;
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN)),
    'nonce-expired',
  );
  assert.equal(state(cp, alice, activation.id), 'request-expired');
});

test('user verification missing where the role requires it is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'admin');
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN, { userVerified: false })),
    'user-verification-required',
  );
  assert.equal(state(cp, alice, activation.id), 'requested');
});

test('user verification is not demanded where the role does not ask for it', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  const view = await cp.activations.submitAssertion(
    activation.id,
    alice.key.authenticate(options, ORIGIN, { userVerified: false }),
  );
  assert.equal(view.state, 'active');
});

test('a ceremony from another origin is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, 'https://evil.example')),
    'origin-not-allowed',
  );
  assert.equal(state(cp, alice, activation.id), 'requested');
});

test('an assertion for another RP ID is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate({ ...options, rpId: 'evil.example' }, ORIGIN)),
    'rp-id-mismatch',
  );
});

test('an unknown security key is refused', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  const stranger = new SoftAuthenticator({ name: 'stranger' });
  stranger.register(
    {
      rp: { id: 'localhost', name: 'x' },
      user: { id: 'AAAA', name: 'x', displayName: 'x' },
      challenge: 'AAAA',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    },
    ORIGIN,
  );
  await refused(
    cp.activations.submitAssertion(activation.id, stranger.authenticate({ ...options, allowCredentials: [] }, ORIGIN)),
    'unknown-credential',
  );
  assert.equal(state(cp, alice, activation.id), 'requested');
});

test('a signature counter going backwards is refused and the key is flagged', async () => {
  const { cp, alice } = await setup();
  const first = await ask(cp, alice, 'readonly');
  await cp.activations.submitAssertion(
    first.activation.id,
    alice.key.authenticate(first.options, ORIGIN, { counter: 10 }),
  );
  cp.activations.deactivate(alice.caller, first.activation.id);
  const second = await ask(cp, alice, 'readonly');
  await refused(
    cp.activations.submitAssertion(
      second.activation.id,
      alice.key.authenticate(second.options, ORIGIN, { counter: 3 }),
    ),
    'counter-regressed',
  );
  assert.equal(state(cp, alice, second.activation.id), 'requested');
  assert.equal(cp.users.list().find((u) => u.email === 'alice@acme.example')!.keys[0]!.flagged, true);
});

test('the server re-evaluates with the shared engine: what the policy refuses is never challenged', async () => {
  const { cp, alice } = await setup();
  await refused(ask(cp, alice, 'readonly', { duration: 9 * 3600 }), 'not-allowed');
  await refused(ask(cp, alice, 'admin', { justification: null }), 'not-allowed');
  await refused(ask(cp, alice, 'self-ok'), 'not-allowed');
  await refused(ask(cp, alice, 'no-such-role'), 'unknown-role');
});

test('a request naming another user than the signing device is refused', async () => {
  const { cp, alice, bob } = await setup();
  await refused(cp.activations.create(alice.caller, requestFor(bob, 'readonly')), 'not-your-request');
});

test('approval: a role needing 1 of leads waits, then is approved by a lead with a key touch', async () => {
  const { cp, alice, bob } = await setup();
  const { activation, options } = await ask(cp, alice, 'admin');
  assert.equal(
    (await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN))).state,
    'pending-approval',
  );
  assert.deepEqual(
    cp.approvals.pending(bob.caller).map((a) => a.id),
    [activation.id],
  );
  const ch = await cp.approvals.challenge(bob.caller, activation.id, 'approve', null);
  const view = await cp.approvals.submitAssertion(ch.ceremonyId, bob.key.authenticate(ch.options, ORIGIN));
  assert.equal(view.state, 'active');
  assert.deepEqual(
    view.approvals.map((a) => [a.approver, a.decision]),
    [['bob@acme.example', 'approve']],
  );
});

test('approval: a denial needs a reason, ends the request and shows the reason', async () => {
  const { cp, alice, bob } = await setup();
  const { activation, options } = await ask(cp, alice, 'admin');
  await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN));
  await refused(cp.approvals.challenge(bob.caller, activation.id, 'deny', '  '), 'reason-required');
  const ch = await cp.approvals.challenge(bob.caller, activation.id, 'deny', 'use the readonly role');
  const view = await cp.approvals.submitAssertion(ch.ceremonyId, bob.key.authenticate(ch.options, ORIGIN));
  assert.equal(view.state, 'denied');
  assert.match(view.endReason ?? '', /use the readonly role/);
});

test('self-approval is refused where the policy forbids it, allowed where it allows it', async () => {
  const { cp, bob } = await setup();
  const a = await ask(cp, bob, 'admin');
  await cp.activations.submitAssertion(a.activation.id, bob.key.authenticate(a.options, ORIGIN));
  await refused(cp.approvals.challenge(bob.caller, a.activation.id, 'approve', null), 'self-approval-forbidden');
  assert.equal(cp.approvals.pending(bob.caller).length, 0, 'not offered to approve it either');
  const b = await ask(cp, bob, 'self-ok');
  await cp.activations.submitAssertion(b.activation.id, bob.key.authenticate(b.options, ORIGIN));
  const ch = await cp.approvals.challenge(bob.caller, b.activation.id, 'approve', null);
  assert.equal(
    (await cp.approvals.submitAssertion(ch.ceremonyId, bob.key.authenticate(ch.options, ORIGIN))).state,
    'active',
  );
});

test('an approval by someone who is not an approver is refused', async () => {
  const { cp, alice, carol } = await setup();
  const { activation, options } = await ask(cp, alice, 'admin');
  await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN));
  await refused(cp.approvals.challenge(carol.caller, activation.id, 'approve', null), 'not-an-approver');
  assert.equal(state(cp, alice, activation.id), 'pending-approval');
});

test('an approval assertion made for a different request is refused', async () => {
  const { cp, alice, bob } = await setup();
  const one = await ask(cp, alice, 'admin');
  await cp.activations.submitAssertion(one.activation.id, alice.key.authenticate(one.options, ORIGIN));
  const two = await ask(cp, alice, 'admin', { justification: 'another one' });
  await cp.activations.submitAssertion(two.activation.id, alice.key.authenticate(two.options, ORIGIN));
  const chOne = await cp.approvals.challenge(bob.caller, one.activation.id, 'approve', null);
  const chTwo = await cp.approvals.challenge(bob.caller, two.activation.id, 'approve', null);
  // bob's key signs the statement for request two, submitted as the approval of request one
  await refused(
    cp.approvals.submitAssertion(chOne.ceremonyId, bob.key.authenticate(chTwo.options, ORIGIN)),
    'challenge-mismatch',
  );
  assert.equal(state(cp, alice, one.activation.id), 'pending-approval');
});

test('unapproved requests expire after 24 hours', async () => {
  let now = Date.now();
  const { cp, alice } = await setup(() => new Date(now));
  const { activation, options } = await ask(cp, alice, 'admin');
  await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN));
  now += 24 * 3600_000 + 1;
  assert.equal(state(cp, alice, activation.id), 'request-expired');
});

test('an active role expires at the end of its window, and can be deactivated early', async () => {
  let now = Date.now();
  const { cp, alice } = await setup(() => new Date(now));
  const a = await ask(cp, alice, 'readonly', { requestedAt: new Date(now).toISOString() });
  await cp.activations.submitAssertion(a.activation.id, alice.key.authenticate(a.options, ORIGIN));
  const b = await ask(cp, alice, 'readonly', { requestedAt: new Date(now).toISOString(), justification: 'second' });
  await cp.activations.submitAssertion(b.activation.id, alice.key.authenticate(b.options, ORIGIN));
  assert.equal(cp.activations.deactivate(alice.caller, b.activation.id).state, 'deactivated');
  now += 3600_000 + 1;
  assert.equal(state(cp, alice, a.activation.id), 'expired');
  await refused(() => cp.activations.deactivate(alice.caller, a.activation.id), 'bad-transition');
});

test('a revoked key can no longer sign', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  assert.equal(cp.users.revokeKey('alice@acme.example', alice.key.credentials()[0]!.id), true);
  await refused(
    cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN)),
    'unknown-credential',
  );
});

test('an enrolment code works once and expires', async () => {
  let now = Date.now();
  const { cp } = await newControlPlane({ policy: POLICY, clock: () => new Date(now) });
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) };
  const { code } = cp.users.add('dave@acme.example', [], 60_000);
  const s = await cp.enrolment.start(code, jwk, 't'.repeat(43));
  const key = new SoftAuthenticator();
  await cp.enrolment.finish(s.id, key.register(s.options, ORIGIN));
  await refused(cp.enrolment.start(code, jwk, 't'.repeat(43)), 'enrolment-code-used');
  const late = cp.users.add('erin@acme.example', [], 60_000);
  now += 61_000;
  await refused(cp.enrolment.start(late.code, jwk, 'u'.repeat(43)), 'enrolment-code-expired');
  await refused(cp.enrolment.start('nonsense', jwk, 'u'.repeat(43)), 'bad-enrolment-code');
});

test('the server decides exactly as the agent decided offline, for the same request and policy', async () => {
  const now = new Date();
  const { cp, dir } = await newControlPlane({ policy: POLICY, clock: () => now });
  const srv = await serveRepo(dir);
  const agent = newAgent(undefined, () => now);
  agent.connect({
    server: srv.url,
    user: 'alice@acme.example',
    root: fs.readFileSync(`${dir}/trust-root.json`),
    unenrolled: true,
  });
  await agent.refresh();
  const asks = [
    {},
    { duration: 9 * 3600 },
    { justification: '' },
    { ticket: 'INC-1' },
    { duration: 60, justification: 'ok' },
  ];
  let compared = 0;
  for (const role of ['readonly', 'admin', 'self-ok']) {
    for (const a of asks) {
      const ask = { duration: 3600, justification: 'why', ...a };
      const offline = agent.decideRequest(role, ask);
      const request = requestFor(
        { caller: { email: 'alice@acme.example', device: 'd'.repeat(43) }, key: null as never },
        role,
        {
          duration: ask.duration,
          justification: ask.justification || null,
          ticket: (a as { ticket?: string }).ticket ?? null,
        },
        now,
      );
      assert.deepEqual(cp.activations.evaluate(request, 0), offline, `${role} ${JSON.stringify(a)}`);
      compared++;
    }
  }
  assert.equal(compared, 15);
});

test('an enrolment started before a control plane restart can still be finished after it', async () => {
  const { cp, dir } = await newControlPlane({ policy: POLICY });
  const { code } = cp.users.add('dave@acme.example', []);
  const s = await cp.enrolment.start(code, { kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) }, 'd'.repeat(43));
  // a new ControlPlane on the same folder: nothing in memory survives
  const { ControlPlane } = await import('../../server/control-plane');
  const { configFor } = await import('../../server/config');
  const again = new ControlPlane(dir, cp.db, configFor(ORIGIN));
  const ceremony = again.enrolment.ceremony(s.id);
  assert.equal(ceremony.user, 'dave@acme.example');
  await again.enrolment.finish(s.id, new SoftAuthenticator().register(ceremony.options, ORIGIN));
  assert.equal(again.enrolment.status(s.id, 'd'.repeat(43)).state, 'complete');
  await refused(async () => again.enrolment.ceremony(s.id), 'enrolment-done');
});

test('a user may enrol a backup key, and either key can then sign', async () => {
  const { cp, alice } = await setup();
  const backup = new SoftAuthenticator({ name: 'backup' });
  const { code } = cp.users.add('alice@acme.example', []);
  const s = await cp.enrolment.start(code, { kty: 'OKP', crv: 'Ed25519', x: 'B'.repeat(43) }, alice.caller.device);
  assert.deepEqual(
    s.options.excludeCredentials?.map((c) => c.id),
    [alice.key.credentials()[0]!.id],
    'the first key is not registered twice',
  );
  await cp.enrolment.finish(s.id, backup.register(s.options, ORIGIN));
  assert.equal(cp.users.list().find((u) => u.email === 'alice@acme.example')!.keys.length, 2);
  for (const key of [alice.key, backup]) {
    const { activation, options } = await ask(cp, alice, 'readonly', { justification: key.name });
    assert.equal(options.allowCredentials?.length, 2);
    assert.equal(
      (await cp.activations.submitAssertion(activation.id, key.authenticate(options, ORIGIN))).state,
      'active',
    );
  }
});

test('the stored evidence holds the canonical request bytes, whose hash is the one signed', async () => {
  const { cp, alice } = await setup();
  const { activation, options } = await ask(cp, alice, 'readonly');
  await cp.activations.submitAssertion(activation.id, alice.key.authenticate(options, ORIGIN));
  const ev = cp.activations.evidence(activation.id);
  assert.equal(ev.request, new TextDecoder().decode(canonicalBytes(JSON.parse(ev.request) as ActivationRequest)));
  assert.equal(crypto.createHash('sha256').update(ev.request).digest('hex'), ev.requestSha256);
});
