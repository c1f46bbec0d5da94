// The real OS keychain on Linux, headless (docs/architecture.md, Platform facts): a private D-Bus session
// (dbus-run-session) with gnome-keyring's Secret Service unlocked by a throwaway password, a temporary HOME and XDG
// folders, and a child Node process (test/helpers/keyring-probe.ts) that uses the agent's keystore there. Then the ways
// it goes wrong for users: no D-Bus at all, a D-Bus with no Secret Service, a keyring that is not unlocked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'vitest';
import { after } from '../helpers/cleanup';
import { requireProgram } from '../helpers/system';

const ROOT = path.resolve(__dirname, '..', '..');
const PROBE = path.join(ROOT, 'test', 'helpers', 'keyring-probe.ts');
const NO_KEYCHAIN =
  "no OS keychain is available (no Secret Service on D-Bus: start gnome-keyring or KeePassXC's Secret Service), or set PIM_KEYSTORE=file to keep keys in files protected only by permissions";

interface Attempt {
  label: string;
  ok: boolean;
  name?: string;
  code?: string | null;
  message?: string;
  leaksSecret?: boolean;
  reachedSet?: boolean;
}

function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-keyring-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const d = (name: string) => {
    const p = path.join(dir, name);
    fs.mkdirSync(p, { mode: 0o700 });
    return p;
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: d('user-home'),
    XDG_RUNTIME_DIR: d('run'),
    XDG_CACHE_HOME: d('cache'),
    XDG_DATA_HOME: d('data'),
    XDG_CONFIG_HOME: d('config'),
    // no DBUS_SESSION_BUS_ADDRESS, DISPLAY or WAYLAND_DISPLAY: nothing of the caller's desktop
  };
  return { dir, env, agentHome: d('agent-home'), otherHome: d('other-agent-home') };
}

/** Runs `cmd` and parses the probe's JSON line from its stdout. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').filter(Boolean).pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    assert.fail(
      `the keyring probe printed no result (exit ${r.status}, signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
}

const probe = (mode: string, ...homes: string[]) => [process.execPath, '--import', 'tsx', PROBE, mode, ...homes];

function linuxOnly(t: TestContext): boolean {
  if (process.platform === 'linux') return true;
  // a platform limit, not a missing program: CI runs on Linux, where this never skips
  const msg =
    'these tests drive the Linux Secret Service (gnome-keyring); macOS and Windows keychains are not scripted here';
  process.stderr.write(`\n*** SKIPPED: ${msg} ***\n\n`);
  t.skip(msg);
  return false;
}

test('the OS keychain stores, returns and deletes a secret and keeps a device key, in a real Secret Service', async (t) => {
  if (!linuxOnly(t)) return;
  const why = 'the OS keychain test runs a real Secret Service in a private D-Bus session';
  if (!requireProgram(t, 'dbus-run-session', why) || !requireProgram(t, 'gnome-keyring-daemon', why)) return;
  if (
    !requireProgram(
      t,
      'secret-tool',
      'it checks the device key really is in the Secret Service (package libsecret-tools)',
    )
  )
    return;
  const { env, agentHome, otherHome } = sandbox();
  const script = 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97; exec "$@"';
  const r = run('dbus-run-session', ['--', 'sh', '-c', script, 'sh', ...probe('roundtrip', agentHome, otherHome)], env);

  assert.equal(r.failed, undefined, `the probe failed: ${String(r.message)}`);
  assert.equal(r.kind, 'os-keychain');
  assert.match(String(r.description), /Secret Service over D-Bus/);
  assert.equal(r.roundTripEqual, true, 'the secret read back is the one stored');
  assert.equal(r.otherHomeSees, false, 'another agent home on the same machine does not see the secret');
  assert.equal(r.deleted, true);
  assert.equal(r.afterDelete, null);
  assert.equal(r.deletedAgain, false);
  assert.match(String(r.createdThumbprint), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(r.loadedThumbprint, r.createdThumbprint, 'the device key loads back from the keychain');
  assert.equal(r.secretToolStatus, 0, 'secret-tool finds the device key under service pim-agent');
  assert.equal(r.secretToolMatches, true, 'the Secret Service item holds the base64 of what the keystore returns');
  assert.equal(r.verifiedJtiLength, 22, 'a request signed with the loaded key verifies with the created public key');
  const refused = r.refused as Attempt;
  assert.equal(refused.ok, false);
  assert.equal(refused.code, 'exists', 'a second createDeviceKey refuses to overwrite');
  assert.equal(refused.leaksSecret, false);
  assert.equal(r.removed, true);
});

function assertUnavailable(r: Record<string, unknown>) {
  assert.equal(r.kind, 'os-keychain');
  for (const op of ['set', 'get', 'delete', 'createDeviceKey']) {
    const a = r[op] as Attempt;
    assert.equal(a.ok, false, `${op} must fail without a Secret Service`);
    assert.equal(a.name, 'KeystoreError', op);
    assert.equal(a.code, 'unavailable', `${op}: ${a.message}`);
    assert.ok(a.message!.includes(NO_KEYCHAIN), `${op} says what to do: ${a.message}`);
    assert.equal(a.leaksSecret, false, `${op}'s error does not contain the secret`);
  }
}

test('without any D-Bus session the OS keystore fails with a message that says what to start or set', (t) => {
  if (!linuxOnly(t)) return;
  const { env, agentHome } = sandbox();
  const [cmd, ...args] = probe('unavailable', agentHome);
  assertUnavailable(run(cmd!, args, env));
});

test('on a D-Bus session that has no Secret Service the OS keystore fails with the same clear message', (t) => {
  if (!linuxOnly(t)) return;
  if (!requireProgram(t, 'dbus-run-session', 'the test starts a private D-Bus session with no services')) return;
  const { dir, env, agentHome } = sandbox();
  // a session bus with no service directories: org.freedesktop.secrets cannot be activated
  const conf = path.join(dir, 'session-no-services.conf');
  fs.writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=${env.XDG_RUNTIME_DIR}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  );
  assertUnavailable(run('dbus-run-session', [`--config-file=${conf}`, '--', ...probe('unavailable', agentHome)], env));
});

test('a Secret Service whose keyring was never unlocked is reported as locked, not as a missing key', (t) => {
  if (!linuxOnly(t)) return;
  const why = 'the test lets D-Bus start gnome-keyring without unlocking it';
  if (!requireProgram(t, 'dbus-run-session', why) || !requireProgram(t, 'gnome-keyring-daemon', why)) return;
  const { env, agentHome } = sandbox();
  // the standard session bus activates gnome-keyring on demand, with no unlocked collection
  const r = run('dbus-run-session', ['--', ...probe('unavailable', agentHome)], env);
  const set = r.set as Attempt;
  assert.equal(set.ok, false);
  assert.equal(set.code, 'locked', String(set.message));
  assert.match(set.message!, /locked or has no default collection — unlock it/);
  assert.match(set.message!, /or set PIM_KEYSTORE=file/);
  assert.equal(set.leaksSecret, false);
  const device = r.createDeviceKey as Attempt;
  assert.equal(device.ok, false);
  assert.equal(device.code, 'locked', 'createDeviceKey fails when storing, not later');
  assert.equal(device.reachedSet, true);
  assert.equal(device.leaksSecret, false, 'the private key handed to the keychain is not in the error');
});
