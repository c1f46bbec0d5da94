// Where the agent keeps its long-lived secrets (device key, server session): the OS keychain, or —
// only when chosen with PIM_KEYSTORE=file — files protected by permissions (docs/architecture.md, Decisions: Secrets).
// Error messages name the secret and the store, never the secret's value.
import { PimError } from '../../shared/errors';

export interface Keystore {
  readonly kind: 'os-keychain' | 'file';
  /** One line a person can read: which store this is and how it protects secrets. */
  readonly description: string;
  /** The secret, or null when there is none under that name. */
  get(name: string): Promise<Buffer | null>;
  /** Stores (or replaces) the secret. */
  set(name: string, secret: Buffer): Promise<void>;
  /** true when a secret was deleted, false when there was none. */
  delete(name: string): Promise<boolean>;
}

export type KeystoreErrorCode =
  /** no usable store (no Secret Service, keychain missing, unknown PIM_KEYSTORE value) */
  | 'unavailable'
  /** the store exists but is locked and could not be unlocked */
  | 'locked'
  /** the secret name does not match SECRET_NAME */
  | 'invalid-name'
  /** a file or folder of the file keystore is not safe to use (symlink, wrong type, owner or mode) */
  | 'unsafe'
  /** what is stored under the name is not what we wrote (not base64, not a key, ...) */
  | 'corrupt'
  /** refusing to overwrite an existing secret */
  | 'exists'
  /** anything else the store reported */
  | 'failed';

export class KeystoreError extends PimError<KeystoreErrorCode> {}

/** Secret names: lower-case, start with a letter or digit, at most 64 characters. */
export const SECRET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function checkSecretName(name: unknown): string {
  if (typeof name !== 'string' || !SECRET_NAME.test(name)) {
    const shown =
      typeof name === 'string' ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name) : typeof name;
    throw new KeystoreError(
      'invalid-name',
      `invalid secret name ${shown}: use 1–64 characters a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

export function checkSecret(secret: unknown): Buffer {
  if (!Buffer.isBuffer(secret)) throw new KeystoreError('failed', 'a secret must be a Buffer');
  if (secret.length === 0) throw new KeystoreError('failed', 'refusing to store an empty secret');
  if (secret.length > MAX_SECRET_BYTES)
    throw new KeystoreError(
      'failed',
      `a secret may be at most ${MAX_SECRET_BYTES} bytes (this one is ${secret.length})`,
    );
  return secret;
}

/**
 * Keychains limit an item's size (Windows Credential Manager: 2560 bytes of UTF-16, i.e. 1280
 * base64 characters), so secrets stay small: 900 bytes → 1200 base64 characters everywhere.
 */
export const MAX_SECRET_BYTES = 900;
