// A software FIDO2 security key for tests: CLI and server tests can register and sign WebAuthn
// ceremonies without a browser or hardware. Everything it emits is real WebAuthn data (Level 2):
// authenticatorData bytes, ES256 (P-256 / SHA-256, DER) signatures and "none" attestation objects
// carrying a COSE_Key, so @simplewebauthn/server verifies them exactly as it would a real key.
//
// It plays the client (browser) role too: it builds clientDataJSON from the origin it is given.
// CBOR and COSE constants come from @simplewebauthn/server/helpers so nothing is hand-encoded.
import crypto from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { cose, isoBase64URL, isoCBOR, isoUint8Array } from '@simplewebauthn/server/helpers';

// authenticatorData flag bits (WebAuthn L2 §6.1). BE/BS stay clear: a security key's credentials
// are device-bound, never synced.
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

type CBORValue = Parameters<typeof isoCBOR.encode>[0];

interface Credential {
  id: Uint8Array; // raw credential id
  userHandle: string; // base64url, exactly as given in options.user.id
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  publicKeyCose: Uint8Array;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** 16 bytes; all zeros by default, as "none" attestation keys usually report. */
  aaguid?: Uint8Array;
  /** Whether the key "has a PIN/biometric": sets the UV flag by default. Default true. */
  userVerification?: boolean;
  /** Label used in error messages. */
  name?: string;
}

export interface AuthenticateOptions {
  /** base64url id of the credential to use when allowCredentials is empty and several are held. */
  credentialId?: string;
  /** Override the UV flag for this assertion (default: the authenticator's userVerification). */
  userVerified?: boolean;
  /** Override the UP flag for this assertion (default true). */
  userPresent?: boolean;
  /** Force the signature counter to this value (e.g. lower, to act like a cloned key). */
  counter?: number;
}

// Uint8Array copies backed by a plain ArrayBuffer: the simplewebauthn helpers are typed that way,
// and Node Buffers may be views into a shared pool.
const bytes = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const sha256 = (data: Uint8Array | string): Uint8Array<ArrayBuffer> =>
  bytes(crypto.createHash('sha256').update(data).digest());
const uint32BE = (n: number): Uint8Array<ArrayBuffer> => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
};

export class SoftAuthenticator {
  readonly name: string;
  private readonly aaguid: Uint8Array<ArrayBuffer>;
  private readonly uv: boolean;
  private readonly held = new Map<string, Credential>(); // keyed by base64url id

  constructor(opts: SoftAuthenticatorOptions = {}) {
    this.name = opts.name ?? 'soft-authenticator';
    this.aaguid = bytes(opts.aaguid ?? new Uint8Array(16));
    if (this.aaguid.length !== 16) throw new Error(`${this.name}: aaguid must be 16 bytes`);
    this.uv = opts.userVerification ?? true;
  }

  /** navigator.credentials.create(): make a new ES256 credential with "none" attestation. */
  register(options: PublicKeyCredentialCreationOptionsJSON, origin: string): RegistrationResponseJSON {
    // Like a real key, refuse to create a credential the RP cannot verify, or a second one it
    // already knows about (excludeCredentials).
    if (!options.pubKeyCredParams.some((p) => p.alg === Number(cose.COSEALG.ES256))) {
      throw new Error(`${this.name}: RP does not accept ES256 (-7)`);
    }
    for (const ex of options.excludeCredentials ?? []) {
      if (this.held.has(ex.id)) throw new Error(`${this.name}: already registered (excludeCredentials)`);
    }

    const rpId = options.rp.id ?? new URL(origin).hostname;
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key for EC2 / P-256 / ES256 (RFC 8152 §13.1.1; WebAuthn L2 §6.5.1.1).
    const coseKey = new Map<number, number | Uint8Array>([
      [cose.COSEKEYS.kty, cose.COSEKTY.EC2],
      [cose.COSEKEYS.alg, cose.COSEALG.ES256],
      [cose.COSEKEYS.crv, cose.COSECRV.P256],
      [cose.COSEKEYS.x, isoBase64URL.toBuffer(jwk.x!)],
      [cose.COSEKEYS.y, isoBase64URL.toBuffer(jwk.y!)],
    ]);
    const cred: Credential = {
      id: bytes(crypto.randomBytes(32)),
      userHandle: options.user.id,
      privateKey,
      publicKey,
      publicKeyCose: isoCBOR.encode(coseKey),
      counter: 0,
    };

    // attestedCredentialData = aaguid(16) ‖ credentialIdLength(2, BE) ‖ credentialId ‖ COSE key
    const idLen = new Uint8Array(2);
    new DataView(idLen.buffer).setUint16(0, cred.id.length);
    const attested = isoUint8Array.concat([this.aaguid, idLen, bytes(cred.id), bytes(cred.publicKeyCose)]);
    const authData = this.authData(rpId, FLAG_UP | (this.uv ? FLAG_UV : 0) | FLAG_AT, cred.counter, attested);

    // "none" attestation: empty attStmt. Key order fmt, attStmt, authData is the CTAP2 canonical
    // order (shorter keys first), as real keys send it.
    const attestationObject = isoCBOR.encode(
      new Map<string, CBORValue>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    const clientDataJSON = clientData('webauthn.create', options.challenge, origin);
    const id = isoBase64URL.fromBuffer(bytes(cred.id));
    this.held.set(id, cred);

    return {
      id,
      rawId: id,
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        transports: ['usb'],
        // The convenience fields browsers add (getPublicKey() is SPKI DER).
        authenticatorData: isoBase64URL.fromBuffer(authData),
        publicKey: isoBase64URL.fromBuffer(bytes(publicKey.export({ format: 'der', type: 'spki' }))),
        publicKeyAlgorithm: cose.COSEALG.ES256,
      },
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
    };
  }

  /** navigator.credentials.get(): sign an assertion with a credential this key holds. */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    origin: string,
    opts: AuthenticateOptions = {},
  ): AuthenticationResponseJSON {
    const cred = this.pick(options, opts.credentialId);
    // The authenticator signs for the RP ID the client asks for (default: the origin's host);
    // it does not check it against the credential, so tests can produce a wrong-RP assertion.
    const rpId = options.rpId ?? new URL(origin).hostname;

    cred.counter = opts.counter ?? cred.counter + 1;
    const up = opts.userPresent ?? true;
    const uv = opts.userVerified ?? this.uv;
    const authData = this.authData(rpId, (up ? FLAG_UP : 0) | (uv ? FLAG_UV : 0), cred.counter);

    const clientDataJSON = clientData('webauthn.get', options.challenge, origin);
    // Signature over authenticatorData ‖ SHA-256(clientDataJSON) (WebAuthn L2 §6.3.3 step 11).
    // node:crypto emits ECDSA signatures DER-encoded, which is what WebAuthn ES256 specifies.
    const signature = crypto.sign('sha256', isoUint8Array.concat([authData, sha256(clientDataJSON)]), cred.privateKey);
    const id = isoBase64URL.fromBuffer(bytes(cred.id));

    return {
      id,
      rawId: id,
      response: {
        clientDataJSON: isoBase64URL.fromBuffer(clientDataJSON),
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(bytes(signature)),
        userHandle: cred.userHandle,
      },
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
    };
  }

  /** Held credentials, for tests that store or inspect them. */
  credentials(): { id: string; publicKeyCose: Uint8Array<ArrayBuffer>; counter: number }[] {
    return [...this.held].map(([id, c]) => ({ id, publicKeyCose: bytes(c.publicKeyCose), counter: c.counter }));
  }

  /** SPKI PEM of a credential's public key, for re-verifying signatures by hand. */
  publicKeyPem(id: string): string {
    const cred = this.held.get(id);
    if (!cred) throw new Error(`${this.name}: no credential ${id}`);
    return cred.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  private pick(options: PublicKeyCredentialRequestOptionsJSON, credentialId?: string): Credential {
    const allowed = (options.allowCredentials ?? []).map((c) => c.id);
    const candidates = credentialId ? [credentialId] : allowed.length > 0 ? allowed : [...this.held.keys()];
    const usable = candidates.filter((id) => this.held.has(id) && (allowed.length === 0 || allowed.includes(id)));
    if (usable.length === 0) throw new Error(`${this.name}: holds none of the allowed credentials`);
    if (usable.length > 1 && !credentialId) {
      throw new Error(`${this.name}: holds ${usable.length} usable credentials; pass opts.credentialId`);
    }
    return this.held.get(usable[0]!)!;
  }

  // authenticatorData = rpIdHash(32) ‖ flags(1) ‖ signCount(4, BE) ‖ [attestedCredentialData]
  private authData(rpId: string, flags: number, counter: number, attested?: Uint8Array<ArrayBuffer>) {
    const parts = [sha256(rpId), new Uint8Array([flags]), uint32BE(counter)];
    if (attested) parts.push(attested);
    return isoUint8Array.concat(parts);
  }
}

// CollectedClientData serialised as browsers do (WebAuthn L2 §5.8.1.1: type, challenge, origin,
// crossOrigin, in that order).
function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin: string) {
  return isoUint8Array.fromUTF8String(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
}
