import { test } from 'vitest';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { isoBase64URL, isoUint8Array } from '@simplewebauthn/server/helpers';
import { SoftAuthenticator } from '../helpers/soft-authenticator';

const RP_ID = 'localhost';
const ORIGIN = 'http://localhost:7443';

// Register a fresh key with the real server-side verifier; return what an RP would store.
async function enrol(key = new SoftAuthenticator()) {
  const options = await generateRegistrationOptions({
    rpName: 'PIM Agent',
    rpID: RP_ID,
    userName: 'alice',
    attestationType: 'none',
    authenticatorSelection: { userVerification: 'required' },
  });
  const response = key.register(options, ORIGIN);
  const result = await verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: true,
  });
  assert.equal(result.verified, true);
  return { key, options, response, credential: result.registrationInfo.credential, result };
}

async function assertionOptions(credential: WebAuthnCredential) {
  return generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: credential.id }],
    userVerification: 'required',
  });
}

test('a registration verifies and yields the credential public key and a zero counter', async () => {
  const { key, options, response, credential, result } = await enrol();
  const [held] = key.credentials();
  assert.ok(held);
  assert.equal(credential.id, held.id);
  assert.equal(credential.id, response.id);
  assert.equal(isoBase64URL.toBuffer(credential.id).length, 32);
  assert.ok(isoUint8Array.areEqual(credential.publicKey, held.publicKeyCose));
  assert.equal(credential.counter, 0);
  assert.equal(result.registrationInfo.fmt, 'none');
  assert.equal(result.registrationInfo.userVerified, true);
  assert.equal(result.registrationInfo.credentialDeviceType, 'singleDevice');
  assert.equal(result.registrationInfo.rpID, RP_ID);
  assert.deepEqual(credential.transports, ['usb']);
  // The browser-style convenience field is the same key as the COSE one, in SPKI form.
  assert.equal(
    response.response.publicKey,
    isoBase64URL.fromBuffer(
      new Uint8Array(crypto.createPublicKey(key.publicKeyPem(held.id)).export({ format: 'der', type: 'spki' })),
    ),
  );
  assert.equal(response.response.publicKeyAlgorithm, -7);
  assert.equal(options.rp.id, RP_ID);
});

test('assertions verify with user verification required and the counter increases each time', async () => {
  const { key, options: regOptions, credential } = await enrol();
  let stored = credential.counter;
  for (const expected of [1, 2]) {
    const options = await assertionOptions({ ...credential, counter: stored });
    const response = key.authenticate(options, ORIGIN);
    assert.equal(response.response.userHandle, regOptions.user.id);
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential: { ...credential, counter: stored },
      requireUserVerification: true,
    });
    assert.equal(result.verified, true);
    assert.equal(result.authenticationInfo.userVerified, true);
    assert.equal(result.authenticationInfo.newCounter, expected);
    assert.ok(result.authenticationInfo.newCounter > stored);
    stored = result.authenticationInfo.newCounter;
  }
  assert.equal(key.credentials()[0]!.counter, 2);
});

test('the signature is plain ES256 over authenticatorData and the client data hash, checkable by hand', async () => {
  const { key, credential } = await enrol();
  const options = await assertionOptions(credential);
  const { response } = key.authenticate(options, ORIGIN);
  const authData = isoBase64URL.toBuffer(response.authenticatorData);
  const clientDataHash = crypto.createHash('sha256').update(isoBase64URL.toBuffer(response.clientDataJSON)).digest();
  const signed = Buffer.concat([authData, clientDataHash]);
  const sig = isoBase64URL.toBuffer(response.signature);
  assert.equal(sig[0], 0x30, 'DER SEQUENCE');
  assert.ok(crypto.verify('sha256', signed, key.publicKeyPem(credential.id), sig));
  assert.deepEqual(authData.subarray(0, 32), new Uint8Array(crypto.createHash('sha256').update(RP_ID).digest()));
  assert.equal(authData[32], 0x05, 'flags UP|UV');
  assert.equal(Buffer.from(authData).readUInt32BE(33), 1);
  assert.equal(authData.length, 37);
});

test('an assertion without user verification fails when UV is required and passes when it is not', async () => {
  const { key, credential } = await enrol();
  const options = await assertionOptions(credential);
  const response = key.authenticate(options, ORIGIN, { userVerified: false });
  const base = {
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential,
  };
  await assert.rejects(
    verifyAuthenticationResponse({ ...base, requireUserVerification: true }),
    /User verification required/,
  );
  const lax = await verifyAuthenticationResponse({ ...base, requireUserVerification: false });
  assert.equal(lax.verified, true);
  assert.equal(lax.authenticationInfo.userVerified, false);
});

test('an authenticator without user verification registers without UV and is refused when UV is required', async () => {
  const key = new SoftAuthenticator({ userVerification: false });
  const options = await generateRegistrationOptions({ rpName: 'PIM Agent', rpID: RP_ID, userName: 'bob' });
  const response = key.register(options, ORIGIN);
  const args = { response, expectedChallenge: options.challenge, expectedOrigin: ORIGIN, expectedRPID: RP_ID };
  await assert.rejects(verifyRegistrationResponse({ ...args, requireUserVerification: true }), /User verification/);
  const ok = await verifyRegistrationResponse({ ...args, requireUserVerification: false });
  assert.equal(ok.verified, true);
  assert.equal(ok.registrationInfo.userVerified, false);
});

test('an assertion without user presence is refused', async () => {
  const { key, credential } = await enrol();
  const options = await assertionOptions(credential);
  const response = key.authenticate(options, ORIGIN, { userPresent: false });
  await assert.rejects(
    verifyAuthenticationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential,
      requireUserVerification: false,
    }),
    /User not present/,
  );
});

test('an assertion made for another origin or another RP ID fails', async () => {
  const { key, credential } = await enrol();
  const options = await assertionOptions(credential);
  const args = { expectedChallenge: options.challenge, expectedOrigin: ORIGIN, expectedRPID: RP_ID, credential };

  const phished = key.authenticate(options, 'https://evil.example');
  await assert.rejects(
    verifyAuthenticationResponse({ ...args, response: phished }),
    /Unexpected authentication response origin/,
  );

  const otherRp = key.authenticate({ ...options, rpId: 'evil.example' }, ORIGIN);
  await assert.rejects(verifyAuthenticationResponse({ ...args, response: otherRp }), /Unexpected RP ID hash/);
});

test('a tampered challenge fails: a mismatch is rejected and rewriting clientDataJSON breaks the signature', async () => {
  const { key, credential } = await enrol();
  const options = await assertionOptions(credential);
  const other = await assertionOptions(credential);
  const args = { expectedOrigin: ORIGIN, expectedRPID: RP_ID, credential };

  const response = key.authenticate(options, ORIGIN);
  await assert.rejects(
    verifyAuthenticationResponse({ ...args, response, expectedChallenge: other.challenge }),
    /Unexpected authentication response challenge/,
  );

  // An attacker replays an old assertion but swaps in the challenge the server now expects.
  const clientData = JSON.parse(isoBase64URL.toUTF8String(response.response.clientDataJSON)) as { challenge: string };
  clientData.challenge = other.challenge;
  const forged = {
    ...response,
    response: { ...response.response, clientDataJSON: isoBase64URL.fromUTF8String(JSON.stringify(clientData)) },
  };
  const result = await verifyAuthenticationResponse({ ...args, response: forged, expectedChallenge: other.challenge });
  assert.equal(result.verified, false);
});

test('a signature counter that goes backwards, or repeats, is rejected as a possible clone', async () => {
  const { key, credential } = await enrol();
  const args = { expectedOrigin: ORIGIN, expectedRPID: RP_ID };
  let stored = 0;
  for (let i = 0; i < 3; i++) {
    const options = await assertionOptions(credential);
    const r = await verifyAuthenticationResponse({
      ...args,
      response: key.authenticate(options, ORIGIN),
      expectedChallenge: options.challenge,
      credential: { ...credential, counter: stored },
    });
    stored = r.authenticationInfo.newCounter;
  }
  assert.equal(stored, 3);

  for (const forced of [1, 3]) {
    const options = await assertionOptions(credential);
    const response = key.authenticate(options, ORIGIN, { counter: forced });
    await assert.rejects(
      verifyAuthenticationResponse({
        ...args,
        response,
        expectedChallenge: options.challenge,
        credential: { ...credential, counter: stored },
      }),
      new RegExp(`Response counter value ${forced} was lower than expected ${stored}`),
    );
  }
});

test("a second authenticator's credential is refused because it is signed by another key", async () => {
  const first = await enrol();
  const second = await enrol(new SoftAuthenticator({ name: 'second' }));
  assert.notEqual(first.credential.id, second.credential.id);

  // The second key cannot answer for a credential it does not hold.
  const options = await assertionOptions(first.credential);
  assert.throws(() => second.key.authenticate(options, ORIGIN), /second: holds none of the allowed credentials/);

  // Even if it signs with its own credential, the RP's stored public key does not match.
  const response = second.key.authenticate({ ...options, allowCredentials: undefined }, ORIGIN);
  assert.equal(response.id, second.credential.id);
  const result = await verifyAuthenticationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential: first.credential,
  });
  assert.equal(result.verified, false);
});

test('a custom AAGUID is carried in the attestation and excludeCredentials stops a second registration', async () => {
  const aaguid = crypto.randomBytes(16);
  const { key, credential, result } = await enrol(new SoftAuthenticator({ aaguid }));
  const hex = aaguid.toString('hex');
  assert.equal(
    result.registrationInfo.aaguid,
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  );
  const again = await generateRegistrationOptions({
    rpName: 'PIM Agent',
    rpID: RP_ID,
    userName: 'alice',
    excludeCredentials: [{ id: credential.id }],
  });
  assert.throws(() => key.register(again, ORIGIN), /already registered/);
});
