// Which keystore a home uses, decided once and remembered: a headless machine has no OS keychain,
// and finding that out after the enrolment link was pasted (or forgetting PIM_KEYSTORE=file on the
// next command) left users stuck. The choice lives in <home>/keystore.json (0600); PIM_KEYSTORE
// still overrides it for one command.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../credentials/fs-safe';
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
    if (v.kind === 'os' || v.kind === 'file') return { kind: v.kind, chosenAt: String(v.chosenAt ?? ''), why: String(v.why ?? '') };
  } catch {
    /* fall through */
  }
  throw new KeystoreError('corrupt', `${path.join(home, FILE)} is not a keystore choice PIM Agent wrote; delete it and enrol again`);
}

export function rememberKeystore(home: string, kind: KeystoreKind, why: string, now = new Date()): KeystoreChoice {
  const c: KeystoreChoice = { kind, chosenAt: now.toISOString(), why };
  writeFileAtomic(path.join(home, FILE), JSON.stringify(c, null, 2) + '\n', 0o600);
  return c;
}

/**
 * At first run (enrolment): when neither PIM_KEYSTORE nor an earlier choice decides, try the OS
 * keychain; when there is none (no Secret Service — a headless Linux machine), use the file keystore
 * and remember that. Returns the sentence to say once, or null when nothing new was decided.
 * A keychain that is present but locked is not a reason to fall back: that error stands.
 */
export async function settleKeystore(home: string, env: NodeJS.ProcessEnv, probeOs: () => Promise<void>): Promise<{ choice: KeystoreChoice; announce: string } | null> {
  if (env.PIM_KEYSTORE || rememberedKeystore(home)) return null;
  try {
    await probeOs();
    return { choice: rememberKeystore(home, 'os', 'the OS keychain answered at first run'), announce: '' };
  } catch (e) {
    if (!(e instanceof KeystoreError) || e.code !== 'unavailable') throw e;
    const why = 'no OS keychain at first run (no Secret Service on D-Bus)';
    const choice = rememberKeystore(home, 'file', why);
    return {
      choice,
      announce: `No OS keychain here (${why.replace(/^no OS keychain at first run \((.*)\)$/, '$1')}): this home keeps its device key in files under ${path.join(home, 'keystore')} (folder 0700, files 0600, not encrypted). Remembered for this home in ${path.join(home, FILE)}; to use a keychain instead, start one and enrol again with PIM_KEYSTORE=os.`,
    };
  }
}
