// Device-signed requests: signDeviceRequest (agent, agent/keystore/device-key.ts) and
// verifyDeviceRequest (shared/device-jws.ts, what the server runs).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'vitest';
import { SignJWT, base64url, decodeProtectedHeader, decodeJwt } from 'jose';
import { createDeviceKey, loadDeviceKey, signDeviceRequest, type DeviceKey, type Keystore } from '../../agent/keystore';
import { DeviceJwsError, bodySha256, verifyDeviceRequest, type DeviceJwsErrorCode } from '../../shared/device-jws';

/** A keystore in memory: these tests are about the signature, not about storage. */
function memoryKeystore(): Keystore {
  const m = new Map<string, Buffer>();
  return {
    kind: 'file',
    description: 'memory (test)',
    get: async (n) => (m.has(n) ? Buffer.from(m.get(n)!) : null),
    set: async (n, s) => void m.set(n, Buffer.from(s)),
    delete: async (n) => m.delete(n),
  };
}

const newKey = () => createDeviceKey(memoryKeystore());

const HTM = 'POST';
const HTU = 'https://pim.acme.example/api/v1/activations';
const BODY = JSON.stringify({ role: 'ai-cluster-admin', duration: 3600 });
const REQ = { htm: HTM, htu: HTU, bodySha256: bodySha256(BODY) };
const T0 = new Date('2026-05-04T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const refusedWith = (code: DeviceJwsErrorCode, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof DeviceJwsError, `expected a DeviceJwsError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

test('a signed request verifies and yields its jti and expiry', async () => {
  const key = await newKey();
  const jws = await signDeviceRequest(key, { ...REQ, now: T0 });
  const r = await verifyDeviceRequest(jws, key.publicJwk, { ...REQ, now: at(10) });
  assert.match(r.jti, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(base64url.decode(r.jti).length, 16);
  assert.equal(r.exp, T0.getTime() / 1000 + 60, 'the default lifetime is 60 s');

  const header = decodeProtectedHeader(jws);
  assert.deepEqual(header, { alg: 'EdDSA', typ: 'pim-device+jwt', kid: key.thumbprint });
  const claims = decodeJwt(jws);
  assert.deepEqual(Object.keys(claims).sort(), ['bsh', 'exp', 'htm', 'htu', 'iat', 'jti']);
  assert.equal(claims.bsh, bodySha256(BODY));
  assert.equal(claims.iat, T0.getTime() / 1000);

  const other = await signDeviceRequest(key, { ...REQ, now: T0 });
  assert.notEqual(
    (await verifyDeviceRequest(other, key.publicJwk, { ...REQ, now: at(10) })).jti,
    r.jti,
    'every signature has its own jti',
  );
});

test('the body hash is base64url SHA-256 and the kid is the RFC 7638 thumbprint (RFC 8037 test vector)', async () => {
  assert.equal(bodySha256(''), '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  assert.equal(bodySha256(new TextEncoder().encode('abc')), bodySha256('abc'));
  assert.equal(bodySha256('abc'), crypto.createHash('sha256').update('abc').digest('base64url'));
  // RFC 8037 appendix A.1–A.3: this Ed25519 key's thumbprint is kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
  const ks = memoryKeystore();
  const rfcKey = crypto.createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
      x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
    },
    format: 'jwk',
  });
  await ks.set('device-key', rfcKey.export({ format: 'der', type: 'pkcs8' }));
  const key = (await loadDeviceKey(ks))!;
  assert.deepEqual(key.publicJwk, { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });
  assert.equal(key.thumbprint, 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  const jws = await signDeviceRequest(key, REQ);
  assert.equal(decodeProtectedHeader(jws).kid, 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
});

test('a signature for another method, URL or body is refused as a mismatch', async () => {
  const key = await newKey();
  const jws = await signDeviceRequest(key, { ...REQ, now: T0 });
  const now = at(1);
  await assert.rejects(
    verifyDeviceRequest(jws, key.publicJwk, { ...REQ, htm: 'DELETE', now }),
    refusedWith('mismatch', /method "POST", not "DELETE"/),
  );
  await assert.rejects(
    verifyDeviceRequest(jws, key.publicJwk, { ...REQ, htu: `${HTU}/other`, now }),
    refusedWith('mismatch', /URL/),
  );
  await assert.rejects(
    verifyDeviceRequest(jws, key.publicJwk, { ...REQ, bodySha256: bodySha256(`${BODY} `), now }),
    refusedWith('mismatch', /another request body/),
  );
  // and unchanged, it passes: the refusals above are about the changed field
  await verifyDeviceRequest(jws, key.publicJwk, { ...REQ, now });
});

test('an expired signature is refused as expired, from the second its exp is reached', async () => {
  const key = await newKey();
  const jws = await signDeviceRequest(key, { ...REQ, now: T0, ttlSeconds: 30 });
  await verifyDeviceRequest(jws, key.publicJwk, { ...REQ, now: at(29) });
  await assert.rejects(
    verifyDeviceRequest(jws, key.publicJwk, { ...REQ, now: at(30) }),
    refusedWith('expired', /expired 0 s ago/),
  );
  await assert.rejects(verifyDeviceRequest(jws, key.publicJwk, { ...REQ, now: at(3600) }), refusedWith('expired'));
  // with the real clock: signed with the default lifetime two minutes ago
  const old = await signDeviceRequest(key, { ...REQ, now: new Date(Date.now() - 120_000) });
  await assert.rejects(verifyDeviceRequest(old, key.publicJwk, REQ), refusedWith('expired'));
});

test('a signature issued more than 30 s in the future is refused; 30 s of clock skew is tolerated', async () => {
  const key = await newKey();
  const ahead30 = await signDeviceRequest(key, { ...REQ, now: at(30) });
  await verifyDeviceRequest(ahead30, key.publicJwk, { ...REQ, now: T0 });
  const ahead31 = await signDeviceRequest(key, { ...REQ, now: at(31) });
  await assert.rejects(
    verifyDeviceRequest(ahead31, key.publicJwk, { ...REQ, now: T0 }),
    refusedWith('expired', /issued 31 s in the future; check the device's clock/),
  );
});

test('a signature made by another device key is refused as bad-signature', async () => {
  const [mine, theirs] = await Promise.all([newKey(), newKey()]);
  const jws = await signDeviceRequest(theirs, { ...REQ, now: T0 });
  await assert.rejects(
    verifyDeviceRequest(jws, mine.publicJwk, { ...REQ, now: at(1) }),
    refusedWith('bad-signature', /does not verify with this device key/),
  );
  // a payload spliced under a valid header and signature fails the same way
  const [h, , s] = (await signDeviceRequest(mine, { ...REQ, now: T0 })).split('.');
  const otherPayload = (await signDeviceRequest(mine, { ...REQ, htm: 'GET', now: T0 })).split('.')[1];
  await assert.rejects(
    verifyDeviceRequest(`${h}.${otherPayload}.${s}`, mine.publicJwk, { ...REQ, htm: 'GET', now: at(1) }),
    refusedWith('bad-signature'),
  );
  // signed by this key but naming another one in kid: the token lies about its key
  const iat = T0.getTime() / 1000;
  const wrongKid = await new SignJWT({ htm: HTM, htu: HTU, bsh: REQ.bodySha256 })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'pim-device+jwt', kid: theirs.thumbprint })
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(base64url.encode(crypto.randomBytes(16)))
    .sign(mine.privateKey);
  await assert.rejects(
    verifyDeviceRequest(wrongKid, mine.publicJwk, { ...REQ, now: at(1) }),
    refusedWith('mismatch', /kid is not this device key's thumbprint/),
  );
});

test('a token that is not EdDSA is refused before its signature is even considered', async () => {
  const key = await newKey();
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  const claims = {
    htm: HTM,
    htu: HTU,
    bsh: REQ.bodySha256,
    iat: T0.getTime() / 1000,
    exp: T0.getTime() / 1000 + 60,
    jti: base64url.encode(crypto.randomBytes(16)),
  };
  const none = `${enc({ alg: 'none', typ: 'pim-device+jwt', kid: key.thumbprint })}.${enc(claims)}.AAAA`;
  await assert.rejects(
    verifyDeviceRequest(none, key.publicJwk, { ...REQ, now: at(1) }),
    refusedWith('bad-signature', /alg "none"; only EdDSA/),
  );
  const hs = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'pim-device+jwt', kid: key.thumbprint })
    .sign(base64url.decode(key.publicJwk.x));
  await assert.rejects(
    verifyDeviceRequest(hs, key.publicJwk, { ...REQ, now: at(1) }),
    refusedWith('bad-signature', /HS256/),
  );
});

test('garbage, a token of another type, and a token with missing claims are refused as malformed', async () => {
  const key = await newKey();
  const expect = { ...REQ, now: at(1) };
  for (const junk of [
    '',
    'garbage',
    'a.b',
    'a.b.c',
    '...',
    'e30.e30.e30',
    `${'A'.repeat(9000)}.e30.e30`,
    'eyJhbGciOiJFZERTQSJ9.!!.AAAA',
  ]) {
    await assert.rejects(
      verifyDeviceRequest(junk, key.publicJwk, expect),
      refusedWith('malformed'),
      JSON.stringify(junk.slice(0, 40)),
    );
  }
  const iat = T0.getTime() / 1000;
  const typJwt = await new SignJWT({ htm: HTM, htu: HTU, bsh: REQ.bodySha256 })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.thumbprint })
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti('x'.repeat(22))
    .sign(key.privateKey);
  await assert.rejects(
    verifyDeviceRequest(typJwt, key.publicJwk, expect),
    refusedWith('malformed', /typ "JWT", not pim-device\+jwt/),
  );
  const noJti = await new SignJWT({ htm: HTM, htu: HTU, bsh: REQ.bodySha256 })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'pim-device+jwt', kid: key.thumbprint })
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(key.privateKey);
  await assert.rejects(
    verifyDeviceRequest(noJti, key.publicJwk, expect),
    refusedWith('malformed', /lacks htm, htu, bsh or jti/),
  );
  const notAKey = { kty: 'OKP', crv: 'X25519', x: key.publicJwk.x } as unknown as DeviceKey['publicJwk'];
  await assert.rejects(
    verifyDeviceRequest(await signDeviceRequest(key, { ...REQ, now: T0 }), notAKey, expect),
    refusedWith('malformed', /not an Ed25519 JWK/),
  );
});

test('a token valid for longer than allowed is refused, whatever its signature', async () => {
  const key = await newKey();
  const long = await signDeviceRequest(key, { ...REQ, now: T0, ttlSeconds: 300 });
  await assert.rejects(
    verifyDeviceRequest(long, key.publicJwk, { ...REQ, now: at(1) }),
    refusedWith('malformed', /valid for 300 s; at most 120 s/),
  );
  await assert.rejects(
    verifyDeviceRequest(long, key.publicJwk, { ...REQ, now: at(1), maxTtlSeconds: 299 }),
    refusedWith('malformed'),
  );
  await verifyDeviceRequest(long, key.publicJwk, { ...REQ, now: at(1), maxTtlSeconds: 300 });
  await verifyDeviceRequest(await signDeviceRequest(key, { ...REQ, now: T0, ttlSeconds: 120 }), key.publicJwk, {
    ...REQ,
    now: at(1),
  });
});

test('signDeviceRequest refuses a body hash that is not base64url SHA-256 and a nonsensical lifetime', async () => {
  const key = await newKey();
  const hex = crypto.createHash('sha256').update(BODY).digest('hex');
  await assert.rejects(signDeviceRequest(key, { ...REQ, bodySha256: hex }), /bodySha256 must be the base64url SHA-256/);
  for (const ttlSeconds of [0, -1, 1.5, 3601, Number.NaN]) {
    await assert.rejects(signDeviceRequest(key, { ...REQ, ttlSeconds }), RangeError, String(ttlSeconds));
  }
});
