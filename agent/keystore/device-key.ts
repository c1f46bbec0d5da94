// The device identity: an Ed25519 key pair whose private half lives only in the keystore (PKCS#8 DER
// under the secret name `device-key`). Its RFC 7638 thumbprint names the device; requests to the
// control plane carry a short-lived JWS made with it (verified by shared/device-jws.ts).
import crypto from 'node:crypto';
import { SignJWT, calculateJwkThumbprint } from 'jose';
import { DEVICE_JWS_ALG, DEVICE_JWS_TYP, isBodySha256, type DevicePublicJwk } from '../../shared/device-jws';
import { KeystoreError, type Keystore } from './keystore';

export const DEVICE_KEY_SECRET = 'device-key';

export interface DeviceKey {
  publicJwk: DevicePublicJwk;
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of publicJwk: the device's key id */
  thumbprint: string;
  privateKey: crypto.KeyObject;
}

export interface DeviceRequestClaims {
  /** HTTP method, e.g. POST */
  htm: string;
  /** the request URL */
  htu: string;
  /** base64url SHA-256 of the body: bodySha256() from shared/device-jws */
  bodySha256: string;
  /** lifetime of the signature; default 60 s */
  ttlSeconds?: number;
  /** the signer's clock (tests, or a clock corrected for the server's offset) */
  now?: Date;
}

function corrupt(ks: Keystore): KeystoreError {
  // never quote the stored bytes: they are the private key
  return new KeystoreError(
    'corrupt',
    `the secret "${DEVICE_KEY_SECRET}" in the ${ks.kind === 'file' ? 'file keystore' : 'OS keychain'} is not an Ed25519 private key; re-enrol this device (which replaces it)`,
  );
}

async function fromPrivateKey(privateKey: crypto.KeyObject): Promise<DeviceKey> {
  const jwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  const publicJwk: DevicePublicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  return { publicJwk, thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256'), privateKey };
}

/** The device key, or null when this agent home has none yet. */
export async function loadDeviceKey(ks: Keystore): Promise<DeviceKey | null> {
  const der = await ks.get(DEVICE_KEY_SECRET);
  if (!der) return null;
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw corrupt(ks);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw corrupt(ks);
  // OpenSSL ignores bytes after the DER structure: accept exactly what createDeviceKey stores
  if (!privateKey.export({ format: 'der', type: 'pkcs8' }).equals(der)) throw corrupt(ks);
  return fromPrivateKey(privateKey);
}

/**
 * Makes a new device key and stores its private half. Refuses when one exists, unless
 * `replace: true` (re-enrolment). Reads the key back, so a keystore that silently dropped it
 * fails here rather than at the next start.
 */
export async function createDeviceKey(ks: Keystore, opts: { replace?: boolean } = {}): Promise<DeviceKey> {
  if (!opts.replace && (await ks.get(DEVICE_KEY_SECRET)) !== null) {
    throw new KeystoreError(
      'exists',
      `this agent already has a device key (${ks.description}); refusing to replace it — re-enrol the device to replace it`,
    );
  }
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  await ks.set(DEVICE_KEY_SECRET, privateKey.export({ format: 'der', type: 'pkcs8' }));
  const created = await fromPrivateKey(privateKey);
  const back = await loadDeviceKey(ks);
  if (!back || back.thumbprint !== created.thumbprint) {
    throw new KeystoreError(
      'failed',
      `the device key was stored but does not read back from the keystore (${ks.description}); the keystore is not keeping secrets`,
    );
  }
  return created;
}

/** A compact JWS binding one request (method, URL, body hash) to this device, valid ttlSeconds. */
export async function signDeviceRequest(key: DeviceKey, claims: DeviceRequestClaims): Promise<string> {
  const ttl = claims.ttlSeconds ?? 60;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 3600)
    throw new RangeError(`ttlSeconds must be a whole number of seconds from 1 to 3600 (got ${ttl})`);
  if (typeof claims.htm !== 'string' || !claims.htm) throw new TypeError('htm (the HTTP method) is required');
  if (typeof claims.htu !== 'string' || !claims.htu) throw new TypeError('htu (the request URL) is required');
  if (!isBodySha256(claims.bodySha256))
    throw new TypeError(
      'bodySha256 must be the base64url SHA-256 of the body (43 characters): use bodySha256() from shared/device-jws',
    );
  const iat = Math.floor((claims.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ htm: claims.htm, htu: claims.htu, bsh: claims.bodySha256 })
    .setProtectedHeader({ alg: DEVICE_JWS_ALG, typ: DEVICE_JWS_TYP, kid: key.thumbprint })
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(crypto.randomBytes(16).toString('base64url'))
    .sign(key.privateKey);
}
