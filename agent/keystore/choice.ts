// Which keystore a home uses, decided once and remembered: a headless machine has no OS keychain,
// and finding that out after the enrolment link was pasted (or forgetting PIM_KEYSTORE=file on the
// next command) left users stuck. The choice lives in <home>/keystore.json (0600); PIM_KEYSTORE
// still overrides it for one command.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../platform/fs-safe';
import { KeystoreError } from './keystore';

export type KeystoreKind = 'os' | 'file';

export interface KeystoreChoice {
  kind: KeystoreKind;
  chosenAt: string;
  why: string;
}

const FILE = 'keystore.json';

export function rememberedKeystore(home: string): KeystoreChoice | null {
  let raw: string;
  try {
    raw = fs.readFileSync(path.join(home, FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(raw) as Partial<KeystoreChoice>;
    if (v.kind === 'os' || v.kind === 'file')
      return { kind: v.kind, chosenAt: String(v.chosenAt ?? ''), why: String(v.why ?? '') };
  } catch {
    /* fall through */
  }
  throw new KeystoreError(
    'corrupt',
    `${path.join(home, FILE)} is not a keystore choice PIM Agent wrote; delete it and enrol again`,
  );
}

export function rememberKeystore(home: string, kind: KeystoreKind, why: string, now = new Date()): KeystoreChoice {
  const c: KeystoreChoice = { kind, chosenAt: now.toISOString(), why };
  writeFileAtomic(path.join(home, FILE), JSON.stringify(c, null, 2) + '\n', 0o600);
  return c;
}

/**
 * Whether this process can see a D-Bus session bus at all: DBUS_SESSION_BUS_ADDRESS, or the
 * standard socket $XDG_RUNTIME_DIR/bus. Without one there is no desktop session, so no Secret
 * Service can ever answer (a headless machine); with one, a failing keychain is a desktop problem.
 */
export function hasSessionBus(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  if (!env.XDG_RUNTIME_DIR) return false;
  try {
    return fs.statSync(path.join(env.XDG_RUNTIME_DIR, 'bus')).isSocket();
  } catch {
    return false;
  }
}

/**
 * At first run (enrolment): when neither PIM_KEYSTORE nor an earlier choice decides, try the OS
 * keychain; only when there cannot be one — Linux with no D-Bus session bus at all, a headless
 * machine — use the file keystore and remember that. Returns the sentence to say once, or null
 * when nothing new was decided.
 * Anything else stands as an error naming the fix: a keychain that is locked, or one that did not
 * answer on a desktop (at login the keyring may not be up yet). Falling back there would keep the
 * device key in an unencrypted file for good because of a moment's hiccup.
 */
export async function settleKeystore(
  home: string,
  env: NodeJS.ProcessEnv,
  probeOs: () => Promise<void>,
  platform: NodeJS.Platform = process.platform,
): Promise<{ choice: KeystoreChoice; announce: string } | null> {
  if (env.PIM_KEYSTORE || rememberedKeystore(home)) return null;
  try {
    await probeOs();
    return { choice: rememberKeystore(home, 'os', 'the OS keychain answered at first run'), announce: '' };
  } catch (e) {
    if (!(e instanceof KeystoreError) || e.code !== 'unavailable') throw e;
    if (platform !== 'linux' || hasSessionBus(env)) {
      throw new KeystoreError(
        'unavailable',
        `the OS keychain did not answer, and nothing was created: ${e.message}. This machine has a desktop session (a D-Bus session bus), so start or unlock its keyring (gnome-keyring, KWallet, KeePassXC's Secret Service; after logging in it may just not be up yet) and run the command again. To keep the device key in an unencrypted file instead, choose that explicitly: PIM_KEYSTORE=file`,
      );
    }
    const why = 'no OS keychain at first run (no D-Bus session bus: a machine without a desktop session)';
    const choice = rememberKeystore(home, 'file', why);
    return {
      choice,
      announce: `No OS keychain here (${why.replace(/^no OS keychain at first run \((.*)\)$/, '$1')}): this home keeps its device key in files under ${path.join(home, 'keystore')} (folder 0700, files 0600, not encrypted). Remembered for this home in ${path.join(home, FILE)}; to use a keychain instead, start one and enrol again with PIM_KEYSTORE=os.`,
    };
  }
}
