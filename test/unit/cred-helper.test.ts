// The credential files and the generated `pim-cred` sh script, run for real under /bin/sh (dash on
// Debian): what it prints, when it refuses, and that nothing it relies on can be redirected.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, vi } from 'vitest';
import {
  credHelperScript,
  endCredential,
  installCredHelper,
  kubeExecCredential,
  listCredentials,
  removeCredential,
  writeCredential,
} from '../../agent/credentials/cred-helper';
import { UnsafePathError } from '../../platform/fs-safe';
import { tmpDir } from '../helpers/repo';

const POSIX = process.platform !== 'win32';
const HOUR = 3_600_000;

function credsDir(): string {
  return path.join(tmpDir('pim-creds-'), 'creds');
}

function run(script: string, ...args: string[]) {
  const r = spawnSync('/bin/sh', [script, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

function withUmask<T>(mask: number, f: () => T): T {
  const old = process.umask(mask);
  try {
    return f();
  } finally {
    process.umask(old);
  }
}

const meta = (over: Partial<{ role: string; activationEnd: Date; credentialExpires: Date }> = {}) => ({
  role: 'ops-admin',
  activationEnd: new Date(Date.now() + HOUR),
  credentialExpires: new Date(Date.now() + 10 * 60_000),
  ...over,
});

test.skipIf(!POSIX)('pim-cred prints the stored ExecCredential, exactly and only, on stdout', () => {
  const dir = credsDir();
  const script = installCredHelper(dir);
  const cred = kubeExecCredential(
    'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln',
    new Date('2030-01-01T00:15:00.250Z'),
  );
  writeCredential(dir, 'kube', 'pim-prod-ops-admin', cred, meta());

  const r = run(script, 'kube', 'pim-prod-ops-admin');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(JSON.parse(r.stdout), {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln', expirationTimestamp: '2030-01-01T00:15:00Z' },
  });
  // run as a program too (its own #!/bin/sh), the way kubectl and the AWS CLI start it
  const direct = spawnSync(script, ['kube', 'pim-prod-ops-admin'], { encoding: 'utf8' });
  assert.equal(direct.status, 0, direct.stderr);
  assert.equal(direct.stdout, r.stdout);
});

test.skipIf(!POSIX)('pim-cred serves AWS credential_process output the same way', () => {
  const dir = credsDir();
  const script = installCredHelper(dir);
  const aws = {
    Version: 1,
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    SessionToken: 'token',
    Expiration: '2030-01-01T00:15:00Z',
  };
  writeCredential(dir, 'aws', 'pim-ops-admin', aws, meta());
  const r = run(script, 'aws', 'pim-ops-admin');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), aws);
  // kinds are separate: the same name under kube is not there
  const k = run(script, 'kube', 'pim-ops-admin');
  assert.equal(k.code, 1);
  assert.equal(k.stdout, '');
});

test.skipIf(!POSIX)('after the activation ends pim-cred says the role expired, on stderr only, and exits 1', () => {
  const dir = credsDir();
  const script = installCredHelper(dir);
  const end = new Date(Date.now() - 5_000);
  writeCredential(
    dir,
    'kube',
    'pim-prod-ops-admin',
    kubeExecCredential('tok', new Date(Date.now() + HOUR)),
    meta({ activationEnd: end }),
  );
  const r = run(script, 'kube', 'pim-prod-ops-admin');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    `pim: role ops-admin expired at ${end.toISOString()}; activate it again from PIM Agent (pim activate ops-admin)\n`,
  );
});

test.skipIf(!POSIX)(
  'a credential the agent did not renew in time is not served, and the message points at the agent',
  () => {
    const dir = credsDir();
    const script = installCredHelper(dir);
    writeCredential(
      dir,
      'kube',
      'pim-prod-ops-admin',
      kubeExecCredential('tok', new Date()),
      meta({ credentialExpires: new Date(Date.now() - 1_000) }),
    );
    const r = run(script, 'kube', 'pim-prod-ops-admin');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'pim: the credential for role ops-admin was not renewed in time; is PIM Agent running? (start it, or run `pim agent`)\n',
    );
  },
);

test.skipIf(!POSIX)(
  'after endCredential pim-cred prints the tombstone message (one line, control characters stripped)',
  () => {
    const dir = credsDir();
    const script = installCredHelper(dir);
    writeCredential(dir, 'kube', 'pim-prod-ops-admin', kubeExecCredential('tok', new Date(Date.now() + HOUR)), meta());
    endCredential(
      dir,
      'kube',
      'pim-prod-ops-admin',
      'pim: role ops-admin was deactivated\nby alice\u001b[31m at 10:02; activate it again from PIM Agent (pim activate ops-admin)\r\n',
    );
    const r = run(script, 'kube', 'pim-prod-ops-admin');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'pim: role ops-admin was deactivated by alice [31m at 10:02; activate it again from PIM Agent (pim activate ops-admin)\n',
    );
    const kube = path.join(dir, 'kube');
    assert.deepEqual(fs.readdirSync(kube).sort(), ['pim-prod-ops-admin.ended'], 'the credential itself is gone');
    assert.equal(mode(path.join(kube, 'pim-prod-ops-admin.ended')), 0o600);

    // activating again replaces the tombstone
    writeCredential(dir, 'kube', 'pim-prod-ops-admin', kubeExecCredential('tok2', new Date(Date.now() + HOUR)), meta());
    assert.equal(fs.existsSync(path.join(kube, 'pim-prod-ops-admin.ended')), false);
    const again = run(script, 'kube', 'pim-prod-ops-admin');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { status: { token: string } }).status.token, 'tok2');
  },
);

test.skipIf(!POSIX)('a name with no credential at all gets the "no active role" message', () => {
  const dir = credsDir();
  const script = installCredHelper(dir);
  const r = run(script, 'kube', 'pim-staging-dev');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'pim: no active role provides pim-staging-dev; activate one from PIM Agent (pim activate ROLE)\n',
  );
});

test.skipIf(!POSIX)(
  'pim-cred refuses an unknown kind or a name that could leave its folder, before reading anything',
  () => {
    const dir = credsDir();
    const script = installCredHelper(dir);
    writeCredential(dir, 'kube', 'pim-a', { secret: 1 }, meta());
    fs.writeFileSync(path.join(dir, 'outside.json'), '{"leak":true}');
    for (const [kind, name] of [
      ['ssh', 'pim-a'],
      ['', 'pim-a'],
      ['kube', '../outside'],
      ['kube', 'pim-a/../../outside'],
      ['kube', 'PIM-A'],
      ['kube', ''],
      ['kube', '-n'],
      ['kube', 'pim a'],
      ['kube', 'pim-a\n'],
    ]) {
      const r = run(script, kind!, name!);
      assert.equal(r.code, 2, `${kind} ${JSON.stringify(name)}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^pim-cred: (unknown credential kind|invalid credential name)/);
    }
    const none = spawnSync('/bin/sh', [script], { encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.equal(none.stdout, '');
  },
);

test.skipIf(!POSIX)('a damaged meta line is reported, and nothing is printed on stdout', () => {
  const dir = credsDir();
  const script = installCredHelper(dir);
  writeCredential(dir, 'kube', 'pim-a', { secret: 1 }, meta());
  fs.writeFileSync(path.join(dir, 'kube', 'pim-a.meta'), 'soon later ops-admin x\n');
  const r = run(script, 'kube', 'pim-a');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^pim: the credential record for pim-a is damaged/);
});

test.skipIf(!POSIX)(
  'files are 0600 and folders 0700 under umask 022; the script is 0700 and rewritten only when it differs',
  () => {
    const dir = credsDir();
    withUmask(0o022, () => {
      const script = installCredHelper(dir);
      assert.equal(script, path.join(dir, 'bin', 'pim-cred'));
      assert.ok(path.isAbsolute(script));
      writeCredential(dir, 'kube', 'pim-a', { a: 1 }, meta());
      writeCredential(dir, 'aws', 'pim-b', { b: 1 }, meta());
      endCredential(dir, 'aws', 'pim-c', 'ended');
      for (const d of [dir, path.join(dir, 'bin'), path.join(dir, 'kube'), path.join(dir, 'aws')])
        assert.equal(mode(d), 0o700, d);
      assert.equal(mode(script), 0o700);
      for (const f of ['kube/pim-a.json', 'kube/pim-a.meta', 'aws/pim-b.json', 'aws/pim-b.meta', 'aws/pim-c.ended'])
        assert.equal(mode(path.join(dir, f)), 0o600, f);
      assert.equal(fs.readFileSync(path.join(dir, 'kube', 'pim-a.meta'), 'utf8').split(' ').length, 4);

      const ino = fs.statSync(script).ino;
      assert.equal(installCredHelper(dir), script);
      assert.equal(fs.statSync(script).ino, ino, 'same content: the file is left as it is');
      fs.appendFileSync(script, 'echo tampered\n');
      installCredHelper(dir);
      assert.equal(fs.readFileSync(script, 'utf8'), credHelperScript(dir), 'different content: rewritten');
      fs.chmodSync(script, 0o755);
      installCredHelper(dir);
      assert.equal(mode(script), 0o700, 'loosened mode: rewritten');
    });
  },
);

test.skipIf(!POSIX)('a folder the user created loosely is tightened to 0700', () => {
  const dir = credsDir();
  fs.mkdirSync(path.join(dir, 'kube'), { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'kube'), 0o755);
  writeCredential(dir, 'kube', 'pim-a', { a: 1 }, meta());
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(path.join(dir, 'kube')), 0o700);
});

test.skipIf(!POSIX)('the creds path is embedded single-quoted: spaces work, quote characters are refused', () => {
  const base = tmpDir('pim-creds-');
  const spaced = path.join(base, 'my creds (work)');
  const script = installCredHelper(spaced);
  writeCredential(spaced, 'kube', 'pim-a', { ok: true }, meta());
  const r = run(script, 'kube', 'pim-a');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true });
  for (const bad of [
    path.join(base, "it's"),
    path.join(base, 'a"b'),
    path.join(base, 'a$b'),
    path.join(base, 'a`b'),
    path.join(base, 'a\nb'),
    path.join(base, 'a\\b'),
  ]) {
    assert.throws(() => installCredHelper(bad), UnsafePathError, bad);
    assert.throws(() => credHelperScript(bad), UnsafePathError, bad);
    assert.throws(() => writeCredential(bad, 'kube', 'pim-a', {}, meta()), UnsafePathError, bad);
    assert.equal(fs.existsSync(bad), false, 'nothing was created');
  }
});

test('names, kinds and roles are checked before anything is written', () => {
  const dir = credsDir();
  for (const name of ['pim-a\nb', '../x', 'Pim-a', '', 'a/b', 'pim-\u0000', '-a', 'x'.repeat(300)]) {
    assert.throws(() => writeCredential(dir, 'kube', name, {}, meta()), UnsafePathError, JSON.stringify(name));
    assert.throws(() => endCredential(dir, 'kube', name, 'x'), UnsafePathError, JSON.stringify(name));
    assert.throws(() => removeCredential(dir, 'kube', name), UnsafePathError, JSON.stringify(name));
  }
  assert.throws(() => writeCredential(dir, 'kube', 'pim-a', {}, meta({ role: 'ops admin\n' })), UnsafePathError);
  assert.throws(() => writeCredential(dir, 'ssh' as 'kube', 'pim-a', {}, meta()), UnsafePathError);
  assert.throws(
    () => writeCredential(dir, 'kube', 'pim-a', {}, meta({ activationEnd: new Date(Number.NaN) })),
    RangeError,
  );
  assert.equal(fs.existsSync(dir), false, 'no folder was created for a refused call');
});

test.skipIf(!POSIX)('a symlink planted at a credential path is replaced, never written through', () => {
  const dir = credsDir();
  const victim = path.join(path.dirname(dir), 'victim.txt');
  fs.writeFileSync(victim, 'precious\n');
  fs.mkdirSync(path.join(dir, 'kube'), { recursive: true, mode: 0o700 });
  for (const ext of ['json', 'meta', 'ended']) fs.symlinkSync(victim, path.join(dir, 'kube', `pim-a.${ext}`));
  writeCredential(dir, 'kube', 'pim-a', { fresh: true }, meta());
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
  for (const ext of ['json', 'meta']) assert.ok(fs.lstatSync(path.join(dir, 'kube', `pim-a.${ext}`)).isFile(), ext);
  assert.equal(
    fs.existsSync(path.join(dir, 'kube', 'pim-a.ended')),
    false,
    'the planted tombstone link was removed (the link, not its target)',
  );

  fs.symlinkSync(victim, path.join(dir, 'kube', 'pim-b.ended'));
  endCredential(dir, 'kube', 'pim-b', 'over');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(fs.readFileSync(path.join(dir, 'kube', 'pim-b.ended'), 'utf8'), 'over\n');

  // the script: a link planted at bin/pim-cred is replaced, not followed
  fs.mkdirSync(path.join(dir, 'bin'), { mode: 0o700 });
  fs.symlinkSync(victim, path.join(dir, 'bin', 'pim-cred'));
  const script = installCredHelper(dir);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
  assert.ok(fs.lstatSync(script).isFile());
});

test.skipIf(!POSIX)('a symlink planted at the temporary file name is not followed: the write fails instead', () => {
  const dir = credsDir();
  const victim = path.join(path.dirname(dir), 'victim.txt');
  fs.writeFileSync(victim, 'precious\n');
  fs.mkdirSync(path.join(dir, 'kube'), { recursive: true, mode: 0o700 });
  // make the "random" temp name predictable, and plant a link there
  const fixed = Buffer.from('0123456789ab', 'hex');
  const tmpName = path.join(dir, 'kube', `.pim-a.json.${fixed.toString('hex')}.tmp`);
  fs.symlinkSync(victim, tmpName);
  const m = vi.spyOn(crypto, 'randomBytes').mockImplementation(() => Buffer.from(fixed));
  try {
    assert.throws(
      () => writeCredential(dir, 'kube', 'pim-a', { fresh: true }, meta()),
      (e: NodeJS.ErrnoException) => e.code === 'EEXIST',
    );
  } finally {
    m.mockRestore();
  }
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
  assert.equal(fs.existsSync(path.join(dir, 'kube', 'pim-a.json')), false);
});

test('listCredentials reports each name with its deadlines and role, or as ended', () => {
  const dir = credsDir();
  assert.deepEqual(listCredentials(dir, 'kube'), [], 'no folder yet: nothing');
  const end = new Date('2030-01-01T10:00:00.900Z');
  const exp = new Date('2030-01-01T09:15:00Z');
  writeCredential(dir, 'kube', 'pim-b', {}, { role: 'dev', activationEnd: end, credentialExpires: exp });
  writeCredential(dir, 'kube', 'pim-a', {}, { role: 'ops-admin', activationEnd: end, credentialExpires: exp });
  endCredential(dir, 'kube', 'pim-c', 'gone');
  writeCredential(dir, 'aws', 'pim-z', {}, { role: 'ops-admin', activationEnd: end, credentialExpires: exp });
  fs.writeFileSync(path.join(dir, 'kube', 'notes.txt'), 'not ours');
  assert.deepEqual(listCredentials(dir, 'kube'), [
    {
      name: 'pim-a',
      activationEnd: new Date('2030-01-01T10:00:00Z'),
      credentialExpires: exp,
      role: 'ops-admin',
      ended: false,
    },
    {
      name: 'pim-b',
      activationEnd: new Date('2030-01-01T10:00:00Z'),
      credentialExpires: exp,
      role: 'dev',
      ended: false,
    },
    { name: 'pim-c', activationEnd: null, credentialExpires: null, role: null, ended: true },
  ]);
  removeCredential(dir, 'kube', 'pim-a');
  removeCredential(dir, 'kube', 'pim-c');
  removeCredential(dir, 'kube', 'pim-never');
  assert.deepEqual(
    listCredentials(dir, 'kube').map((c) => c.name),
    ['pim-b'],
  );
  assert.deepEqual(
    listCredentials(dir, 'aws').map((c) => c.name),
    ['pim-z'],
  );
});

test('kubeExecCredential is what a client.authentication.k8s.io/v1 exec plugin returns', () => {
  assert.deepEqual(kubeExecCredential('abc.def.ghi', new Date('2030-05-06T07:08:09.999Z')), {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: 'abc.def.ghi', expirationTimestamp: '2030-05-06T07:08:09Z' },
  });
  assert.throws(() => kubeExecCredential('', new Date()), TypeError);
  assert.throws(() => kubeExecCredential('a b', new Date()), TypeError);
  assert.throws(() => kubeExecCredential('abc', new Date('nope')), RangeError);
});
