// The file keystore (PIM_KEYSTORE=file), the keystore choice, and the device key stored in it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import util from 'node:util';
import { FileKeystore, KeystoreError, createDeviceKey, loadDeviceKey, openKeystore } from '../../agent/keystore';

const POSIX = process.platform !== 'win32';

function tmpHome(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-keystore-'));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return path.join(d, 'home');
}

function withUmask<T>(mask: number, f: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  return f().finally(() => process.umask(old));
}

const isKeystoreError = (code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof KeystoreError, `expected a KeystoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

test('a secret written to the file keystore reads back byte for byte, and a missing one reads as null', async () => {
  const home = tmpHome();
  const ks = new FileKeystore(home);
  const secret = crypto.randomBytes(200);
  assert.equal(await ks.get('session'), null);
  assert.equal(await ks.delete('session'), false);
  assert.equal(fs.existsSync(home), false, 'reading and deleting create nothing');
  await ks.set('session', secret);
  assert.deepEqual(await ks.get('session'), secret);
  // a second instance on the same home (the next agent start) sees it
  assert.deepEqual(await new FileKeystore(home).get('session'), secret);
  const replacement = crypto.randomBytes(32);
  await ks.set('session', replacement);
  assert.deepEqual(await ks.get('session'), replacement);
  assert.deepEqual(fs.readdirSync(path.join(home, 'keystore')), ['session'], 'no temporary file is left behind');
});

test.skipIf(!POSIX /* POSIX modes */)(
  'the keystore folder is 0700 and every secret file 0600, under umask 022 and under umask 000',
  async () => {
    for (const mask of [0o022, 0o000]) {
      const home = tmpHome();
      await withUmask(mask, async () => {
        const ks = new FileKeystore(home);
        await ks.set('device-key', Buffer.from('one'));
        await ks.set('session', Buffer.from('two'));
        await ks.set('session', Buffer.from('three')); // a replaced file is 0600 too
      });
      const dir = path.join(home, 'keystore');
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700, `folder, umask ${mask.toString(8)}`);
      for (const f of fs.readdirSync(dir))
        assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f}, umask ${mask.toString(8)}`);
    }
  },
);

test.skipIf(!POSIX /* POSIX modes */)(
  'a keystore folder someone opened up to 0755 is closed back to 0700 before use',
  async () => {
    const home = tmpHome();
    fs.mkdirSync(path.join(home, 'keystore'), { recursive: true });
    fs.chmodSync(path.join(home, 'keystore'), 0o755);
    await new FileKeystore(home).set('session', Buffer.from('x'));
    assert.equal(fs.statSync(path.join(home, 'keystore')).mode & 0o777, 0o700);
  },
);

test.skipIf(!POSIX /* symlinks need privileges on Windows */)(
  'a symlink planted at a secret path is never followed: set, get and delete refuse and its target stays unchanged',
  async () => {
    const home = tmpHome();
    const ks = new FileKeystore(home);
    await ks.set('other', Buffer.from('unrelated')); // creates the folder
    const victim = path.join(path.dirname(home), 'victim.txt');
    fs.writeFileSync(victim, 'precious\n');
    const link = path.join(home, 'keystore', 'device-key');
    fs.symlinkSync(victim, link);

    const refused = isKeystoreError('unsafe', /refusing to follow a symlink: .*device-key/);
    await assert.rejects(ks.set('device-key', Buffer.from('attacker-chosen')), refused);
    await assert.rejects(ks.get('device-key'), refused);
    await assert.rejects(ks.delete('device-key'), refused);
    await assert.rejects(createDeviceKey(ks, { replace: true }), refused);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n', "the symlink's target is unchanged");
    assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the symlink is left for a person to inspect');

    // a dangling symlink must not make the keystore create its target either
    const nowhere = path.join(path.dirname(home), 'created-through-link');
    fs.symlinkSync(nowhere, path.join(home, 'keystore', 'session'));
    await assert.rejects(
      ks.set('session', Buffer.from('x')),
      isKeystoreError('unsafe', /refusing to follow a symlink: .*session/),
    );
    assert.equal(fs.existsSync(nowhere), false);
    assert.deepEqual(
      fs.readdirSync(path.join(home, 'keystore')).sort(),
      ['device-key', 'other', 'session'],
      'no temporary file is left behind',
    );
  },
);

test.skipIf(!POSIX /* POSIX modes */)(
  'a secret path that is a directory, or a secret file others can read, is refused',
  async () => {
    const home = tmpHome();
    const ks = new FileKeystore(home);
    await ks.set('session', Buffer.from('x'));
    fs.mkdirSync(path.join(home, 'keystore', 'device-key'));
    await assert.rejects(
      ks.set('device-key', Buffer.from('x')),
      isKeystoreError('unsafe', /is a directory, not a regular file/),
    );
    fs.chmodSync(path.join(home, 'keystore', 'session'), 0o644);
    await assert.rejects(
      ks.get('session'),
      isKeystoreError('unsafe', /readable or writable by other users \(mode 644\); run chmod 600/),
    );
  },
);

test.skipIf(!POSIX /* symlinks need privileges on Windows */)(
  'a keystore folder that is a symlink is refused',
  async () => {
    const home = tmpHome();
    const elsewhere = path.join(path.dirname(home), 'elsewhere');
    fs.mkdirSync(elsewhere, { mode: 0o700 });
    fs.mkdirSync(home);
    fs.symlinkSync(elsewhere, path.join(home, 'keystore'));
    await assert.rejects(
      new FileKeystore(home).set('session', Buffer.from('x')),
      isKeystoreError('unsafe', /is a symlink, not a folder/),
    );
    assert.deepEqual(fs.readdirSync(elsewhere), []);
  },
);

test('secret names outside ^[a-z0-9][a-z0-9._-]{0,63}$ are refused before anything touches the disk', async () => {
  const home = tmpHome();
  const ks = new FileKeystore(home);
  const bad = [
    '',
    'Device-Key',
    '../device-key',
    '..',
    '.hidden',
    '-dash',
    '_under',
    'a/b',
    'a\\b',
    'a b',
    'clé',
    'a\0b',
    'x'.repeat(65),
  ];
  for (const name of bad) {
    await assert.rejects(
      ks.set(name, Buffer.from('x')),
      isKeystoreError('invalid-name', /invalid secret name/),
      JSON.stringify(name),
    );
    await assert.rejects(ks.get(name), isKeystoreError('invalid-name'), JSON.stringify(name));
    await assert.rejects(ks.delete(name), isKeystoreError('invalid-name'), JSON.stringify(name));
  }
  assert.equal(fs.existsSync(home), false, 'nothing was created');
  for (const name of ['a', '0', 'device-key', 'session.v1', 'x_y', 'x'.repeat(64)]) {
    await ks.set(name, Buffer.from(name));
    assert.deepEqual(await ks.get(name), Buffer.from(name), name);
  }
});

test('delete removes a secret and says whether there was one', async () => {
  const home = tmpHome();
  const ks = new FileKeystore(home);
  await ks.set('session', Buffer.from('token'));
  // what an interrupted write leaves: a temp file holding the secret
  fs.writeFileSync(path.join(home, 'keystore', '.session.0123456789abcdef.tmp'), 'token', { mode: 0o600 });
  assert.equal(await ks.delete('session'), true);
  assert.equal(await ks.get('session'), null);
  assert.equal(await ks.delete('session'), false);
  assert.deepEqual(fs.readdirSync(path.join(home, 'keystore')), [], 'the secret and its leftovers are gone');
});

test('openKeystore picks the file keystore only for PIM_KEYSTORE=file, the OS keychain for unset or os, and refuses anything else', () => {
  const home = tmpHome();
  const file = openKeystore(home, { PIM_KEYSTORE: 'file' });
  assert.equal(file.kind, 'file');
  assert.match(file.description, /file keystore .* NOT encrypted, .*protected only by file permissions/);
  assert.equal(openKeystore(home, {}).kind, 'os-keychain');
  assert.equal(openKeystore(home, { PIM_KEYSTORE: 'os' }).kind, 'os-keychain');
  assert.match(openKeystore(home, {}).description, /^OS keychain/);
  for (const value of ['keychain', 'FILE', 'files', ' file']) {
    assert.throws(
      () => openKeystore(home, { PIM_KEYSTORE: value }),
      isKeystoreError('unavailable', /is not a keystore: use PIM_KEYSTORE=os .* or PIM_KEYSTORE=file/),
      value,
    );
  }
});

test('two agent homes get distinct OS keychain accounts, and the same home always the same one', () => {
  const home = tmpHome();
  fs.mkdirSync(home, { recursive: true });
  const a = openKeystore(home, {}) as import('../../agent/keystore').OsKeychain;
  const again = openKeystore(path.join(home, '..', 'home'), {}) as import('../../agent/keystore').OsKeychain;
  const b = openKeystore(tmpHome(), {}) as import('../../agent/keystore').OsKeychain;
  assert.match(a.account('device-key'), /^device-key@[0-9a-f]{16}$/);
  assert.equal(again.account('device-key'), a.account('device-key'));
  assert.notEqual(b.account('device-key'), a.account('device-key'));
  if (POSIX) {
    const link = path.join(path.dirname(home), 'link-to-home');
    fs.symlinkSync(home, link);
    assert.equal(
      (openKeystore(link, {}) as typeof a).account('device-key'),
      a.account('device-key'),
      'a symlink to the home is the same home',
    );
  }
});

test('a device key created in the file keystore loads back with the same public key and thumbprint', async () => {
  const home = tmpHome();
  const created = await createDeviceKey(openKeystore(home, { PIM_KEYSTORE: 'file' }));
  assert.equal(created.publicJwk.kty, 'OKP');
  assert.equal(created.publicJwk.crv, 'Ed25519');
  assert.match(created.publicJwk.x, /^[A-Za-z0-9_-]{43}$/);
  assert.match(created.thumbprint, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(created.privateKey.asymmetricKeyType, 'ed25519');
  const loaded = await loadDeviceKey(openKeystore(home, { PIM_KEYSTORE: 'file' }));
  assert.ok(loaded);
  assert.equal(loaded.thumbprint, created.thumbprint);
  assert.deepEqual(loaded.publicJwk, created.publicJwk);
  // stored as PKCS#8 DER (48 bytes for Ed25519) under the name device-key
  const der = fs.readFileSync(path.join(home, 'keystore', 'device-key'));
  assert.equal(der.length, 48);
  assert.equal(crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).asymmetricKeyType, 'ed25519');
  assert.equal(await loadDeviceKey(new FileKeystore(tmpHome())), null, 'a home without a key loads none');
});

test('createDeviceKey refuses to overwrite an existing device key unless asked to replace it', async () => {
  const ks = new FileKeystore(tmpHome());
  const first = await createDeviceKey(ks);
  await assert.rejects(
    createDeviceKey(ks),
    isKeystoreError('exists', /already has a device key .*refusing to replace it/),
  );
  await assert.rejects(createDeviceKey(ks, { replace: false }), isKeystoreError('exists'));
  assert.equal((await loadDeviceKey(ks))!.thumbprint, first.thumbprint, 'the refused call changed nothing');
  const second = await createDeviceKey(ks, { replace: true });
  assert.notEqual(second.thumbprint, first.thumbprint);
  assert.equal((await loadDeviceKey(ks))!.thumbprint, second.thumbprint);
});

test.skipIf(!POSIX /* POSIX modes */)('the private key bytes never appear in any error message', async () => {
  const home = tmpHome();
  const ks = new FileKeystore(home);
  const key = await createDeviceKey(ks);
  const file = path.join(home, 'keystore', 'device-key');
  const der = fs.readFileSync(file);
  const d = key.privateKey.export({ format: 'jwk' }).d!;
  const seed = Buffer.from(d, 'base64url');
  const forms = [
    d,
    ...[der, seed].flatMap((b) => [
      b.toString('hex'),
      b.toString('base64'),
      b.toString('base64url'),
      b.toString('latin1'),
    ]),
  ];
  const errors: unknown[] = [];
  const collect = async (p: Promise<unknown>) =>
    errors.push(
      await p.then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      ),
    );

  await collect(createDeviceKey(ks)); // exists
  fs.chmodSync(file, 0o644);
  await collect(loadDeviceKey(ks)); // unsafe mode
  fs.writeFileSync(file, der.subarray(0, 40), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  await collect(loadDeviceKey(ks)); // truncated → corrupt
  fs.writeFileSync(file, crypto.generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' }));
  await collect(loadDeviceKey(ks)); // a private key of another type → corrupt
  fs.writeFileSync(file, Buffer.concat([der, der]));
  await collect(loadDeviceKey(ks)); // trailing bytes → corrupt
  fs.rmSync(file);
  fs.symlinkSync(path.join(home, 'nowhere'), file);
  await collect(ks.set('device-key', der)); // symlink
  await collect(ks.set('device-key', Buffer.concat(Array(20).fill(der)))); // too large

  assert.equal(errors.length, 7);
  const codes = errors.map((e) => (e as KeystoreError).code);
  assert.deepEqual(codes, ['exists', 'unsafe', 'corrupt', 'corrupt', 'corrupt', 'unsafe', 'failed']);
  for (const err of errors) {
    const text = [String(err), (err as Error).stack ?? '', util.inspect(err, { depth: 5 }), JSON.stringify(err)].join(
      '\n',
    );
    for (const form of forms)
      assert.ok(!text.includes(form), `an error message contains the private key: ${(err as Error).message}`);
  }
  assert.ok(
    !util.inspect(key, { depth: 5 }).includes(d) && !JSON.stringify(key).includes(d),
    'printing a DeviceKey does not print its private half',
  );
});
