// A new user on a headless machine (no OS keychain): `pim enroll` finds that out before anything
// is created, says once what it will use and why, remembers it for this home (and journals it),
// and the next commands need no PIM_KEYSTORE=file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { touch } from '../helpers/ceremony';
import { cliWorld, ENG_POLICY } from '../helpers/cli-world';
import { PIM, PIM_SERVER, run, start } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';

// no PIM_KEYSTORE and no D-Bus session bus at all (no address, no $XDG_RUNTIME_DIR/bus): what a
// server without a desktop has (undefined: not passed on to the child)
const headless = { PIM_KEYSTORE: '', DBUS_SESSION_BUS_ADDRESS: undefined, XDG_RUNTIME_DIR: tmpDir('pim-no-bus-') };
// a desktop session whose keyring is not up (yet): a bus address where nothing answers
const desktop = { PIM_KEYSTORE: '', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/pim-test-bus' };

test('no OS keychain: enrolment says once that files are used and why, and the home remembers it', async () => {
  const { people } = await cliWorld(ENG_POLICY, [['alice@acme.example', 'eng']], headless);
  const alice = people['alice@acme.example']!;
  const choice = JSON.parse(fs.readFileSync(path.join(alice.home, 'keystore.json'), 'utf8')) as {
    kind: string;
    why: string;
  };
  assert.equal(choice.kind, 'file');
  assert.match(choice.why, /no OS keychain/);
  assert.equal(fs.statSync(path.join(alice.home, 'keystore.json')).mode & 0o777, 0o600);
  assert.ok(fs.existsSync(path.join(alice.home, 'keystore')), 'the device key is in the file keystore');

  // the next command, still without PIM_KEYSTORE: signs with the remembered file keystore, silently
  const act = await start(
    PIM,
    ['--home', alice.home, 'activate', 'readonly', '--no-open'],
    /sign this request: (\S+)/,
    headless,
  );
  await touch(alice.key, act.match[1]!);
  assert.equal(await act.exited(), 0, act.output());
  assert.doesNotMatch(act.output(), /No OS keychain here|PIM_KEYSTORE/);

  const audit = alice.pim('audit', 'list');
  assert.match(
    audit.stdout,
    /keystore-changed\s+device-key-created in the file keystore — chosen because no OS keychain at first run/,
  );
});

test('the first-run notice is printed by enrol itself, before the ceremony', async () => {
  const { repo } = await cliWorld(ENG_POLICY, [], headless);
  const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example', '--groups', 'eng']);
  const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
  const home = path.join(path.dirname(repo), 'fresh');
  const enrol = await start(
    PIM,
    ['--home', home, 'enroll', link, '--no-open'],
    /Register your security key: (\S+)/,
    headless,
  );
  const before = enrol.output();
  assert.match(
    before,
    /No OS keychain here \(no D-Bus session bus: a machine without a desktop session\): this home keeps its device key in files under \S+keystore \(folder 0700, files 0600, not encrypted\)\. Remembered for this home/,
  );
  assert.ok(before.indexOf('No OS keychain here') < before.indexOf('Register your security key'));
  assert.equal(before.match(/No OS keychain here/g)!.length, 1);
  enrol.child.kill('SIGTERM');
});

test('a desktop whose keyring does not answer: enrolment stops with the fix, and never falls back to files by itself', async () => {
  const { repo } = await cliWorld(ENG_POLICY, [], desktop);
  const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example', '--groups', 'eng']);
  const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
  const home = path.join(path.dirname(repo), 'desktop');
  const enrol = run(PIM, ['--home', home, 'enroll', link, '--no-open'], desktop);
  assert.notEqual(enrol.code, 0, enrol.stdout);
  assert.match(
    enrol.stderr,
    /the OS keychain did not answer, and nothing was created: .*start or unlock its keyring .* PIM_KEYSTORE=file/s,
  );
  assert.doesNotMatch(enrol.stdout + enrol.stderr, /Register your security key/);
  assert.equal(fs.existsSync(path.join(home, 'keystore.json')), false, 'no choice remembered');
  assert.equal(fs.existsSync(path.join(home, 'keystore')), false, 'no device key in files');

  // chosen explicitly, files are fine
  const explicit = await start(
    PIM,
    ['--home', home, 'enroll', link, '--no-open'],
    /Register your security key: (\S+)/,
    { ...desktop, PIM_KEYSTORE: 'file' },
  );
  explicit.child.kill('SIGTERM');
});
