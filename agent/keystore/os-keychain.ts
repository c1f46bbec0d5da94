// Secrets in the OS keychain through @napi-rs/keyring (keyring-rs): macOS Keychain, Windows
// Credential Manager, and on Linux the Secret Service over D-Bus (gnome-keyring, KWallet, KeePassXC).
//
// Service `pim-agent`; the account is `<name>@<first 16 hex of sha256(realpath(home))>`, so two agent
// homes on one machine never share a key. Keychains store strings: values are base64.
//
// On Linux the entry is pinned to the Secret Service. Left to itself the library silently falls
// back to the kernel keyutils keyring, which lives in memory and is gone after a reboot (a device
// key lost with every restart) — and whose failures surface only later, as "AccessDenied".
import { AsyncEntry, type EntryOptions } from '@napi-rs/keyring';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, errorMessage } from '../../shared/errors';
import { KeystoreError, checkSecret, checkSecretName, type Keystore } from './keystore';

export const KEYCHAIN_SERVICE = 'pim-agent';

const FILE_FALLBACK_HINT = 'or set PIM_KEYSTORE=file to keep keys in files protected only by permissions';

/** The per-home part of the account name: first 16 hex digits of sha256(realpath(home)). */
export function homeTag(home: string): string {
  return crypto.createHash('sha256').update(canonicalPath(home)).digest('hex').slice(0, 16);
}

/**
 * realpath(home); when home does not exist yet, realpath of its nearest existing ancestor joined
 * with the rest, which is what realpath will answer once the folder is created.
 */
function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(cur), ...rest.reverse());
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

function storeName(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'macOS Keychain';
  if (platform === 'win32') return 'Windows Credential Manager';
  return 'Secret Service over D-Bus';
}

export interface OsKeychainOptions {
  /** for tests: another service name than `pim-agent` */
  service?: string;
  platform?: NodeJS.Platform;
}

export class OsKeychain implements Keystore {
  readonly kind = 'os-keychain' as const;
  readonly description: string;
  readonly service: string;
  private readonly tag: string;
  private readonly platform: NodeJS.Platform;

  constructor(home: string, opts: OsKeychainOptions = {}) {
    this.service = opts.service ?? KEYCHAIN_SERVICE;
    this.platform = opts.platform ?? process.platform;
    this.tag = homeTag(home);
    this.description = `OS keychain (${storeName(this.platform)}), service "${this.service}", accounts "<name>@${this.tag}"`;
  }

  /** The keychain account that holds the secret `name`. */
  account(name: string): string {
    return `${checkSecretName(name)}@${this.tag}`;
  }

  async get(name: string): Promise<Buffer | null> {
    const account = this.account(name);
    const value = await this.call('read', name, (e) => e.getPassword(), account);
    if (value === null || value === undefined) return null;
    const buf = Buffer.from(value, 'base64');
    if (buf.length === 0 || buf.toString('base64') !== value) {
      throw new KeystoreError(
        'corrupt',
        `the OS keychain item for secret "${name}" (service "${this.service}", account "${account}") is not what PIM Agent stores (not base64); delete it and set the secret again`,
      );
    }
    return buf;
  }

  async set(name: string, secret: Buffer): Promise<void> {
    const account = this.account(name);
    const value = checkSecret(secret).toString('base64');
    await this.call('store', name, (e) => e.setPassword(value), account, value);
  }

  async delete(name: string): Promise<boolean> {
    const account = this.account(name);
    return this.call('delete', name, (e) => e.deleteCredential(), account);
  }

  private entryOptions(): EntryOptions | undefined {
    return this.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;
  }

  private async call<T>(
    verb: string,
    name: string,
    op: (e: AsyncEntry) => Promise<T>,
    account: string,
    secretValue?: string,
  ): Promise<T> {
    let entry: AsyncEntry;
    try {
      // on Linux the constructor connects to D-Bus and finds the Secret Service, and throws when
      // either is missing ("Platform failure: DBus error: …")
      entry = new AsyncEntry(this.service, account, this.entryOptions());
    } catch (err) {
      throw this.translate(err, verb, name, secretValue, true);
    }
    try {
      return await op(entry);
    } catch (err) {
      throw this.translate(err, verb, name, secretValue, false);
    }
  }

  private translate(
    err: unknown,
    verb: string,
    name: string,
    secretValue: string | undefined,
    connecting: boolean,
  ): KeystoreError {
    let detail = errorMessage(err);
    // the platform's message never quotes the value today; make sure it never will
    if (secretValue && detail.includes(secretValue)) detail = detail.split(secretValue).join('[secret]');
    const what = `cannot ${verb} secret "${name}" in the OS keychain`;
    if (this.platform === 'linux') {
      if (connecting || /DBus error|org\.freedesktop\.secrets|ServiceUnknown|NameHasNoOwner/i.test(detail)) {
        return new KeystoreError(
          'unavailable',
          `${what}: no OS keychain is available (no Secret Service on D-Bus: start gnome-keyring or KeePassXC's Secret Service), ${FILE_FALLBACK_HINT} (${detail})`,
        );
      }
      if (/prompt was dismissed|is locked|no result found/i.test(detail)) {
        return new KeystoreError(
          'locked',
          `${what}: the Secret Service keyring is locked or has no default collection — unlock it (log in to the desktop session, or unlock the "login" keyring in Passwords and Keys / KeePassXC) and try again, ${FILE_FALLBACK_HINT} (${detail})`,
        );
      }
    }
    if (/Ambiguous|matched by \d+ credentials/i.test(detail)) {
      return new KeystoreError(
        'corrupt',
        `${what}: several keychain items match service "${this.service}" account "${name}@${this.tag}"; delete the extra ones (${detail})`,
      );
    }
    if (/longer than platform limit|TooLong/i.test(detail)) {
      return new KeystoreError(
        'failed',
        `${what}: the secret is too large for ${storeName(this.platform)} (${detail})`,
      );
    }
    if (/user canceled|interaction is not allowed|errSecInteractionNotAllowed|errSecAuthFailed/i.test(detail)) {
      return new KeystoreError(
        'locked',
        `${what}: ${storeName(this.platform)} refused access (locked, or access was denied at its prompt); unlock it and try again (${detail})`,
      );
    }
    return new KeystoreError('failed', `${what} (${storeName(this.platform)}): ${detail}; ${FILE_FALLBACK_HINT}`);
  }
}
