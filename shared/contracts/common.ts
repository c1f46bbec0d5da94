// Field schemas the control-plane routes share.
import { z } from 'zod';

/** an activation or enrolment id (server/services/ids.ts newId) */
export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not an id (1–64 of A–Z a–z 0–9 _ -)');
/** an approval ceremony's nonce: 32 bytes, hex */
export const Nonce = z.string().regex(/^[0-9a-f]{64}$/, 'not a ceremony nonce (64 hex digits)');

export const IdParams = z.strictObject({ id: Id });
export const NonceParams = z.strictObject({ nonce: Nonce });

/** a body that carries nothing (the call's meaning is its path); agents send {} */
export const EmptyBody = z.object({});

/** WebAuthn options (PublicKeyCredentialCreationOptionsJSON / …RequestOptionsJSON) as
 *  @simplewebauthn makes them: the contract pins the challenge and passes the rest on untouched
 *  (the browser's WebAuthn API reads it), so the server's option types fit it as they are. */
export const WebAuthnOptions = z.custom<{ challenge: string }>(
  (v) => typeof v === 'object' && v !== null && 'challenge' in v && typeof v.challenge === 'string',
  'not WebAuthn options (a challenge is missing)',
);

/** A WebAuthn registration or authentication response from the ceremony page: an object here; its
 *  fields are checked by the WebAuthn verification itself (server/webauthn.ts), which names what
 *  is wrong, so @simplewebauthn's response types fit it as they are. */
export const WebAuthnResponse = z.custom<object>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  'not a WebAuthn response (an object)',
);
export const CeremonyBody = z.object({ response: WebAuthnResponse });
