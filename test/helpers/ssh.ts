// Real OpenSSH programs for tests: an ssh-agent on a socket of our own, an sshd on a loopback port
// that trusts a test CA (certificates only: no authorized_keys, no passwords, no PAM), the `ssh`
// client pointed at a given agent, and a CA made and used with `ssh-keygen`.
//
// sshd facts (docs/architecture.md, Platform facts; Debian 12 / OpenSSH 9.2): it must run as root (privilege
// separation) from an absolute path, with /run/sshd present; without PAM a user whose password field starts with '!' is
// "locked" and refused even with a valid certificate (`usermod -p '*' USER` unlocks).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context';
import { after } from './cleanup';
import { errorMessage } from '../../shared/errors';
import { freePort } from './net';
import { cannotRun, findProgram } from './system';

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Like findProgram, but also looks in the sbin folders, which are often not on a user's PATH. */
export function findSystemProgram(name: string): string | null {
  const onPath = findProgram(name);
  if (onPath) return path.resolve(onPath);
  for (const dir of SBIN) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not there
    }
  }
  return null;
}

/** Skips the test locally (loudly) or fails it under CI=true; returns false when it cannot run. */
/** requireProgram (test/helpers/system.ts) that also finds programs in /usr/sbin and friends. */
export function requireSystemProgram(t: TestContext, name: string, why: string): string | null {
  const p = findSystemProgram(name);
  if (p) return p;
  cannotRun(t, `${name} is not installed: ${why}. Install it (see .ci/run) to run this test.`);
  return null;
}

function waitUntil(what: string, ok: () => boolean, timeoutMs: number, failed: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const why = failed();
      if (why !== null) return reject(new Error(why));
      if (ok()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---- ssh-agent -------------------------------------------------------------------------------

export interface RunningSshAgent {
  sock: string;
  stop(): Promise<void>;
}

/** A real `ssh-agent -D -a <dir>/agent.sock`, ready once its socket exists. Stopped after the test. */
export async function startSshAgent(dir: string): Promise<RunningSshAgent> {
  const sock = path.join(dir, 'agent.sock');
  const bin = findSystemProgram('ssh-agent');
  if (!bin) throw new Error('ssh-agent is not installed (openssh-client)');
  const child = spawn(bin, ['-D', '-a', sock], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const stop = () => stopChild(child);
  after(stop);
  await waitUntil(
    `ssh-agent's socket ${sock}`,
    () => fs.existsSync(sock),
    5_000,
    () => (child.exitCode !== null ? `ssh-agent exited (${child.exitCode}) before its socket appeared: ${err}` : null),
  );
  return { sock, stop };
}

/** `ssh-add -l` against an agent: what the user would see ("The agent has no identities." → []). */
export function sshAddList(sock: string): { status: number | null; lines: string[]; output: string } {
  const bin = findSystemProgram('ssh-add');
  if (!bin) throw new Error('ssh-add is not installed (openssh-client)');
  const r = spawnSync(bin, ['-l'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SSH_AUTH_SOCK: sock },
    timeout: 10_000,
  });
  const output = `${r.stdout}${r.stderr}`;
  return { status: r.status, lines: r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [], output };
}

// ---- a CA with ssh-keygen --------------------------------------------------------------------

export interface TestSshCa {
  /** "ssh-ed25519 AAAA… comment" */
  publicKey: string;
  /** `ssh-keygen -s ca -I id -n principals -V validity` on the given public key; the certificate line.
   *  Absolute times in `validity` (YYYYMMDD[HHMM[SS]]) are UTC: ssh-keygen runs with TZ=UTC. */
  sign(publicKey: string, o: { id: string; principals: string[]; validity: string }): string;
}

/** An Ed25519 CA made with `ssh-keygen -t ed25519` in `dir`. */
export function makeSshCa(dir: string): TestSshCa {
  const keygen = findSystemProgram('ssh-keygen');
  if (!keygen) throw new Error('ssh-keygen is not installed (openssh-client)');
  const ca = path.join(dir, 'ca');
  const run = (args: string[]) => {
    const r = spawnSync(keygen, args, { encoding: 'utf8', timeout: 10_000, env: { ...process.env, TZ: 'UTC' } });
    if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  };
  run(['-q', '-t', 'ed25519', '-N', '', '-C', 'pim-test-ca', '-f', ca]);
  let n = 0;
  return {
    publicKey: fs.readFileSync(`${ca}.pub`, 'utf8').trim(),
    sign(publicKey, o) {
      const pub = path.join(dir, `user-${++n}.pub`);
      fs.writeFileSync(pub, `${publicKey}\n`);
      run(['-q', '-s', ca, '-I', o.id, '-n', o.principals.join(','), '-V', o.validity, pub]);
      return fs.readFileSync(path.join(dir, `user-${n}-cert.pub`), 'utf8').trim();
    },
  };
}

// ---- sshd ------------------------------------------------------------------------------------

export interface RunningSshd {
  port: number;
  /** the login user: the current one (root in CI) */
  user: string;
  stop(): Promise<void>;
  /** what sshd logged so far (-e: to stderr) */
  log(): string;
}

export function currentUser(): string {
  const r = spawnSync('id', ['-un'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : os.userInfo().username;
}

/** Without PAM, sshd refuses accounts whose password field starts with '!' — say so up front. */
function lockedAccount(user: string): boolean {
  try {
    const line = fs
      .readFileSync('/etc/shadow', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${user}:`));
    return !!line && (line.split(':')[1] ?? '').startsWith('!');
  } catch {
    return false;
  }
}

/**
 * A real sshd on a free high loopback port, with its own sshd_config in a temporary folder:
 * certificates signed by `caPublicKey` only, each login user's allowed principals in
 * <dir>/principals/<user> (AuthorizedPrincipalsFile …/%u). Needs root; returns null when the test
 * was skipped (locally; under CI=true it fails instead).
 */
export async function startSshd(
  t: TestContext,
  o: { caPublicKey: string; principalsFor: Record<string, string[]> },
): Promise<RunningSshd | null> {
  const sshd = requireSystemProgram(t, 'sshd', 'the SSH tests log in to a real sshd (openssh-server)');
  const keygen = requireSystemProgram(t, 'ssh-keygen', 'the sshd needs a host key (openssh-client)');
  if (!sshd || !keygen) return null;
  if (process.platform === 'win32' || process.getuid?.() !== 0) {
    cannotRun(
      t,
      'sshd must run as root (privilege separation, logging in as the current user); run the SSH tests as root, as CI does',
    );
    return null;
  }
  const user = currentUser();
  if (lockedAccount(user)) {
    throw new Error(
      `the account ${user} is locked (its password field starts with '!'), and sshd without PAM refuses locked accounts even with a certificate: unlock it with usermod -p '*' ${user}`,
    );
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-sshd-'));
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) await stopChild(c);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  const hostKey = path.join(dir, 'host_ed25519');
  const kg = spawnSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'pim-test-host', '-f', hostKey], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (kg.status !== 0) throw new Error(`ssh-keygen (host key) failed: ${kg.stderr}`);
  const caFile = path.join(dir, 'trusted-user-ca.pub');
  fs.writeFileSync(caFile, `${o.caPublicKey.trim()}\n`);
  fs.mkdirSync(path.join(dir, 'principals'));
  for (const [u, principals] of Object.entries(o.principalsFor)) {
    if (!/^[a-z_][a-z0-9_.-]*$/i.test(u)) throw new Error(`not a user name: ${JSON.stringify(u)}`);
    fs.writeFileSync(path.join(dir, 'principals', u), principals.map((p) => `${p}\n`).join(''));
  }

  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const cfg = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      cfg,
      [
        `ListenAddress 127.0.0.1`,
        `Port ${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'UsePAM no',
        'AuthorizedKeysFile none',
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        `TrustedUserCAKeys ${caFile}`,
        `AuthorizedPrincipalsFile ${path.join(dir, 'principals', '%u')}`,
        'PermitRootLogin prohibit-password',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'X11Forwarding no',
        'AllowTcpForwarding no',
        'AllowAgentForwarding no',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    const child = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    children.push(child);
    const stop = () => stopChild(child);
    try {
      await waitUntil(
        `sshd to listen on 127.0.0.1:${port}`,
        () => log.includes(`Server listening on 127.0.0.1 port ${port}`),
        10_000,
        () =>
          child.exitCode !== null || child.signalCode !== null
            ? `sshd exited (${child.exitCode ?? child.signalCode}) before listening:\n${log}`
            : null,
      );
      return { port, user, stop, log: () => log };
    } catch (e) {
      await stop();
      lastError = errorMessage(e);
      if (!/Address already in use/.test(log)) break; // only a lost race for the port is worth a retry
    }
  }
  throw new Error(`could not start sshd: ${lastError}`);
}

// ---- ssh -------------------------------------------------------------------------------------

export interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real `ssh` client logging in to 127.0.0.1:port as `user` with the identities of the agent at
 * `sock` only (no config files, no key files, no known_hosts, temporary HOME), running `command`.
 */
export async function sshRun(port: number, user: string, sock: string, command: string): Promise<SshResult> {
  const ssh = findSystemProgram('ssh');
  if (!ssh) throw new Error('ssh is not installed (openssh-client)');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-ssh-home-'));
  try {
    const args = [
      '-F',
      'none',
      '-p',
      String(port),
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      `IdentityAgent=${sock}`,
      '-o',
      'IdentitiesOnly=no',
      '-o',
      'IdentityFile=none',
      '-o',
      'PreferredAuthentications=publickey',
      '-o',
      'ConnectTimeout=10',
      '-T',
      `${user}@127.0.0.1`,
      command,
    ];
    const child = spawn(ssh, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    clearTimeout(timer);
    return { status, stdout, stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
