// The ephemeral SSH key of an activation and the certificate the control plane's SSH CA issues for it. One Ed25519 key
// per activation (docs/architecture.md, Decisions: SSH): its public key goes inside the signed activation request, the
// CA signs a user certificate for the role's principals valid for the activation's window, and both go into the user's
// ssh-agent (./ssh-agent.ts). Key and certificate formats are sshpk's business; only the raw 32-byte halves are ours,
// because the agent protocol wants them.
import crypto from 'node:crypto';
import sshpk from 'sshpk';
import { errorMessage } from '../../shared/errors';

export interface EphemeralSshKey {
  /** "ssh-ed25519 AAAA…", without a comment */
  publicKey: string;
  /** the 32-byte Ed25519 private seed — secret: never log it, never put it in an error */
  seed: Buffer;
  /** the 32-byte Ed25519 public key */
  rawPublic: Buffer;
}

/** PKCS#8 (RFC 8410) wrapping of a raw Ed25519 seed: the fixed prefix, then the 32 bytes. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function fromKeyObject(privateKey: crypto.KeyObject): EphemeralSshKey {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new Error('not an Ed25519 key');
  }
  const seed = Buffer.from(jwk.d, 'base64url');
  const rawPublic = Buffer.from(jwk.x, 'base64url');
  const spki = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const key = sshpk.parseKey(spki, 'pem');
  return { publicKey: oneLine(key.toBuffer('rfc4253')), seed, rawPublic };
}

/** A fresh Ed25519 key (node:crypto) for one activation. */
export function generateSshKey(): EphemeralSshKey {
  return fromKeyObject(crypto.generateKeyPairSync('ed25519').privateKey);
}

/** The key of a stored 32-byte seed (to reload an activation's key after a restart). */
export function sshKeyFromSeed(seed: Buffer): EphemeralSshKey {
  if (!Buffer.isBuffer(seed) || seed.length !== 32) throw new Error('an Ed25519 seed is exactly 32 bytes');
  const der = Buffer.concat([PKCS8_ED25519_PREFIX, seed]);
  return fromKeyObject(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

export interface CertInfo {
  /** the certificate's wire blob, exactly as issued (what the agent stores and lists) */
  blob: Buffer;
  /** its key type, e.g. "ssh-ed25519-cert-v01@openssh.com" */
  type: string;
  keyId: string;
  principals: string[];
  validAfter: Date;
  /** "forever" certificates (0xffffffffffffffff) come out as the largest Date */
  validBefore: Date;
  /** the certified public key, "ssh-ed25519 AAAA…" without a comment */
  publicKey: string;
}

const MAX_DATE = new Date(8.64e15);

/** "type base64" of a public key wire blob (whose first string is its type) — written from the blob
 *  because sshpk's toString('ssh') appends a "(unnamed)" comment. */
function oneLine(keyBlob: Buffer): string {
  const n = keyBlob.readUInt32BE(0);
  return `${keyBlob.subarray(4, 4 + n).toString('ascii')} ${keyBlob.toString('base64')}`;
}

/** The principals as written in the blob. sshpk reports an empty list as ['*'], which cannot be
 *  told from a literal "*" principal, so read the (string) list straight from the blob: after the
 *  type, the nonce, the public key parts, serial (8), type (4) and key id. */
function principalsFromBlob(blob: Buffer, keyParts: number): string[] {
  let off = 0;
  const readString = (): Buffer => {
    if (off + 4 > blob.length) throw new Error('truncated certificate');
    const n = blob.readUInt32BE(off);
    if (off + 4 + n > blob.length) throw new Error('truncated certificate');
    const s = blob.subarray(off + 4, off + 4 + n);
    off += 4 + n;
    return s;
  };
  readString(); // type
  readString(); // nonce
  for (let i = 0; i < keyParts; i++) readString();
  off += 8 + 4; // serial, cert type
  readString(); // key id
  const list = readString();
  const out: string[] = [];
  let p = 0;
  while (p < list.length) {
    if (p + 4 > list.length) throw new Error('truncated principals');
    const n = list.readUInt32BE(p);
    if (p + 4 + n > list.length) throw new Error('truncated principals');
    out.push(list.subarray(p + 4, p + 4 + n).toString('utf8'));
    p += 4 + n;
  }
  return out;
}

/**
 * Reads an OpenSSH user certificate line ("ssh-ed25519-cert-v01@openssh.com AAAA… [comment]").
 * Throws an Error that says what is wrong (and never echoes the input) on anything else,
 * host certificates included: they identify a server and are of no use in the user's agent.
 */
export function parseCertificate(line: string): CertInfo {
  if (typeof line !== 'string') throw new Error('SSH certificate: expected a line of text');
  const parts = line.trim().split(/[ \t]+/);
  const [type, b64] = parts;
  if (parts.length < 2 || parts.length > 3 || !type || !b64 || !/-cert-v01@openssh\.com$/.test(type)) {
    throw new Error(
      'SSH certificate: not an OpenSSH certificate line ("<type>-cert-v01@openssh.com <base64> [comment]")',
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('SSH certificate: the key data is not base64');
  let cert: sshpk.Certificate;
  try {
    cert = sshpk.parseCertificate(line.trim(), 'openssh');
  } catch (e) {
    throw new Error(`SSH certificate: cannot be parsed (${errorMessage(e)})`);
  }
  const blob = Buffer.from(b64, 'base64');
  const kinds = new Set(cert.subjects.map((s) => s.type));
  if (kinds.size !== 1 || !kinds.has('user'))
    throw new Error('SSH certificate: this is a host certificate, not a user certificate');
  const ossh = cert.signatures.openssh;
  if (!ossh) throw new Error('SSH certificate: no OpenSSH signature');
  let principals: string[];
  try {
    principals = principalsFromBlob(blob, cert.subjectKey.parts.length);
  } catch (e) {
    throw new Error(`SSH certificate: cannot be parsed (${errorMessage(e)})`);
  }
  const validBefore = Number.isNaN(cert.validUntil.getTime()) ? MAX_DATE : new Date(cert.validUntil.getTime());
  return {
    blob,
    type,
    keyId: ossh.keyId,
    principals,
    validAfter: new Date(cert.validFrom.getTime()),
    validBefore,
    publicKey: oneLine(cert.subjectKey.toBuffer('rfc4253')),
  };
}
