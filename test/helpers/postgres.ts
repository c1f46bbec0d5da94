// A throwaway PostgreSQL cluster for a test: Debian's `postgresql` package (installed by .ci/run), its
// binaries from /usr/lib/postgresql/<version>/bin (the newest version there; never whatever `initdb`
// happens to be on PATH), `initdb` into a fresh temporary folder, a random free loopback port, the unix
// socket in that folder, trust authentication for loopback and the socket only, and durability off
// (fsync, synchronous_commit, full_page_writes) because the cluster is thrown away. Never the system
// cluster Debian's postinst may start on 5432, never a shared database.
//
// PostgreSQL refuses to run as root, and tests run as root in CI: then initdb and postgres run as the
// `postgres` system user (created by the Debian package) through `setpriv`, which execs in place (the
// child we hold is the postmaster itself, so signals reach it), and the folder belongs to that user.
//
// The cluster is stopped (fast shutdown, SIGKILL if it lingers) and its folder removed when the test
// ends (test/helpers/cleanup.ts), or earlier by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { after } from './cleanup';
import { freePort } from './net';
import { cannotRun } from './system';
import type { TestContext } from './test-context';

const DEBIAN_PG = '/usr/lib/postgresql';
const PROGRAMS = ['initdb', 'postgres'];
const DATABASE = 'pim';
const SUPERUSER = 'postgres';

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/pim — a database nobody else has used */
  url: string;
  port: number;
  /** the temporary folder: data directory (data/), socket, log */
  dir: string;
  /** the postmaster's process id */
  pid: number;
  /** the operating-system user the server runs as */
  osUser: string;
  /** what postgres printed (diagnostics) */
  log(): string;
  /** stops the server and removes the folder (idempotent; also done when the test ends) */
  stop(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL Debian installed, or null. */
export function findPostgresBin(): string | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(DEBIAN_PG);
  } catch {
    return null;
  }
  const usable = versions
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(DEBIAN_PG, v, 'bin'))
    .filter((bin) =>
      PROGRAMS.every((p) => {
        try {
          fs.accessSync(path.join(bin, p), fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
    );
  return usable[0] ?? null;
}

interface RunAs {
  /** the program that runs another as the unprivileged user (null when we already are one) */
  wrapper: { cmd: string; args: string[] } | null;
  name: string;
  uid: number;
  gid: number;
}

function idOf(user: string, flag: '-u' | '-g'): number | null {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : null;
}

/** Who runs the cluster: ourselves, or (as root) the `postgres` system user via setpriv. */
function runAs(t: TestContext): RunAs | null {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { wrapper: null, name: os.userInfo().username, uid, gid: process.getgid?.() ?? -1 };
  const pgUid = idOf('postgres', '-u');
  const pgGid = idOf('postgres', '-g');
  if (pgUid === null || pgGid === null) {
    cannotRun(
      t,
      "running as root and there is no `postgres` user to run PostgreSQL as (Debian's postgresql package creates it; see .ci/run)",
    );
    return null;
  }
  if (spawnSync('setpriv', ['--version']).status !== 0) {
    cannotRun(t, 'running as root and setpriv (util-linux) is missing: PostgreSQL must run as a non-root user');
    return null;
  }
  return {
    wrapper: { cmd: 'setpriv', args: [`--reuid=${pgUid}`, `--regid=${pgGid}`, '--init-groups', '--'] },
    name: 'postgres',
    uid: pgUid,
    gid: pgGid,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

function runToEnd(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout.on('data', (d) => (output += d));
    c.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.once('error', reject);
    c.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', output });
    });
  });
}

/**
 * "Smart" shutdown first (SIGTERM: no new sessions, the ones still closing finish cleanly, so no
 * client is sent a FATAL it did not ask for); after 2 s "fast" (SIGINT: sessions cut off); after 10 s
 * SIGKILL.
 */
function stopChild(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const fast = setTimeout(() => child.kill('SIGINT'), 2_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(fast);
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Connects (as the superuser, to the `postgres` database) to the server just started on `port`, and
 * checks it is ours (its data directory). Null when it lost the port (exited: could not bind, or
 * someone else's server answers there); throws on any other failure.
 */
async function connectToOurs(
  c: ChildProcess,
  port: number,
  data: string,
  log: () => string,
): Promise<pg.Client | null> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited(c)) {
      if (/could not bind|could not create any TCP\/IP sockets|Address already in use/i.test(log())) return null;
      throw new Error(`postgres exited (${c.exitCode ?? c.signalCode}) before accepting connections:\n${log()}`);
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' });
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline)
        throw new Error(
          `postgres did not accept connections on 127.0.0.1:${port} within 30 s (${String(e)}):\n${log()}`,
        );
      await sleep(50);
      continue;
    }
    const r = await client.query<{ d: string }>("SELECT current_setting('data_directory') AS d");
    if (r.rows[0]?.d === data) return client;
    await client.end();
    await stopChild(c);
    return null;
  }
}

/**
 * Starts a fresh cluster and creates the database the returned URL names. Returns null when the test
 * was skipped (PostgreSQL missing locally); under CI=true a missing PostgreSQL fails the test.
 */
export async function startPostgres(t: TestContext): Promise<PostgresCluster | null> {
  const bin = findPostgresBin();
  if (!bin) {
    cannotRun(
      t,
      `PostgreSQL is not installed (no ${DEBIAN_PG}/<version>/bin/initdb): install Debian's postgresql package (see .ci/run) to run this test`,
    );
    return null;
  }
  const who = runAs(t);
  if (!who) return null;

  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pim-pg-')));
  let child: ChildProcess | null = null;
  let out = '';
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      if (child) await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  after(stop);

  const data = path.join(dir, 'data');
  if (who.wrapper) fs.chownSync(dir, who.uid, who.gid);
  // the folder's parents must let the server's user through (a root-only TMPDIR would not)
  const asUser = (cmd: string, args: string[]) =>
    who.wrapper ? { cmd: who.wrapper.cmd, args: [...who.wrapper.args, cmd, ...args] } : { cmd, args };
  const probe = asUser('test', ['-w', dir]);
  if (spawnSync(probe.cmd, probe.args).status !== 0)
    throw new Error(`${who.name} cannot write ${dir}: set TMPDIR to a folder every user can traverse`);

  const run = (program: string, args: string[]) => asUser(path.join(bin, program), args);
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };

  const initdb = run('initdb', [
    `--pgdata=${data}`,
    `--username=${SUPERUSER}`,
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ]);
  // asynchronously, so that clusters started side by side run their initdb at the same time
  const init = await runToEnd(initdb.cmd, initdb.args, { cwd: dir, env });
  if (init.code !== 0) throw new Error(`initdb failed (${init.code}):\n${init.output}`);
  // only the socket in our folder and loopback over TCP; nothing else may even try
  fs.writeFileSync(
    path.join(data, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n',
  );

  // freePort() then bind leaves a moment in which another test may take the port: then postgres
  // exits (could not bind), or -- worse -- what answers there is someone else's server; so the server
  // that answers must have our data directory, and a lost port is tried again with another.
  let port = 0;
  let c: ChildProcess | null = null;
  let client: pg.Client | null = null;
  for (let attempt = 1; !client; attempt++) {
    port = await freePort();
    const settings: Record<string, string | number> = {
      listen_addresses: '127.0.0.1',
      port,
      unix_socket_directories: dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_buffers: '16MB',
      max_connections: 40,
      max_wal_senders: 0,
      wal_level: 'minimal',
      autovacuum: 'off',
      logging_collector: 'off',
      log_min_messages: 'warning',
    };
    const postgres = run('postgres', [
      '-D',
      data,
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    const started = spawn(postgres.cmd, postgres.args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    c = child = started;
    started.stdout.on('data', (d) => (out += d));
    started.stderr.on('data', (d) => (out += d));
    client = await connectToOurs(started, port, data, () => out);
    if (!client && attempt >= 3) throw new Error(`postgres could not bind a free port in 3 attempts:\n${out}`);
  }
  try {
    await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }

  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
    port,
    dir,
    pid: c?.pid ?? -1,
    osUser: who.name,
    log: () => out,
    stop,
  };
}
