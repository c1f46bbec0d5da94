// WebAuthn through @simplewebauthn/server, with its failures turned into our error codes.
// Notes on v14: it takes `credential` {id, publicKey, counter}; it throws on origin, RP ID,
// challenge, UP/UV and counter problems, but only returns verified:false on a bad signature; and
// it never matches response.id to the credential, so we look the credential up by id ourselves.
// It also judges the signature counter BEFORE it checks the signature, so an unsigned POST with a low
// counter would read as a cloned key: we hand it counter 0 (which it never finds regressed) and
// judge the counter ourselves, on a verified assertion only (counterRegressed).
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { errorMessage } from '../shared/errors';
import { ApiError, bad, forbidden, type ApiErrorCode } from './api/errors';
import type { ServerConfig } from './config';

export interface StoredCredential {
  id: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
}

export async function registrationOptions(
  cfg: ServerConfig,
  user: { email: string; id: Uint8Array },
  exclude: StoredCredential[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: cfg.rpName,
    rpID: cfg.rpId,
    userName: user.email,
    userID: new Uint8Array(user.id),
    attestationType: 'none',
    excludeCredentials: exclude.map((c) => ({ id: c.id, transports: c.transports as never })),
    authenticatorSelection: { residentKey: 'discouraged', userVerification: 'required' },
    supportedAlgorithmIDs: [-7, -8],
    timeout: 300_000,
  });
}

export async function verifyRegistration(
  cfg: ServerConfig,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
) {
  try {
    const r = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: cfg.origins,
      expectedRPID: cfg.rpId,
      requireUserVerification: true,
    });
    if (!r.verified || !r.registrationInfo)
      throw forbidden('registration-failed', 'the security key registration did not verify');
    return r.registrationInfo;
  } catch (e) {
    throw mapError(e);
  }
}

export async function assertionOptions(
  cfg: ServerConfig,
  challenge: Uint8Array,
  allow: StoredCredential[],
  uv: 'required' | 'preferred' | 'discouraged',
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: cfg.rpId,
    challenge: new Uint8Array(challenge),
    allowCredentials: allow.map((c) => ({ id: c.id, transports: c.transports as never })),
    userVerification: uv,
    timeout: 300_000,
  });
}

/** Verifies one assertion against one stored credential; returns the new counter. */
export async function verifyAssertion(
  cfg: ServerConfig,
  response: AuthenticationResponseJSON,
  credential: StoredCredential,
  expectedChallenge: string,
  requireUV: boolean,
): Promise<{ newCounter: number; userVerified: boolean }> {
  if (response?.id !== credential.id)
    throw forbidden('unknown-credential', 'the assertion was made with another security key');
  let r;
  try {
    r = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: cfg.origins,
      expectedRPID: cfg.rpId,
      credential: { id: credential.id, publicKey: new Uint8Array(credential.publicKey), counter: 0 },
      requireUserVerification: requireUV,
    });
  } catch (e) {
    throw mapError(e);
  }
  if (!r.verified) throw forbidden('bad-signature', 'the security key signature does not verify');
  if (counterRegressed(credential.counter, r.authenticationInfo.newCounter))
    throw forbidden('counter-regressed', COUNTER_REGRESSED);
  return { newCounter: r.authenticationInfo.newCounter, userVerified: r.authenticationInfo.userVerified };
}

export const COUNTER_REGRESSED =
  'the security key signature counter went backwards: the key may have been cloned; it is flagged';

/** WebAuthn §7.2 step 21: a counter that does not grow, when either side counts at all, means two
 *  copies of the key are signing. Keys that never count (always 0) are not judged. */
export function counterRegressed(stored: number, received: number): boolean {
  return (stored > 0 || received > 0) && received <= stored;
}

function mapError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const msg = errorMessage(e);
  const rules: [RegExp, ApiErrorCode, string][] = [
    [/origin/i, 'origin-not-allowed', 'the ceremony came from an origin this control plane does not allow'],
    [/RP ID/i, 'rp-id-mismatch', 'the assertion was made for another relying party (RP ID)'],
    [
      /user could not be verified|user verification/i,
      'user-verification-required',
      'this role needs the key PIN or biometric (user verification), and it was not given',
    ],
    [
      /not present|user presence/i,
      'user-presence-required',
      'the security key was not touched (user presence missing)',
    ],
    [/challenge/i, 'challenge-mismatch', 'the key signed something other than this request'],
  ];
  for (const [re, code, message] of rules) if (re.test(msg)) return forbidden(code, message);
  return bad('invalid-assertion', `the WebAuthn response is malformed: ${msg.slice(0, 200)}`);
}
