// File helpers for the repository: secrets 0600 in 0700 folders, every write atomic
// (temp file + rename) so a crash or a concurrent reader never sees half a file.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { errorCode } from '../../shared/errors';

export function ensureDir(dir: string, mode = 0o755): void {
  fs.mkdirSync(dir, { recursive: true, mode });
}

export function writeAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: { fsync?: boolean } = {},
): void {
  ensureDir(path.dirname(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (opts.fsync !== false) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, mode); // umask may have narrowed or widened nothing, but be explicit
  fs.renameSync(tmp, file);
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Exclusive lock on DIR/.lock so `publish`, `rotate-root` and a running `serve` never interleave. */
export function withLock<T>(dir: string, fn: () => T, timeoutMs = 15000): T {
  const lock = path.join(dir, '.lock');
  const start = Date.now();
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if (errorCode(e) !== 'EEXIST') throw e;
      if (staleLock(lock)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() - start > timeoutMs)
        throw new Error(`repository ${dir} is locked by another pim-server process (${lock})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function staleLock(lock: string): boolean {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return true;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return errorCode(e) === 'ESRCH' || errorCode(e) === 'ENOENT';
  }
}

/** Flush every pending write to disk at once (one `sync` instead of an fsync per file). */
export function syncAll(): void {
  if (process.platform === 'win32') return;
  spawnSync('sync', { stdio: 'ignore' });
}
