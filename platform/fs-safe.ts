// File safety, said once for the agent and the control plane alike: everything the agent writes into
// the user's world (kubeconfig, ~/.aws/config, credential files, its home) and every key or metadata
// file of the server. Secrets 0600 in 0700 folders whatever the umask, writes atomic (temp file +
// fsync + rename in the same folder), symlinks never followed, concurrent writers serialised by a
// lock file, and names validated before a single byte is written.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, PimError } from '../shared/errors';

/** A name or path we refuse to write to: not a plain name, a symlink, someone else's file, … */
export type UnsafePathErrorCode = 'unsafe-path';

export class UnsafePathError extends PimError<UnsafePathErrorCode> {
  constructor(message: string, options?: ErrorOptions) {
    super('unsafe-path', message, options);
  }
}

/** What may appear in a name we put into kubeconfig, INI or ssh files (pim-<cluster>--<role>, …). */
const NAME = /^[a-z0-9][a-z0-9-]{0,199}$/;

/** Refuses anything that is not a plain lower-case name — newlines and control characters above all —
 *  before a file is touched. `what` says which name it is, for the message. */
export function checkName(value: string, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new UnsafePathError(
      `${what} ${JSON.stringify(String(value)).slice(0, 80)} is not allowed: use lower-case letters, digits and '-' (at most 200)`,
    );
  }
  return value;
}

/** The same rule as checkName, as a question. */
export function isName(value: string): boolean {
  return typeof value === 'string' && NAME.test(value);
}

/** A path we embed in a generated command line or config value: absolute, printable, no quotes. */
export function checkEmbeddablePath(p: string, what: string): string {
  if (!path.isAbsolute(p) || /[\u0000-\u001f\u007f"'`$\\]/.test(p)) {
    throw new UnsafePathError(
      `${what} ${JSON.stringify(p)} cannot be used: it must be absolute, without quotes, '$', '\\' or control characters`,
    );
  }
  return p;
}

/**
 * Makes `dir` (and missing parents) with mode 0700 and checks what is there: a symlink or
 * something owned by another user is refused rather than written through; a folder of ours with
 * looser permissions is tightened.
 */
export function ensurePrivateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink())
    throw new UnsafePathError(`${dir} is a symbolic link: refusing to keep credentials behind it`);
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} is not a folder`);
  if (process.platform !== 'win32') {
    if (typeof process.getuid === 'function' && st.uid !== process.getuid())
      throw new UnsafePathError(`${dir} belongs to another user (uid ${st.uid})`);
    if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
  }
  return dir;
}

/** Makes a folder others may read (the server's TUF repository, its metadata and targets), 0755
 *  unless told otherwise; an existing folder is left as it is. Keys go in ensurePrivateDir's. */
export function ensureDir(dir: string, mode = 0o755): void {
  fs.mkdirSync(dir, { recursive: true, mode });
}

/** Makes a folder the user owns (like ~/.kube) without loosening or tightening one that exists. */
export function ensureUserDir(dir: string): void {
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() && !st.isSymbolicLink()) throw new UnsafePathError(`${dir} is not a folder`);
}

/** The file's bytes, or null when it does not exist. A symlink at `file` is refused, not read. */
export function readRegular(file: string): Buffer | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return null;
    throw e;
  }
  if (st.isSymbolicLink())
    throw new UnsafePathError(
      `${file} is a symbolic link: PIM Agent does not write through links (point the setting at the real file)`,
    );
  if (!st.isFile()) throw new UnsafePathError(`${file} is not a regular file`);
  return fs.readFileSync(file);
}

/** The mode to give a rewritten file: the existing file's, else `fallback`. */
export function modeOf(file: string, fallback: number): number {
  try {
    return fs.lstatSync(file).mode & 0o777;
  } catch {
    return fallback;
  }
}

/**
 * Writes `file` atomically: a fresh temp file (O_EXCL, so a planted name is never reused or
 * followed) in the same folder, fsync, explicit chmod (umask does not decide), rename. rename()
 * replaces a symlink at `file` rather than writing to its target. `fsync: false` leaves flushing to
 * the caller (a batch of files followed by one syncAll()).
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
  opts: { fsync?: boolean } = {},
): void {
  const sync = opts.fsync !== false;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);
  const fd = fs.openSync(tmp, flags, 0o600);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fchmodSync(fd, mode);
    if (sync) fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (sync) fsyncDir(dir);
}

/** writeFileAtomic for a file others may read (the server's metadata and config: 0644 unless told
 *  otherwise), its folder made first if missing. */
export function writeAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: { fsync?: boolean } = {},
): void {
  ensureDir(path.dirname(file));
  writeFileAtomic(file, data, mode, opts);
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Flush every pending write to disk at once (one `sync` instead of an fsync per file). */
export function syncAll(): void {
  if (process.platform === 'win32') return;
  spawnSync('sync', { stdio: 'ignore' });
}

/** Removes a file we own (a symlink there is removed itself, never its target). */
export function removeFile(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw e;
  }
}

function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // best effort: some filesystems refuse fsync on folders
  }
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));

export interface FileLockOptions {
  timeoutMs?: number;
  /** a lock older than this is broken whoever holds it (Infinity: never for its age alone) */
  staleMs?: number;
  /** every lock at this path is one of ours: a lock naming no pid was left by a process that died
   *  before writing its pid, and is broken at once */
  unnamedIsStale?: boolean;
  /** the error to throw when the lock stays held past timeoutMs */
  busy?: () => Error;
}

/**
 * Runs `fn` holding `lockFile` (created O_EXCL; kubectl uses the same `<kubeconfig>.lock`
 * convention, so we never interleave with `kubectl config` either). A lock left by a dead process
 * of ours (its pid inside) or older than `staleMs` is broken. Synchronous on purpose: the critical
 * section is read-modify-rename of one small file.
 */
export function withFileLock<T>(lockFile: string, fn: () => T, opts: FileLockOptions = {}): T {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const staleMs = opts.staleMs ?? 30_000;
  const start = Date.now();
  let wait = 2;
  let mine: fs.Stats;
  for (;;) {
    try {
      const fd = fs.openSync(
        lockFile,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0),
        0o600,
      );
      try {
        fs.writeSync(fd, `${process.pid}\n`);
        mine = fs.fstatSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (e) {
      if (errorCode(e) !== 'EEXIST') throw e;
      if (breakIfStale(lockFile, staleMs, opts.unnamedIsStale === true)) continue;
      if (Date.now() - start > timeoutMs)
        throw (
          opts.busy?.() ??
          new Error(`${lockFile} is held by another program; try again, or remove it if nothing is writing that file`)
        );
      Atomics.wait(sleepBuf, 0, 0, wait);
      wait = Math.min(50, wait * 2);
    }
  }
  try {
    return fn();
  } finally {
    // remove the lock only if it is still ours (not one another process took after breaking ours as stale)
    if (sameFile(lockFile, mine)) fs.rmSync(lockFile, { force: true });
  }
}

/** Exclusive lock on DIR/.lock so the server's `publish`, `rotate-root` and a running `serve` never
 *  interleave: held as long as its process lives, however long that is. */
export function withLock<T>(dir: string, fn: () => T, timeoutMs = 15000): T {
  const lock = path.join(dir, '.lock');
  return withFileLock(lock, fn, {
    timeoutMs,
    staleMs: Infinity,
    unnamedIsStale: true,
    busy: () => new Error(`repository ${dir} is locked by another pim-server process (${lock})`),
  });
}

function sameFile(file: string, st: fs.Stats): boolean {
  try {
    const now = fs.lstatSync(file);
    return now.ino === st.ino && now.dev === st.dev;
  } catch {
    return false;
  }
}

/**
 * True when the caller should try to take the lock again at once: the lock went away by itself
 * (its holder released it between our open and this look — NOT a reason to delete whatever lock is
 * there now), or it was stale and we moved it aside. A stale lock is renamed to a unique name first
 * and only then checked to be the file we judged, so two waiters breaking the same stale lock never
 * delete a lock that a third process has just taken.
 */
function breakIfStale(lockFile: string, staleMs: number, unnamedIsStale: boolean): boolean {
  let st: fs.Stats;
  let pidText: string;
  try {
    st = fs.lstatSync(lockFile);
    pidText = Date.now() - st.mtimeMs > staleMs ? '' : fs.readFileSync(lockFile, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return true; // released meanwhile: retry
    throw e;
  }
  if (Date.now() - st.mtimeMs <= staleMs && !holderIsDead(pidText, unnamedIsStale)) return false;
  const aside = `${lockFile}.${crypto.randomBytes(6).toString('hex')}.stale`;
  try {
    fs.renameSync(lockFile, aside);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return true;
    throw e;
  }
  if (!sameFile(aside, st)) {
    // between our look and the rename another process took the lock: give it back
    try {
      fs.linkSync(aside, lockFile);
    } catch {
      // someone holds a new lock already; the moved one's owner will find its lock gone (sameFile)
    }
  }
  fs.rmSync(aside, { force: true });
  return true;
}

/** A lock of ours names its process; false for another tool's lock (kubectl writes none: wait for
 *  staleMs) unless every lock there is ours (`unnamedIsStale`). */
function holderIsDead(pidText: string, unnamedIsStale: boolean): boolean {
  const pid = Number.parseInt(pidText, 10);
  if (!Number.isInteger(pid) || pid <= 0) return unnamedIsStale;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return errorCode(e) === 'ESRCH';
  }
}
