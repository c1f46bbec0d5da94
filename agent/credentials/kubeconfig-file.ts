// Read-modify-write of a kubeconfig file, the way kubectl itself does it: under `<file>.lock`
// (client-go's convention, so `kubectl config …` and we never interleave; kubectl gives up when the
// lock is held, we wait), atomically (temp file + rename in the same folder), keeping the file's
// mode (a new file is 0600), never through a symlink at the path.
import path from 'node:path';
import { KubeconfigError, isEmptySkeleton } from './kubeconfig';
import {
  UnsafePathError,
  ensureUserDir,
  modeOf,
  readRegular,
  removeFile,
  withFileLock,
  writeFileAtomic,
} from '../../platform/fs-safe';

/**
 * Runs `edit` on the file's text (null when there is no file) while holding the lock, and stores what
 * it returns. `null` deletes the file; so does an empty skeleton (a kubeconfig PIM Agent created and
 * nothing but its entries ever used, see isEmptySkeleton). Returns whether the file changed and
 * whether it was removed. A missing parent folder is created 0700.
 */
export function updateKubeconfig(
  file: string,
  edit: (text: string | null) => string | null,
  opts: { lockTimeoutMs?: number } = {},
): { changed: boolean; removed: boolean } {
  const abs = path.resolve(file);
  ensureUserDir(path.dirname(abs));
  return withFileLock(
    `${abs}.lock`,
    () => {
      const buf = readRegular(abs);
      const before = buf === null ? null : buf.toString('utf8');
      if (buf !== null && !Buffer.from(before!, 'utf8').equals(buf))
        throw new UnsafePathError(`${abs} is not UTF-8 text: PIM Agent leaves it alone`);
      let after: string | null;
      try {
        after = edit(before);
      } catch (e) {
        if (e instanceof KubeconfigError) throw new KubeconfigError(`kubeconfig ${abs}: ${e.message}`);
        throw e;
      }
      if (after === null || isEmptySkeleton(after)) {
        if (before === null) return { changed: false, removed: false };
        removeFile(abs);
        return { changed: true, removed: true };
      }
      if (after === before) return { changed: false, removed: false };
      writeFileAtomic(abs, after, modeOf(abs, 0o600));
      return { changed: true, removed: false };
    },
    { timeoutMs: opts.lockTimeoutMs },
  );
}
