// Ed25519 signing keys for the TUF roles. Private halves are PKCS#8 in files 0600 under DIR/keys (0700).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Signature } from '@tufjs/models';
import { ensurePrivateDir, readJson, writeAtomic } from '../../platform/fs-safe';

export type RoleName = 'root' | 'targets' | 'snapshot' | 'timestamp' | 'bins';

export interface RepoKey {
  keyid: string;
  /** TUF key object as it appears in metadata */
  tuf: { keytype: 'ed25519'; scheme: 'ed25519'; keyval: { public: string } };
  privateKey: crypto.KeyObject;
}

interface KeyFile {
  role: RoleName;
  keyid: string;
  public: string;
  private: string; // base64 PKCS#8 DER
}

export function tufKeyObject(publicHex: string): RepoKey['tuf'] {
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } };
}

/** keyid = SHA-256 of the key object's canonical JSON (TUF spec §4.2); keys are already in sorted order. */
export function keyIdOf(publicHex: string): string {
  const obj = tufKeyObject(publicHex);
  const canonical = `{"keytype":"${obj.keytype}","keyval":{"public":"${publicHex}"},"scheme":"${obj.scheme}"}`;
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

export function generateKey(): RepoKey {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const publicHex = Buffer.from(raw).toString('hex');
  return { keyid: keyIdOf(publicHex), tuf: tufKeyObject(publicHex), privateKey };
}

export function saveKey(dir: string, role: RoleName, key: RepoKey): void {
  const keysDir = path.join(dir, 'keys');
  ensurePrivateDir(keysDir);
  const file: KeyFile = {
    role,
    keyid: key.keyid,
    public: key.tuf.keyval.public,
    private: key.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
  writeAtomic(
    path.join(keysDir, `${role}-${key.keyid.slice(0, 16)}.json`),
    JSON.stringify(file, null, 2) + '\n',
    0o600,
  );
}

export function loadKeys(dir: string): Map<string, RepoKey & { role: RoleName }> {
  const keysDir = path.join(dir, 'keys');
  const out = new Map<string, RepoKey & { role: RoleName }>();
  for (const name of fs.readdirSync(keysDir)) {
    if (!name.endsWith('.json')) continue;
    const f = readJson<KeyFile>(path.join(keysDir, name));
    const privateKey = crypto.createPrivateKey({ key: Buffer.from(f.private, 'base64'), format: 'der', type: 'pkcs8' });
    out.set(f.keyid, { role: f.role, keyid: f.keyid, tuf: tufKeyObject(f.public), privateKey });
  }
  return out;
}

export function signerFor(key: RepoKey): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID: key.keyid, sig: crypto.sign(null, data, key.privateKey).toString('hex') });
}
