// `$PIM_HOME/creds/active`: one "role endEpoch" line per active role of this device, for the prompt
// segment (pim shell-init) to read without starting Node; `creds/trail`: the same for the roles
// whose policy asks for a session command trail. Nothing secret in either.
import path from 'node:path';
import { ensurePrivateDir, removeFile, writeFileAtomic } from '../../platform/fs-safe';

export function writeStatusFiles(
  credsDir: string,
  now: Date,
  live: Iterable<{ role: string; expiresAt: Date }>,
  sessionTrail: (role: string) => boolean,
): void {
  const active = [...live];
  const lines = (trail: boolean) =>
    active
      .filter((a) => a.expiresAt > now && (!trail || sessionTrail(a.role)))
      .map((a) => `${a.role} ${Math.floor(a.expiresAt.getTime() / 1000)}\n`)
      .join('');
  for (const [name, text] of [
    ['active', lines(false)],
    ['trail', lines(true)],
  ] as const) {
    const file = path.join(credsDir, name);
    if (!text) removeFile(file);
    else {
      ensurePrivateDir(credsDir);
      writeFileAtomic(file, text, 0o600);
    }
  }
}
