// The ephemeral SSH key of a request whose role grants SSH: its seed waits in a 0600 file under
// creds/ssh until the certificate arrives, and is deleted with the activation.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../../platform/fs-safe';
import { generateSshKey, sshKeyFromSeed, type EphemeralSshKey } from './ssh-key';

export function seedDir(credsDir: string): string {
  return path.join(credsDir, 'ssh');
}

export function seedFileName(publicKey: string): string {
  return `${crypto.createHash('sha256').update(publicKey).digest('hex').slice(0, 32)}.seed`;
}

/** A fresh Ed25519 key; returns the public key line. */
export function newSshSeed(credsDir: string): string {
  const key = generateSshKey();
  const dir = ensurePrivateDir(path.join(ensurePrivateDir(credsDir), 'ssh'));
  writeFileAtomic(path.join(dir, seedFileName(key.publicKey)), key.seed.toString('hex'), 0o600);
  return key.publicKey;
}

/** The key of `publicKey`, or null when its seed is not on this machine (any more). */
export function loadSshSeed(credsDir: string, publicKey: string): EphemeralSshKey | null {
  try {
    const hex = fs.readFileSync(path.join(seedDir(credsDir), seedFileName(publicKey)), 'utf8').trim();
    const key = sshKeyFromSeed(Buffer.from(hex, 'hex'));
    return key.publicKey === publicKey ? key : null;
  } catch {
    return null;
  }
}
