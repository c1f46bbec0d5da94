// The fast path's work (see fast-main.ts): open agent.db for reading and print what the full CLI
// prints, through the same Agent and the same output functions (fast-commands.ts).
//
// Trust: the policy in agent.db was verified (TUF signatures, expiry, rollback) when it was
// stored, and the full CLI reads it back just as this does — agent.db is 0600 in a 0700 folder
// that only this user can write, checked below before anything is read. Nothing here decides
// more than the full CLI's read path does; it skips only start-up cost.
//
// Whatever the full CLI would repair or create (a missing or loose folder or file, an older
// schema, another journal mode) or report as an error is handed back to it: `null`.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from '../agent';
import { resolveHome } from '../home';
import { SCHEMA_VERSION, type Db } from '../store/db';
import { rolesOutput, statusOutput } from './fast-commands';
import type { FastCommand } from './fast-main';
import { errorCode, errorMessage } from '../../shared/errors';

export function runFast(c: FastCommand, out: (s: string) => void = writeStdout): number | null {
  // Electron loads its own better-sqlite3 build (store/native-binding.ts): not this path's concern
  if (process.versions.electron) return null;
  const home = resolveHome(c.home);
  const db = openForReading(home);
  if (!db) return null;
  let text: string;
  try {
    const agent = new Agent(home, undefined, db);
    try {
      text = c.cmd === 'roles' ? rolesOutput(agent, c) : statusOutput(agent, home, c);
    } finally {
      agent.close();
    }
  } catch {
    // nothing printed yet: the full CLI says what went wrong, in its words and with its exit code
    if (db.open) db.close();
    return null;
  }
  try {
    out(text);
  } catch (e) {
    // e.g. EPIPE (`pim roles | head -1`): part of the answer may be out, so no second one
    process.stderr.write(`pim: cannot write the answer: ${errorMessage(e)}\n`);
    return 1;
  }
  return 0;
}

/** Straight to fd 1: process.stdout would first build a stream (for a pipe, a net.Socket and the
 *  modules behind it). A non-blocking pipe that is full (EAGAIN) gets the rest through it. */
function writeStdout(s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  try {
    while (off < buf.length) off += fs.writeSync(1, buf, off);
  } catch (e) {
    if (errorCode(e) !== 'EAGAIN') throw e;
    process.stdout.write(buf.subarray(off));
  }
}

/** agent.db as the full CLI would leave it (private, current schema, WAL), opened; else null. */
export function openForReading(home: string): Db | null {
  const file = path.join(home, 'agent.db');
  const dir = fs.statSync(home, { throwIfNoEntry: false });
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!dir?.isDirectory() || !st?.isFile()) return null;
  // ensurePrivateDir and openDb chmod these back on every full run; a loose mode goes to them
  if (process.platform !== 'win32' && ((dir.mode & 0o077) !== 0 || (st.mode & 0o777) !== 0o600)) return null;
  const binding = addonPath();
  if (!binding) return null;
  let db: Db;
  try {
    // the busy timeout (5 s, as openDb sets) waits out a running agent's write
    db = new Database(file, { fileMustExist: true, nativeBinding: binding, timeout: 5000 });
  } catch {
    return null;
  }
  try {
    if (
      db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION ||
      db.pragma('journal_mode', { simple: true }) !== 'wal'
    ) {
      db.close();
      return null;
    }
    // The policy row's small columns sit behind the multi-megabyte roles file: read through
    // pread() that is a few hundred system calls per run, mapped it is none. Reads only; agent.db
    // never shrinks (no VACUUM, no auto_vacuum), which is what makes mapping it safe.
    db.pragma('mmap_size = 268435456');
    return db;
  } catch {
    db.close();
    return null;
  }
}

/** better-sqlite3's addon where `npm install` builds it. Given directly, it skips the `bindings`
 *  package, which probes a dozen paths from a stack trace on every start. Elsewhere (a Debug or
 *  prebuilt layout), or when dist/pim-fast.cjs bundles another version of better-sqlite3's
 *  JavaScript than the one installed (npm update without a rebuild): null, the full CLI runs. */
function addonPath(): string | null {
  try {
    const dir = path.dirname(require.resolve('better-sqlite3/package.json'));
    const bundled = process.env.PIM_FAST_SQLITE_VERSION; // set by scripts/build.mjs
    if (
      bundled &&
      (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string }).version !== bundled
    )
      return null;
    const p = path.join(dir, 'build', 'Release', 'better_sqlite3.node');
    return fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}
