// The control plane's credential issuers on their own (docs/architecture.md, Decisions: Kube credentials…, SSH): the
// ES256 token keys behind /.well-known/jwks.json and their rotation, the Ed25519 SSH CA (certificates read back by the
// real `ssh-keygen -L`), and the small rules that shape what is issued.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import sshpk from 'sshpk';
import {
  awsSessionName,
  kubeTokenTtl,
  mintCredentials,
  openidConfiguration,
  signToken,
} from '../../server/credentials/issue';
import { IssuerKeys, issuerKeysDir, RETIRE_AFTER_MS } from '../../server/credentials/issuer-keys';
import { SshCa, SshCaError, sshCaPath } from '../../server/credentials/ssh-ca';
import type { CompiledRole } from '../../shared/policy/types';
import { sshFingerprint, sshKeygenList } from '../helpers/control-plane';
import { tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

const ISSUER = 'https://pim.acme.example';
const T0 = Date.parse('2026-03-02T09:00:00.000Z');

function clockAt(ms: number) {
  const c = { now: ms, clock: () => new Date(c.now) };
  return c;
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;

async function token(keys: IssuerKeys, at: number, aud = 'gpu-train') {
  const iat = Math.floor(at / 1000);
  return signToken(keys, { iss: ISSUER, sub: 'alice@acme.example', aud, iat, exp: iat + 900, extra: {} });
}

test('the first token key is made on first use: ES256, kid = RFC 7638 thumbprint, private half 0600 in a 0700 folder', async () => {
  const dir = tmpDir();
  const keys = new IssuerKeys(dir);
  assert.equal(fs.existsSync(issuerKeysDir(dir)), false, 'nothing exists before first use');
  const { keys: published } = await keys.jwks();
  assert.equal(published.length, 1);
  const jwk = published[0]!;
  assert.deepEqual(
    Object.keys(jwk).sort(),
    ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
    'public members only: no "d"',
  );
  assert.equal(jwk.alg, 'ES256');
  assert.equal(jwk.crv, 'P-256');
  assert.equal(jwk.kid, await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }));
  assert.equal(mode(issuerKeysDir(dir)), 0o700);
  assert.equal(mode(path.join(dir, 'keys')), 0o700);
  const file = path.join(issuerKeysDir(dir), `${jwk.kid}.json`);
  assert.equal(mode(file), 0o600);
  assert.ok(
    (JSON.parse(fs.readFileSync(file, 'utf8')) as { privateJwk: { d?: string } }).privateJwk.d,
    'the file holds the private key',
  );
  // a second instance (another process) finds it instead of making its own
  assert.deepEqual((await new IssuerKeys(dir).jwks()).keys, published);
});

test('a token signed before a rotation verifies after it, until the old key retires an hour later', async () => {
  const dir = tmpDir();
  const c = clockAt(T0);
  const keys = new IssuerKeys(dir, c.clock);
  const before = await token(keys, c.now);
  const oldKid = decodeProtectedHeader(before).kid!;

  c.now += 60_000;
  const rotated = await keys.rotate();
  assert.notEqual(rotated.kid, oldKid);
  assert.deepEqual(rotated.retiring, [{ kid: oldKid, retiresAt: new Date(c.now + RETIRE_AFTER_MS).toISOString() }]);
  const after = await token(keys, c.now);
  assert.equal(decodeProtectedHeader(after).kid, rotated.kid, 'the new key signs');

  const jwksNow = createLocalJWKSet(await keys.jwks());
  assert.deepEqual(
    (await keys.jwks()).keys.map((k) => k.kid),
    [rotated.kid, oldKid],
  );
  await jwtVerify(before, jwksNow, { issuer: ISSUER, audience: 'gpu-train', currentDate: new Date(T0 + 60_000) });
  await jwtVerify(after, jwksNow, { issuer: ISSUER, audience: 'gpu-train', currentDate: new Date(c.now) });

  c.now += RETIRE_AFTER_MS - 1000; // a second before retirement: still published
  assert.equal((await keys.jwks()).keys.length, 2);
  c.now += 1000; // retired: left out of the JWKS, so its tokens no longer verify
  const jwksLater = createLocalJWKSet(await keys.jwks());
  assert.deepEqual(
    (await keys.jwks()).keys.map((k) => k.kid),
    [rotated.kid],
  );
  await assert.rejects(
    jwtVerify(before, jwksLater, { currentDate: new Date(T0 + 60_000) }),
    (e: Error & { code?: string }) => e.code === 'ERR_JWKS_NO_MATCHING_KEY',
  );
  await jwtVerify(after, jwksLater, { currentDate: new Date(T0 + 120_000) });
});

test('a rotation done by another process is picked up by a running issuer on its next use', async () => {
  const dir = tmpDir();
  const c = clockAt(T0);
  const serving = new IssuerKeys(dir, c.clock);
  const first = decodeProtectedHeader(await token(serving, c.now)).kid;
  c.now += 1000;
  const { kid } = await new IssuerKeys(dir, c.clock).rotate(); // `pim-server rotate-issuer-key`
  assert.equal(decodeProtectedHeader(await token(serving, c.now)).kid, kid);
  assert.deepEqual(
    (await serving.jwks()).keys.map((k) => k.kid),
    [kid, first],
  );
});

test('rotating deletes keys past retirement; the newest key signs even when the clock went back', async () => {
  const dir = tmpDir();
  const c = clockAt(T0);
  const keys = new IssuerKeys(dir, c.clock);
  await keys.ensure();
  const a = keys.list()[0]!.kid;
  const b = (await keys.rotate()).kid;
  c.now += RETIRE_AFTER_MS + 1;
  const r = await keys.rotate();
  assert.deepEqual(r.deleted, [a], 'a retired at rotation b + 1 h');
  assert.equal(fs.existsSync(path.join(issuerKeysDir(dir), `${a}.json`)), false);
  assert.deepEqual(
    keys.list().map((k) => [k.kid, k.signing]),
    [
      [r.kid, true],
      [b, false],
    ],
  );
  c.now = T0 - 3600_000;
  const d = (await keys.rotate()).kid;
  assert.equal(decodeProtectedHeader(await token(keys, c.now)).kid, d);
});

test('kube token lifetime: 15 minutes, shorter through PIM_KUBE_TOKEN_TTL, never longer', () => {
  assert.equal(kubeTokenTtl({}), 900);
  assert.equal(kubeTokenTtl({ PIM_KUBE_TOKEN_TTL: '60' }), 60);
  assert.equal(kubeTokenTtl({ PIM_KUBE_TOKEN_TTL: '86400' }), 900);
  for (const junk of ['0', '-5', '1.5', 'soon', ' '])
    assert.equal(kubeTokenTtl({ PIM_KUBE_TOKEN_TTL: junk }), 900, junk);
});

test('the STS session name names the person and the role, within what STS accepts', () => {
  assert.equal(awsSessionName('alice@acme.example', 'ai-cluster-admin'), 'pim-alice-ai-cluster-admin');
  assert.equal(awsSessionName("o'brien+ops@acme.example", 'db'), 'pim-o-brien+ops-db');
  const long = awsSessionName(`${'x'.repeat(80)}@acme.example`, 'role');
  assert.equal(long.length, 64);
  assert.match(long, /^[\w+=,.@-]{2,64}$/);
});

test('the discovery document points at the JWKS and advertises ES256 id tokens', () => {
  assert.deepEqual(openidConfiguration(ISSUER), {
    issuer: ISSUER,
    jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: ['ES256'],
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'nbf',
      'jti',
      'email',
      'email_verified',
      'groups',
      'pim_role',
      'pim_activation',
    ],
  });
});

const ROLE: CompiledRole = {
  name: 'ai-cluster-admin',
  description: '',
  eligible: { groups: ['ml'], until: null },
  activation: {
    maxDuration: 7200,
    defaultDuration: 3600,
    userVerification: 'required',
    justification: 'required',
    ticket: { required: false, pattern: null },
    approval: null,
    windows: [],
    maxActive: null,
  },
  grants: {
    kubernetes: [{ cluster: 'gpu-train', groups: ['pim:ai-cluster-admin', 'viewers'] }],
    aws: [
      { roleArn: 'arn:aws:iam::123456789012:role/ml-admin' },
      {
        roleArn: 'arn:aws:iam::123456789012:role/other',
        audience: 'pim-test',
        stsEndpoint: 'http://127.0.0.1:5000',
        region: 'eu-west-1',
      },
    ],
    ssh: [
      { principals: ['ops'], hosts: ['*.gpu.acme.internal'] },
      {
        principals: ['ops', 'debug'],
        hosts: ['bastion.acme.internal'],
        extensions: ['permit-port-forwarding', 'permit-pty'],
      },
    ],
  },
};

test('minted tokens carry the claims kube and STS read, and nothing outlives the activation', async () => {
  const dir = tmpDir();
  const keys = new IssuerKeys(dir);
  const now = new Date(T0);
  const base = {
    issuer: ISSUER,
    now,
    role: ROLE,
    clusters: [{ name: 'gpu-train', server: 'https://k8s.gpu.acme.internal:6443', certificateAuthorityData: 'Q0E=' }],
    keys,
    ca: new SshCa(dir),
    kubeTtl: 900,
  };
  const activation = {
    id: 'act1',
    user: 'alice@acme.example',
    role: ROLE.name,
    startsAt: now,
    expiresAt: new Date(T0 + 3600_000),
    sshPublicKey: null,
  };
  const long = await mintCredentials({ ...base, activation });
  const jwks = createLocalJWKSet(await keys.jwks());
  const k = long.kube[0]!;
  assert.equal(k.server, 'https://k8s.gpu.acme.internal:6443');
  assert.equal(k.certificateAuthorityData, 'Q0E=');
  const { payload } = await jwtVerify(k.token, jwks, { issuer: ISSUER, audience: 'gpu-train', currentDate: now });
  const iat = T0 / 1000;
  assert.deepEqual(
    { ...payload, jti: typeof payload.jti },
    {
      iss: ISSUER,
      sub: 'alice@acme.example',
      aud: 'gpu-train',
      email: 'alice@acme.example',
      email_verified: true,
      groups: ['pim:ai-cluster-admin', 'viewers'],
      iat,
      nbf: iat - 30,
      exp: iat + 900,
      jti: 'string',
      pim_role: 'ai-cluster-admin',
      pim_activation: 'act1',
    },
  );
  assert.equal(k.expiresAt, new Date((iat + 900) * 1000).toISOString());
  const [sts, custom] = long.aws;
  assert.equal(decodeJwt(sts!.webIdentityToken).aud, 'sts.amazonaws.com');
  assert.equal(decodeJwt(sts!.webIdentityToken).exp, iat + 300);
  assert.deepEqual([sts!.stsEndpoint, sts!.region], [null, null]);
  assert.equal(decodeJwt(custom!.webIdentityToken).aud, 'pim-test');
  assert.deepEqual(
    [custom!.roleArn, custom!.stsEndpoint, custom!.region, custom!.sessionName],
    ['arn:aws:iam::123456789012:role/other', 'http://127.0.0.1:5000', 'eu-west-1', 'pim-alice-ai-cluster-admin'],
  );
  assert.deepEqual(long.ssh, [], 'no SSH key in the request: no certificate');

  // 2 minutes left: every token ends with the activation
  const short = await mintCredentials({ ...base, activation: { ...activation, expiresAt: new Date(T0 + 120_000) } });
  assert.equal(decodeJwt(short.kube[0]!.token).exp, iat + 120);
  assert.equal(decodeJwt(short.aws[0]!.webIdentityToken).exp, iat + 120);
  assert.equal(short.activationExpiresAt, new Date(T0 + 120_000).toISOString());
});

test('the SSH CA is an Ed25519 key kept 0600 in the OpenSSH private key format, made once', () => {
  const dir = tmpDir();
  const ca = new SshCa(dir);
  const line = ca.publicKeyLine();
  assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+ pim-ssh-ca$/);
  assert.equal(mode(sshCaPath(dir)), 0o600);
  assert.match(fs.readFileSync(sshCaPath(dir), 'utf8'), /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  assert.equal(new SshCa(dir).publicKeyLine(), line, 'another instance uses the same CA');
});

test('a user certificate as ssh-keygen reads it: principals, window, permit-pty plus the grant extensions, signed by the CA', (t) => {
  const sshKeygen = requireProgram(t, 'ssh-keygen', 'SSH certificates are checked by OpenSSH itself');
  if (!sshKeygen) return;
  const dir = tmpDir();
  const ca = new SshCa(dir);
  const user = sshpk.generatePrivateKey('ed25519').toPublic().toString('ssh');
  const cert = ca.signUserCert({
    publicKey: user,
    keyId: 'pim:alice@acme.example:ai-cluster-admin:act1',
    principals: ['ops', 'debug'],
    validAfter: new Date('2026-03-02T08:59:00.400Z'),
    validBefore: new Date('2026-03-02T10:00:00.900Z'),
    extensions: ['permit-pty', 'permit-port-forwarding', 'permit-pty'],
    comment: 'pim:alice@acme.example:ai-cluster-admin',
  });
  assert.match(
    cert.line,
    /^ssh-ed25519-cert-v01@openssh\.com AAAA[A-Za-z0-9+/=]+ pim:alice@acme\.example:ai-cluster-admin$/,
  );
  fs.writeFileSync(path.join(dir, 'ca.pub'), `${ca.publicKeyLine()}\n`);
  fs.writeFileSync(path.join(dir, 'user.pub'), `${user}\n`);
  fs.writeFileSync(path.join(dir, 'user-cert.pub'), `${cert.line}\n`);
  const l = sshKeygenList(sshKeygen, path.join(dir, 'user-cert.pub'));
  assert.equal(l.type, 'ssh-ed25519-cert-v01@openssh.com user certificate');
  assert.equal(l.keyId, '"pim:alice@acme.example:ai-cluster-admin:act1"');
  assert.equal(l.serial, cert.serial);
  assert.deepEqual(l.principals, ['ops', 'debug']);
  assert.equal(l.valid, 'from 2026-03-02T08:59:00 to 2026-03-02T10:00:00', 'whole seconds, never past the window');
  assert.deepEqual(l.criticalOptions, []);
  assert.deepEqual(l.extensions, ['permit-port-forwarding', 'permit-pty']);
  assert.equal(l.signingCa, `ED25519 ${sshFingerprint(sshKeygen, path.join(dir, 'ca.pub'))} (using ssh-ed25519)`);
  assert.equal(l.publicKey, `ED25519-CERT ${sshFingerprint(sshKeygen, path.join(dir, 'user.pub'))}`);
});

test('the CA signs only ssh-ed25519 keys, for at least one principal, over a non-empty window', () => {
  const ca = new SshCa(tmpDir());
  const ok = {
    publicKey: sshpk.generatePrivateKey('ed25519').toPublic().toString('ssh'),
    keyId: 'k',
    principals: ['ops'],
    validAfter: new Date(T0),
    validBefore: new Date(T0 + 60_000),
    extensions: ['permit-pty'],
    comment: 'c',
  };
  assert.ok(ca.signUserCert(ok).line);
  const ecdsa = sshpk.generatePrivateKey('ecdsa', { curve: 'nistp256' }).toPublic().toString('ssh');
  assert.throws(
    () => ca.signUserCert({ ...ok, publicKey: ecdsa }),
    (e: Error) => e instanceof SshCaError && /ssh-ed25519/.test(e.message),
  );
  assert.throws(() => ca.signUserCert({ ...ok, publicKey: 'ssh-ed25519 AAAAnope' }), SshCaError);
  assert.throws(() => ca.signUserCert({ ...ok, principals: [] }), SshCaError);
  assert.throws(() => ca.signUserCert({ ...ok, principals: ['a b'] }), SshCaError);
  assert.throws(() => ca.signUserCert({ ...ok, validBefore: new Date(T0 + 500) }), /window is empty/);
});
