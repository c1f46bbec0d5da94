// Device-signed requests (docs/architecture.md, Flows: Enrolment): after enrolment every API call carries a short-lived
// compact JWS made with the device's Ed25519 key. The agent signs (agent/keystore/device-key.ts);
// the server verifies with this file. Pure: jose runs on WebCrypto, no Node built-in.
//
//   header  { alg: 'EdDSA', typ: 'pim-device+jwt', kid: <RFC 7638 thumbprint of the device key> }
//   payload { htm, htu, bsh: base64url(SHA-256(body)), iat, exp, jti: base64url(16 random bytes) }
//
// Replay protection (each jti accepted once until its exp) is the caller's job: this returns the jti.
import { sha256 } from '@noble/hashes/sha256';
import { base64url, calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { PimError } from './errors';
import { errorMessage } from './errors';

export const DEVICE_JWS_TYP = 'pim-device+jwt';
export const DEVICE_JWS_ALG = 'EdDSA';
/** how far in the future `iat` may be (the device's clock running ahead) */
export const DEVICE_JWS_CLOCK_SKEW_SECONDS = 30;
export const DEVICE_JWS_DEFAULT_MAX_TTL_SECONDS = 120;

export interface DevicePublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

export type DeviceJwsErrorCode = 'bad-signature' | 'expired' | 'mismatch' | 'malformed';

/**
 * Why a device request was refused:
 * - `malformed`: not a compact JWS of our type, claims missing or of the wrong type, exp ≤ iat,
 *   or a lifetime (exp − iat) longer than allowed;
 * - `bad-signature`: an algorithm other than EdDSA, or the signature does not verify with this key;
 * - `mismatch`: method, URL, body hash or kid differ from the request it came with;
 * - `expired`: outside its time window — exp has passed, or iat is further in the future than the
 *   allowed clock skew.
 */
export class DeviceJwsError extends PimError<DeviceJwsErrorCode> {}

export interface DeviceRequestExpectation {
  /** HTTP method, compared exactly (use upper case on both sides) */
  htm: string;
  /** request URL, compared exactly (both sides must use the same form) */
  htu: string;
  /** base64url SHA-256 of the request body, see bodySha256() */
  bodySha256: string;
  now?: Date;
  /** longest accepted exp − iat; default 120 s */
  maxTtlSeconds?: number;
}

const B64URL_SHA256 = /^[A-Za-z0-9_-]{43}$/;
const B64URL_16_BYTES = /^[A-Za-z0-9_-]{22}$/;

/** base64url (no padding) of the SHA-256 of a request body: the `bsh` claim. */
export function bodySha256(body: string | Uint8Array): string {
  return base64url.encode(sha256(typeof body === 'string' ? new TextEncoder().encode(body) : body));
}

export function isBodySha256(s: unknown): s is string {
  return typeof s === 'string' && B64URL_SHA256.test(s);
}

function isDevicePublicJwk(k: unknown): k is DevicePublicJwk {
  const j = k as Partial<DevicePublicJwk> | null;
  return (
    !!j &&
    typeof j === 'object' &&
    j.kty === 'OKP' &&
    j.crv === 'Ed25519' &&
    typeof j.x === 'string' &&
    B64URL_SHA256.test(j.x)
  );
}

/**
 * Verifies a device-signed request against the device's public key and the request it came with.
 * Returns the jti (for the caller's replay check) and exp; throws DeviceJwsError otherwise.
 */
export async function verifyDeviceRequest(
  jws: string,
  publicJwk: DevicePublicJwk,
  expect: DeviceRequestExpectation,
): Promise<{ jti: string; exp: number }> {
  const maxTtl = expect.maxTtlSeconds ?? DEVICE_JWS_DEFAULT_MAX_TTL_SECONDS;
  const now = Math.floor((expect.now ?? new Date()).getTime() / 1000);
  if (!isDevicePublicJwk(publicJwk))
    throw new DeviceJwsError(
      'malformed',
      'the device public key is not an Ed25519 JWK { kty: "OKP", crv: "Ed25519", x }',
    );
  if (typeof jws !== 'string' || jws.length > 8192 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jws)) {
    throw new DeviceJwsError('malformed', 'the device signature is not a compact JWS');
  }

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new DeviceJwsError('malformed', 'the device signature has an unreadable header');
  }
  if (typeof header.alg !== 'string')
    throw new DeviceJwsError('malformed', "the device signature's header names no alg");
  if (header.alg !== DEVICE_JWS_ALG)
    throw new DeviceJwsError(
      'bad-signature',
      `the device signature uses alg ${JSON.stringify(header.alg)}; only ${DEVICE_JWS_ALG} is accepted`,
    );
  if (header.typ !== DEVICE_JWS_TYP)
    throw new DeviceJwsError(
      'malformed',
      `the device signature has typ ${JSON.stringify(header.typ)}, not ${DEVICE_JWS_TYP}`,
    );
  if (typeof header.kid !== 'string') throw new DeviceJwsError('malformed', 'the device signature has no kid');

  let payloadBytes: Uint8Array;
  try {
    const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: publicJwk.x }, DEVICE_JWS_ALG);
    payloadBytes = (await compactVerify(jws, key, { algorithms: [DEVICE_JWS_ALG] })).payload;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
      throw new DeviceJwsError('bad-signature', 'the device signature does not verify with this device key');
    throw new DeviceJwsError('malformed', `the device signature could not be checked: ${errorMessage(err)}`);
  }
  if (header.kid !== (await calculateJwkThumbprint(publicJwk, 'sha256'))) {
    throw new DeviceJwsError(
      'mismatch',
      "the device signature names another key (kid is not this device key's thumbprint)",
    );
  }

  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    claims = parsed as Record<string, unknown>;
  } catch {
    throw new DeviceJwsError('malformed', "the device signature's payload is not a JSON object");
  }
  const { htm, htu, bsh, iat, exp, jti } = claims;
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof bsh !== 'string' || typeof jti !== 'string') {
    throw new DeviceJwsError('malformed', 'the device signature lacks htm, htu, bsh or jti');
  }
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp))
    throw new DeviceJwsError('malformed', "the device signature's iat and exp must be integers (seconds)");
  if (!B64URL_16_BYTES.test(jti))
    throw new DeviceJwsError('malformed', "the device signature's jti is not 16 bytes of base64url");
  const iatS = iat as number;
  const expS = exp as number;

  if (htm !== expect.htm)
    throw new DeviceJwsError(
      'mismatch',
      `the device signature is for method ${JSON.stringify(htm)}, not ${JSON.stringify(expect.htm)}`,
    );
  if (htu !== expect.htu)
    throw new DeviceJwsError(
      'mismatch',
      `the device signature is for URL ${JSON.stringify(htu)}, not ${JSON.stringify(expect.htu)}`,
    );
  if (bsh !== expect.bodySha256)
    throw new DeviceJwsError('mismatch', 'the device signature is for another request body (bsh differs)');

  if (expS <= iatS) throw new DeviceJwsError('malformed', 'the device signature expires before it was issued');
  if (expS - iatS > maxTtl)
    throw new DeviceJwsError(
      'malformed',
      `the device signature is valid for ${expS - iatS} s; at most ${maxTtl} s is accepted`,
    );
  if (iatS > now + DEVICE_JWS_CLOCK_SKEW_SECONDS) {
    throw new DeviceJwsError(
      'expired',
      `the device signature was issued ${iatS - now} s in the future; check the device's clock`,
    );
  }
  if (expS <= now) throw new DeviceJwsError('expired', `the device signature expired ${now - expS} s ago`);
  return { jti, exp: expS };
}
