// AWS end to end with real programs: STS AssumeRoleWithWebIdentity against moto_server, then the
// real `aws` CLI using the profile we wrote, through credential_process. Plus the config file on
// disk: modes, symlinks, and many writers at once.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'vitest';
import { after } from '../helpers/cleanup';
import {
  addAwsProfile,
  credentialProcessCommand,
  listPimProfiles,
  removeAwsProfiles,
  updateAwsConfig,
} from '../../agent/credentials/aws-config';
import { UnsafePathError } from '../../platform/fs-safe';
import { assumeRoleWithWebIdentity, credentialProcessJson } from '../../agent/credentials/sts';
import { startMoto } from '../helpers/moto';
import { requireProgram } from '../helpers/system';

const POSIX = process.platform !== 'win32';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/ml-admin';
// moto checks no token; a real-looking JWT all the same
const TOKEN = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL3BpbS5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.c2ln';
const USER_CONFIG =
  '# my own settings\n[default]\nregion = us-east-1\noutput = text\n\n[profile dev]\nregion = eu-central-1'; // no final newline

function tmpDir(prefix = 'pim-aws-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function modeOf(p: string): number {
  return fs.lstatSync(p).mode & 0o777;
}

function withUmask<T>(mask: number, f: () => T): T {
  const old = process.umask(mask);
  try {
    return f();
  } finally {
    process.umask(old);
  }
}

/** The environment a user's shell would give `aws`, minus every AWS_* variable, plus ours. */
function awsEnv(home: string, config: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return { ...env, HOME: home, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none') };
}

/** A stand-in for the pim-cred helper, in a folder with spaces like macOS's "Application Support". */
function writeStandIn(home: string, body: string): string {
  const dir = path.join(home, 'Library', 'Application Support', 'PIM Agent', 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'pim-cred');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o700 });
  return file;
}

function writeProfile(config: string, helper: string, role: string): void {
  const name = `pim-${role}`;
  updateAwsConfig(config, (text) =>
    addAwsProfile(text, { name, role, credentialProcess: credentialProcessCommand(helper, name), region: 'us-east-1' }),
  );
}

describe.skipIf(!POSIX /* the stand-in helper is a POSIX sh script */)('STS and the aws CLI, for real', () => {
  const assume = (url: string) =>
    assumeRoleWithWebIdentity({
      endpoint: url,
      roleArn: ROLE_ARN,
      sessionName: 'alice-act1',
      webIdentityToken: TOKEN,
      durationSeconds: 3600,
    });

  test('moto_server: AssumeRoleWithWebIdentity gives credentials for the assumed role and session', async (t) => {
    const m = await startMoto(t);
    if (!m) return;
    const creds = await assume(m.url);
    assert.equal(creds.assumedRoleArn, 'arn:aws:sts::123456789012:assumed-role/ml-admin/alice-act1');
    assert.match(creds.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
    assert.ok(creds.secretAccessKey.length >= 40);
    assert.ok(creds.sessionToken.length > 100);
    assert.ok(Number.isFinite(creds.expiration.getTime()));
  });

  test('aws sts get-caller-identity --profile pim-ml-admin runs our credential_process and is the assumed role', async (t) => {
    const m = await startMoto(t);
    if (!m) return;
    const aws = requireProgram(t, 'aws', 'the profile is checked with the real aws CLI');
    if (!aws) return;
    const creds = await assume(m.url);
    const home = tmpDir();
    const config = path.join(home, 'aws config dir', 'config');
    fs.mkdirSync(path.dirname(config));
    fs.writeFileSync(config, USER_CONFIG);
    const json = JSON.stringify(credentialProcessJson(creds, new Date(Date.now() + 3_600_000)));
    const helper = writeStandIn(home, `cat <<'EOF'\n${json}\nEOF`);
    writeProfile(config, helper, 'ml-admin');

    const r = spawnSync(
      aws,
      ['sts', 'get-caller-identity', '--profile', 'pim-ml-admin', '--endpoint-url', m.url, '--output', 'json'],
      { env: awsEnv(home, config), encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, `aws failed:\n${r.stderr}`);
    assert.equal(
      (JSON.parse(r.stdout) as { Arn: string }).Arn,
      'arn:aws:sts::123456789012:assumed-role/ml-admin/alice-act1',
    );

    // and the user's file comes back byte for byte once our profile goes
    updateAwsConfig(config, (text) => removeAwsProfiles(text!, () => true));
    assert.equal(fs.readFileSync(config, 'utf8'), USER_CONFIG);
  });

  test('a helper that fails (expired role): the aws CLI fails and shows its message', async (t) => {
    const m = await startMoto(t);
    if (!m) return;
    const aws = requireProgram(t, 'aws', 'the profile is checked with the real aws CLI');
    if (!aws) return;
    const home = tmpDir();
    const config = path.join(home, '.aws', 'config');
    const message = 'PIM Agent: role ml-admin has expired - activate it again from PIM Agent';
    const helper = writeStandIn(home, `echo '${message}' >&2\nexit 1`);
    writeProfile(config, helper, 'ml-admin');

    const r = spawnSync(aws, ['sts', 'get-caller-identity', '--profile', 'pim-ml-admin', '--endpoint-url', m.url], {
      env: awsEnv(home, config),
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(message), `aws did not show the helper's message:\n${r.stderr}`);
    assert.equal(r.stdout.includes('assumed-role'), false);
  });
});

describe('the AWS config file on disk', () => {
  const p = (role: string) => ({
    name: `pim-${role}`,
    role,
    credentialProcess: `/opt/pim/pim-cred aws pim-${role}`,
    region: 'eu-west-1',
  });
  const add = (file: string, role: string) => updateAwsConfig(file, (text) => addAwsProfile(text, p(role)));
  const removeAll = (file: string) =>
    updateAwsConfig(file, (text) => (text === null ? null : removeAwsProfiles(text, () => true)));

  test.skipIf(!POSIX /* POSIX modes */)('under umask 022 a new ~/.aws is 0700 and a new config 0600', () => {
    const home = tmpDir();
    const file = path.join(home, '.aws', 'config');
    withUmask(0o022, () => add(file, 'x'));
    assert.equal(modeOf(path.dirname(file)), 0o700);
    assert.equal(modeOf(file), 0o600);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['config'], 'no lock or temp file left');
  });

  test.skipIf(!POSIX /* POSIX modes */)(
    "an existing file keeps its mode and an existing folder its own, and the user's bytes come back exactly",
    () => {
      const home = tmpDir();
      const dir = path.join(home, '.aws');
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.chmodSync(dir, 0o755);
      const file = path.join(dir, 'config');
      const original = '[default]\r\nregion = us-east-1\r\n[profile dev]\r\nregion = eu-west-2';
      fs.writeFileSync(file, original);
      fs.chmodSync(file, 0o644);
      assert.deepEqual(
        withUmask(0o022, () => add(file, 'x')),
        { changed: true, removed: false },
      );
      assert.equal(modeOf(file), 0o644);
      assert.equal(modeOf(dir), 0o755);
      assert.deepEqual(removeAll(file), { changed: true, removed: false });
      assert.equal(fs.readFileSync(file, 'latin1'), original);
      assert.equal(modeOf(file), 0o644);
    },
  );

  test('a config file we created is deleted when our last profile goes; a file the user had stays, even an empty one', () => {
    const home = tmpDir();
    const ours = path.join(home, 'a', 'config');
    add(ours, 'x');
    add(ours, 'y');
    assert.deepEqual(removeAll(ours), { changed: true, removed: true });
    assert.equal(fs.existsSync(ours), false);

    const users = path.join(home, 'b', 'config');
    fs.mkdirSync(path.dirname(users));
    fs.writeFileSync(users, '');
    add(users, 'x');
    assert.deepEqual(removeAll(users), { changed: true, removed: false });
    assert.equal(fs.readFileSync(users, 'utf8'), '');
  });

  test('nothing to change: the file is not rewritten', () => {
    const home = tmpDir();
    const file = path.join(home, 'config');
    fs.writeFileSync(file, '[default]\n');
    const before = fs.statSync(file).ino;
    assert.deepEqual(removeAll(file), { changed: false, removed: false });
    assert.equal(fs.statSync(file).ino, before);
  });

  test.skipIf(!POSIX /* symlinks */)('a symlink at the config path is refused and its target left untouched', () => {
    const home = tmpDir();
    const target = path.join(home, 'dotfiles-aws-config');
    fs.writeFileSync(target, '[default]\nregion = us-east-1\n');
    fs.mkdirSync(path.join(home, '.aws'));
    const link = path.join(home, '.aws', 'config');
    fs.symlinkSync(target, link);
    assert.throws(
      () => add(link, 'x'),
      (e: unknown) => e instanceof UnsafePathError && /symbolic link/.test(e.message),
    );
    assert.equal(fs.readFileSync(target, 'utf8'), '[default]\nregion = us-east-1\n');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(path.join(home, '.aws')), ['config'], 'no lock or temp file left');
  });

  test('a file that is not UTF-8 is refused, not rewritten', () => {
    const home = tmpDir();
    const file = path.join(home, 'config');
    const latin1 = Buffer.from('# Zugangsdaten f\xfcr Jos\xe9\n[default]\n', 'latin1');
    fs.writeFileSync(file, latin1);
    assert.throws(() => add(file, 'x'), /not UTF-8/);
    assert.deepEqual(fs.readFileSync(file), latin1);
  });

  test('20 processes adding and removing their own profiles at once leave exactly the expected blocks', async () => {
    const home = tmpDir();
    const file = path.join(home, '.aws', 'config');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, USER_CONFIG);
    const worker = path.join(__dirname, '..', 'helpers', 'aws-config-worker.ts');
    const roles = Array.from({ length: 20 }, (_, i) => `r${i}`);
    const keep = (i: number) => i % 2 === 0;
    const results = await Promise.all(
      roles.map(
        (role, i) =>
          new Promise<{ role: string; code: number | null; stderr: string }>((resolve) => {
            const child = spawn(
              process.execPath,
              ['--import', 'tsx', worker, file, role, keep(i) ? 'keep' : 'drop', '5'],
              { stdio: ['ignore', 'ignore', 'pipe'] },
            );
            let stderr = '';
            child.stderr.on('data', (d) => (stderr += d));
            child.on('exit', (code) => resolve({ role, code, stderr }));
          }),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, `worker ${r.role} failed:\n${r.stderr}`);

    const text = fs.readFileSync(file, 'utf8');
    const expected = roles.filter((_, i) => keep(i)).map((r) => `pim-${r}`);
    assert.deepEqual([...listPimProfiles(text)].sort(), [...expected].sort());
    assert.equal(
      text.match(/^\[profile pim-/gm)!.length,
      expected.length,
      'one section per kept profile, no duplicates',
    );
    assert.equal(
      removeAwsProfiles(text, () => true),
      USER_CONFIG,
      "the user's part is intact",
    );
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['config'], 'no lock or temp file left');
  });
});
