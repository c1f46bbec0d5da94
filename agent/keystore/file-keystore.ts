// Secrets in plain files, chosen only with PIM_KEYSTORE=file (tests, machines without a keychain).
// The files are NOT encrypted: <home>/keystore/ is 0700, each secret a 0600 file, whatever the umask.
// Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder) and nothing
// here follows a symlink: a symlink (or any non-regular file) planted at a secret's path is refused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, errorMessage } from '../../shared/errors';
import { KeystoreError, MAX_SECRET_BYTES, checkSecret, checkSecretName, type Keystore } from './keystore';

const IS_WINDOWS = process.platform === 'win32';
// Windows has neither O_NOFOLLOW nor O_NONBLOCK; the lstat checks still apply there
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

function errno(err: unknown): string | undefined {
  return errorCode(err);
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.lstat(p);
  } catch (err) {
    if (errno(err) === 'ENOENT') return null;
    throw err;
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isFile()) return 'a regular file';
  return 'a device or other special file';
}

export class FileKeystore implements Keystore {
  readonly kind = 'file' as const;
  readonly description: string;
  /** <home>/keystore */
  readonly dir: string;

  constructor(home: string) {
    this.dir = path.join(path.resolve(home), 'keystore');
    this.description = `file keystore in ${this.dir} (PIM_KEYSTORE=file): secrets are NOT encrypted, they are protected only by file permissions (folder 0700, files 0600)`;
  }

  async get(name: string): Promise<Buffer | null> {
    const file = this.file(name);
    if (!(await this.ensureDir(false))) return null;
    const before = await this.io('read', name, () => lstatOrNull(file));
    if (!before) return null;
    this.refuseUnsafe(name, file, before);
    let fh: fs.promises.FileHandle;
    try {
      // O_NOFOLLOW: a symlink swapped in after the lstat fails with ELOOP instead of being followed;
      // O_NONBLOCK: a FIFO swapped in cannot hang the agent
      fh = await fs.promises.open(file, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      if (errno(err) === 'ENOENT') return null;
      if (errno(err) === 'ELOOP') throw this.symlinkError(name, file);
      throw this.ioError('read', name, err);
    }
    try {
      const st = await fh.stat();
      this.refuseUnsafe(name, file, st);
      if (!IS_WINDOWS && (st.mode & 0o077) !== 0) {
        throw new KeystoreError(
          'unsafe',
          `refusing to use secret "${name}": ${file} is readable or writable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${file} if you trust its content, or delete it`,
        );
      }
      if (st.size === 0 || st.size > MAX_SECRET_BYTES) {
        throw new KeystoreError(
          'corrupt',
          `secret "${name}" in ${file} has an impossible size (${st.size} bytes); delete the file and set the secret again`,
        );
      }
      return await fh.readFile();
    } catch (err) {
      throw err instanceof KeystoreError ? err : this.ioError('read', name, err);
    } finally {
      await fh.close();
    }
  }

  async set(name: string, secret: Buffer): Promise<void> {
    const file = this.file(name);
    checkSecret(secret);
    await this.ensureDir(true);
    await this.refuseUnsafeTarget(name, file);
    const tmp = path.join(this.dir, `.${name}.${crypto.randomBytes(8).toString('hex')}.tmp`);
    let created = false;
    try {
      const fh = await fs.promises.open(
        tmp,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW,
        0o600,
      );
      created = true;
      try {
        if (!IS_WINDOWS) await fh.chmod(0o600); // exactly 0600, whatever the umask
        await fh.writeFile(secret);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // checked again right before the rename; rename itself replaces a path, it never writes
      // through a symlink, so a race here cannot touch the symlink's target either
      await this.refuseUnsafeTarget(name, file);
      await fs.promises.rename(tmp, file);
      created = false;
      await this.syncDir();
    } catch (err) {
      if (created) await fs.promises.unlink(tmp).catch(() => undefined);
      throw err instanceof KeystoreError ? err : this.ioError('write', name, err);
    }
  }

  async delete(name: string): Promise<boolean> {
    const file = this.file(name);
    if (!(await this.ensureDir(false))) return false;
    // leftovers of an interrupted write hold the secret too
    const leftover = new RegExp(`^\\.${name.replace(/[.]/g, '\\.')}\\.[0-9a-f]{16}\\.tmp$`);
    const entries = await this.io('delete', name, () => fs.promises.readdir(this.dir));
    for (const e of entries.filter((n) => leftover.test(n))) {
      const p = path.join(this.dir, e);
      const st = await lstatOrNull(p);
      if (st?.isFile()) await fs.promises.unlink(p).catch(() => undefined);
    }
    const st = await this.io('delete', name, () => lstatOrNull(file));
    if (!st) return false;
    this.refuseUnsafe(name, file, st);
    try {
      await fs.promises.unlink(file);
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw this.ioError('delete', name, err);
    }
    await this.syncDir();
    return true;
  }

  private file(name: string): string {
    return path.join(this.dir, checkSecretName(name));
  }

  /**
   * Checks <home>/keystore is a real folder of ours, 0700 (tightened if needed); creates it when
   * `create`, else answers false when it does not exist (reads and deletes create nothing).
   */
  private async ensureDir(create: boolean): Promise<boolean> {
    if (create) {
      try {
        await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        if (errno(err) !== 'EEXIST')
          throw new KeystoreError('failed', `cannot create the file keystore folder ${this.dir}: ${errorMessage(err)}`);
      }
    }
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(this.dir);
    } catch (err) {
      if (!create && errno(err) === 'ENOENT') return false;
      throw new KeystoreError('failed', `cannot open the file keystore folder ${this.dir}: ${errorMessage(err)}`);
    }
    if (!st.isDirectory()) {
      throw new KeystoreError(
        'unsafe',
        `refusing to use the file keystore: ${this.dir} is ${kindOf(st)}, not a folder; remove it and try again`,
      );
    }
    if (IS_WINDOWS) return true;
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new KeystoreError(
        'unsafe',
        `refusing to use the file keystore: ${this.dir} belongs to uid ${st.uid}, not to this user (uid ${uid})`,
      );
    }
    if ((st.mode & 0o777) !== 0o700) await fs.promises.chmod(this.dir, 0o700);
    return true;
  }

  private refuseUnsafe(name: string, file: string, st: fs.Stats): void {
    if (st.isSymbolicLink()) throw this.symlinkError(name, file);
    if (!st.isFile()) {
      throw new KeystoreError(
        'unsafe',
        `refusing to use secret "${name}": ${file} is ${kindOf(st)}, not a regular file; remove it and try again`,
      );
    }
    const uid = IS_WINDOWS ? undefined : process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new KeystoreError(
        'unsafe',
        `refusing to use secret "${name}": ${file} belongs to uid ${st.uid}, not to this user (uid ${uid})`,
      );
    }
  }

  private async refuseUnsafeTarget(name: string, file: string): Promise<void> {
    const st = await this.io('write', name, () => lstatOrNull(file));
    if (st) this.refuseUnsafe(name, file, st);
  }

  private symlinkError(name: string, file: string): KeystoreError {
    return new KeystoreError(
      'unsafe',
      `refusing to follow a symlink: ${file} (secret "${name}") is a symlink, which PIM Agent never creates — someone planted it; inspect and remove it, then try again`,
    );
  }

  private async syncDir(): Promise<void> {
    if (IS_WINDOWS) return; // directories cannot be opened for fsync there
    const dh = await fs.promises.open(this.dir, fs.constants.O_RDONLY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  private async io<T>(verb: string, name: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw err instanceof KeystoreError ? err : this.ioError(verb, name, err);
    }
  }

  private ioError(verb: string, name: string, err: unknown): KeystoreError {
    // fs errors name the path and the system call, never the data
    return new KeystoreError(
      'failed',
      `cannot ${verb} secret "${name}" in the file keystore ${this.dir}: ${errorMessage(err)}`,
    );
  }
}
