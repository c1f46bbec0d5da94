// What the control plane issues for an active role (shared/credentials.ts, docs/architecture.md, Decisions): kube and
// AWS tokens that verify against the JWKS it serves (as a kube API server or AWS would check them), an SSH certificate
// that OpenSSH reads as the role's principals for the activation's window — and nothing once the activation ended,
// nothing to another device or person.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { after } from '../helpers/cleanup';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import sshpk from 'sshpk';
import { ControlPlaneClient, ControlPlaneError } from '../../agent/activation/cp-client';
import { FileKeystore, createDeviceKey, type DeviceKey } from '../../agent/keystore';
import { ApiError } from '../../server/api/errors';
import type { ControlPlane } from '../../server/control-plane';
import { IssuerKeys } from '../../server/credentials/issuer-keys';
import { serve } from '../../server/http';
import type { ActivationRequest, ActivationView } from '../../shared/activation';
import type { IssuedCredentials } from '../../shared/credentials';
import { activate, enrol, newControlPlane, sshFingerprint, sshKeygenList, type Person } from '../helpers/control-plane';
import { PIM_SERVER, run } from '../helpers/procs';
import { makeRepo, tmpDir } from '../helpers/repo';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { requireProgram } from '../helpers/system';

const CA_DATA = 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==';

const POLICY = `
clusters:
  - { name: gpu-train, server: 'https://k8s.gpu.acme.internal:6443', certificateAuthorityData: '${CA_DATA}' }
roles:
  - name: ai-cluster-admin
    eligible: { groups: [ml] }
    activation: { maxDuration: 2h, justification: optional }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:ai-cluster-admin'] }]
      aws:
        - { roleArn: 'arn:aws:iam::123456789012:role/ml-admin' }
        - { roleArn: 'arn:aws:iam::123456789012:role/ml-audit', audience: pim-aws, stsEndpoint: 'http://127.0.0.1:5000', region: eu-central-1 }
      ssh:
        - { principals: [ops], hosts: ['*.gpu.acme.internal'] }
        - { principals: [ops, gpu-debug], hosts: ['bastion.acme.internal'], extensions: [permit-port-forwarding] }
  - name: gpu-readonly
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, justification: optional }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:readonly'] }]
  - name: prod-admin
    eligible: { groups: [ml] }
    activation:
      maxDuration: 1h
      approval: { approvers: { groups: [leads] }, count: 1, selfApproval: false }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:prod'] }]
users:
  - { email: alice@acme.example, groups: [ml] }
  - { email: bob@acme.example, groups: [ml, leads] }
`;

const ADMIN = 'ai-cluster-admin';
const pick = (o: JWTPayload | object, ...keys: string[]) =>
  Object.fromEntries(keys.map((k) => [k, (o as Record<string, unknown>)[k]]));
const sshKey = () => sshpk.generatePrivateKey('ed25519').toPublic().toString('ssh');
const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);
/** an instant as ssh-keygen -L prints it under TZ=UTC (whole seconds) */
const sshTime = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);

// --- over HTTP, as the agent and the token consumers see it ---------------------------------

async function servedWithAlice() {
  const { dir } = makeRepo({ policy: POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const key: DeviceKey = await createDeviceKey(new FileKeystore(tmpDir()));
  const client = new ControlPlaneClient(srv.url, key);
  const authenticator = new SoftAuthenticator();
  const { code } = srv.controlPlane.users.add('alice@acme.example', []);
  const started = await client.call<{ id: string; options: never }>('POST', '/api/v1/enrol/start', {
    code,
    deviceJwk: key.publicJwk,
  });
  await new ControlPlaneClient(srv.url, null).call(
    'POST',
    `/api/v1/ceremony/enrol/${started.id}`,
    { response: authenticator.register(started.options, srv.publicUrl) },
    { sign: false },
  );
  const activateOverHttp = async (role: string, over: Partial<ActivationRequest> = {}) => {
    const request = {
      v: 1,
      kind: 'activate',
      user: 'alice@acme.example',
      device: key.thumbprint,
      role,
      duration: 3600,
      justification: null,
      ticket: null,
      sshPublicKey: null,
      policyVersion: 1,
      requestedAt: new Date().toISOString(),
      extends: null,
      ...over,
    };
    const { activation, options } = await client.call<{ activation: ActivationView; options: never }>(
      'POST',
      '/api/v1/activations',
      { request },
    );
    return new ControlPlaneClient(srv.url, null).call<ActivationView>(
      'POST',
      `/api/v1/ceremony/activation/${activation.id}`,
      { response: authenticator.authenticate(options, srv.publicUrl) },
      { sign: false },
    );
  };
  const credentials = (id: string) =>
    client.call<IssuedCredentials>('POST', `/api/v1/activations/${id}/credentials`, {});
  return { dir, srv, client, activateOverHttp, credentials };
}

async function discovery(srv: { publicUrl: string }) {
  const res = await fetch(`${srv.publicUrl}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  return (await res.json()) as {
    issuer: string;
    jwks_uri: string;
    id_token_signing_alg_values_supported: string[];
    response_types_supported: string[];
    subject_types_supported: string[];
    claims_supported: string[];
  };
}

test("a kube token verifies against the served JWKS with the cluster as audience and the grant's groups, for 15 minutes at most", async () => {
  const { srv, activateOverHttp, credentials } = await servedWithAlice();
  const view = await activateOverHttp(ADMIN);
  assert.equal(view.state, 'active');
  const issued = await credentials(view.id);
  assert.equal(issued.issuer, srv.publicUrl);
  assert.deepEqual(
    [issued.activation, issued.role, issued.user, issued.activationExpiresAt],
    [view.id, ADMIN, 'alice@acme.example', view.expiresAt],
  );

  const oidc = await discovery(srv);
  assert.equal(oidc.issuer, srv.publicUrl);
  assert.equal(oidc.jwks_uri, `${srv.publicUrl}/.well-known/jwks.json`);
  assert.deepEqual(oidc.id_token_signing_alg_values_supported, ['ES256']);
  assert.deepEqual(oidc.response_types_supported, ['id_token']);
  assert.deepEqual(oidc.subject_types_supported, ['public']);
  assert.ok(['sub', 'email', 'groups', 'aud'].every((c) => oidc.claims_supported.includes(c)));
  const jwksRes = await fetch(oidc.jwks_uri);
  assert.equal(jwksRes.headers.get('cache-control'), 'public, max-age=60');
  const jwks = (await jwksRes.json()) as { keys: Record<string, unknown>[] };
  assert.ok(jwks.keys.length >= 1 && jwks.keys.every((k) => k.d === undefined), 'public keys only');

  assert.equal(issued.kube.length, 1);
  const k = issued.kube[0]!;
  assert.deepEqual(
    [k.cluster, k.server, k.certificateAuthorityData],
    ['gpu-train', 'https://k8s.gpu.acme.internal:6443', CA_DATA],
  );
  const iat = decodeJwt(k.token).iat!;
  const { payload, protectedHeader } = await jwtVerify(k.token, createRemoteJWKSet(new URL(oidc.jwks_uri)), {
    issuer: oidc.issuer,
    audience: 'gpu-train',
    algorithms: ['ES256'],
    currentDate: new Date(iat * 1000),
  });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.deepEqual(pick(payload, 'sub', 'email', 'groups', 'pim_role', 'pim_activation'), {
    sub: 'alice@acme.example',
    email: 'alice@acme.example',
    groups: ['pim:ai-cluster-admin'],
    pim_role: ADMIN,
    pim_activation: view.id,
  });
  assert.equal(payload.exp! - iat, 15 * 60, 'a one-hour activation gets a 15-minute token');
  assert.ok(payload.exp! <= sec(view.expiresAt!), 'and never past the activation');
  assert.equal(payload.nbf, iat - 30);
  assert.equal(k.expiresAt, new Date(payload.exp! * 1000).toISOString());
  assert.ok(
    typeof payload.jti === 'string' && payload.jti !== decodeJwt((await credentials(view.id)).kube[0]!.token).jti,
    'each token has its own id',
  );
});

test('AWS web-identity tokens: audience from the grant (default sts.amazonaws.com), 5 minutes, and a session name that names the person', async () => {
  const { srv, activateOverHttp, credentials } = await servedWithAlice();
  const view = await activateOverHttp(ADMIN);
  const issued = await credentials(view.id);
  const jwks = createRemoteJWKSet(new URL((await discovery(srv)).jwks_uri));
  const [sts, audit] = issued.aws;
  assert.equal(issued.aws.length, 2);
  assert.deepEqual(
    [sts!.roleArn, sts!.stsEndpoint, sts!.region],
    ['arn:aws:iam::123456789012:role/ml-admin', null, null],
  );
  assert.deepEqual(
    [audit!.roleArn, audit!.stsEndpoint, audit!.region],
    ['arn:aws:iam::123456789012:role/ml-audit', 'http://127.0.0.1:5000', 'eu-central-1'],
  );
  for (const [entry, aud] of [
    [sts!, 'sts.amazonaws.com'],
    [audit!, 'pim-aws'],
  ] as const) {
    const iat = decodeJwt(entry.webIdentityToken).iat!;
    const { payload } = await jwtVerify(entry.webIdentityToken, jwks, {
      issuer: srv.publicUrl,
      audience: aud,
      currentDate: new Date(iat * 1000),
    });
    assert.equal(payload.sub, 'alice@acme.example');
    assert.equal(payload.exp! - iat, 300);
    assert.equal(entry.expiresAt, new Date(payload.exp! * 1000).toISOString());
    assert.equal(entry.sessionName, 'pim-alice-ai-cluster-admin');
    assert.match(entry.sessionName, /^[\w+=,.@-]{2,64}$/);
  }
});

test("the SSH certificate, read by real ssh-keygen: the grants' principals for the activation window, permit-pty plus grant extensions, signed by the served CA", async (t) => {
  const sshKeygen = requireProgram(t, 'ssh-keygen', 'SSH certificates are checked by OpenSSH itself');
  if (!sshKeygen) return;
  const { srv, activateOverHttp, credentials } = await servedWithAlice();
  const userKey = sshKey();
  const view = await activateOverHttp(ADMIN, { sshPublicKey: userKey });
  const issued = await credentials(view.id);
  assert.equal(issued.ssh.length, 1);
  const s = issued.ssh[0]!;
  assert.deepEqual(s.principals, ['ops', 'gpu-debug']);
  assert.deepEqual(s.hosts, ['*.gpu.acme.internal', 'bastion.acme.internal']);
  assert.match(
    s.certificate,
    new RegExp(`^ssh-ed25519-cert-v01@openssh\\.com AAAA[A-Za-z0-9+/=]+ pim:alice@acme\\.example:${ADMIN}$`),
  );

  const caRes = await fetch(`${srv.publicUrl}/ssh-ca.pub`);
  assert.equal(caRes.status, 200);
  assert.match(caRes.headers.get('content-type') ?? '', /^text\/plain/);
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'ca.pub'), await caRes.text());
  fs.writeFileSync(path.join(dir, 'id.pub'), `${userKey}\n`);
  fs.writeFileSync(path.join(dir, 'id-cert.pub'), `${s.certificate}\n`);
  const l = sshKeygenList(sshKeygen, path.join(dir, 'id-cert.pub'));
  assert.equal(l.type, 'ssh-ed25519-cert-v01@openssh.com user certificate');
  assert.equal(l.keyId, `"pim:alice@acme.example:${ADMIN}:${view.id}"`);
  assert.equal(
    l.publicKey,
    `ED25519-CERT ${sshFingerprint(sshKeygen, path.join(dir, 'id.pub'))}`,
    'for the key in the signed request',
  );
  assert.equal(l.signingCa, `ED25519 ${sshFingerprint(sshKeygen, path.join(dir, 'ca.pub'))} (using ssh-ed25519)`);
  assert.deepEqual(l.principals, ['ops', 'gpu-debug']);
  const from = Date.parse(view.startsAt!) - 60_000;
  const to = Date.parse(view.expiresAt!);
  assert.equal(
    l.valid,
    `from ${sshTime(from)} to ${sshTime(to)}`,
    'a minute before the start (clock skew) until the activation ends',
  );
  assert.deepEqual([s.validAfter, s.validBefore], [`${sshTime(from)}.000Z`, `${sshTime(to)}.000Z`]);
  assert.deepEqual(l.criticalOptions, []);
  assert.deepEqual(l.extensions, ['permit-port-forwarding', 'permit-pty']);
});

test('a rotation by another process (pim-server rotate-issuer-key): serve signs with the new key at once and still publishes the old one', async () => {
  const { dir, srv, activateOverHttp, credentials } = await servedWithAlice();
  const view = await activateOverHttp('gpu-readonly');
  const before = (await credentials(view.id)).kube[0]!.token;
  const { kid } = await new IssuerKeys(dir).rotate();
  const afterRotation = (await credentials(view.id)).kube[0]!.token;
  assert.equal(decodeProtectedHeader(afterRotation).kid, kid);
  assert.notEqual(decodeProtectedHeader(before).kid, kid);
  const jwks = createRemoteJWKSet(new URL(`${srv.publicUrl}/.well-known/jwks.json`));
  for (const token of [before, afterRotation]) {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: srv.publicUrl,
      audience: 'gpu-train',
      currentDate: new Date(decodeJwt(token).iat! * 1000),
    });
    assert.deepEqual(payload.groups, ['pim:readonly']);
  }
});

test('only the device that asked gets credentials: another device of the same person gets 403, another person 404', async () => {
  const { srv, activateOverHttp, credentials } = await servedWithAlice();
  const view = await activateOverHttp(ADMIN);
  assert.equal((await credentials(view.id)).activation, view.id);
  const cp = srv.controlPlane;
  const laptop2 = await enrol(cp, 'alice@acme.example');
  const bob = await enrol(cp, 'bob@acme.example');
  await refused(cp.issuance.issue(laptop2.caller, view.id), 403, 'wrong-device');
  await refused(cp.issuance.issue(bob.caller, view.id), 404, 'not-found');
  await refused(cp.issuance.issue(bob.caller, 'no-such-activation'), 404, 'not-found');
});

test('over HTTP, an ended activation is a 409 not-active with the role and what happened', async () => {
  const { client, activateOverHttp, credentials } = await servedWithAlice();
  const view = await activateOverHttp('gpu-readonly');
  await client.call('POST', `/api/v1/activations/${view.id}/deactivate`);
  await assert.rejects(credentials(view.id), (e: ControlPlaneError) => {
    assert.deepEqual([e.status, e.code], [409, 'not-active']);
    assert.match(e.message, /^role gpu-readonly was deactivated at \S+ \(deactivated by the user\)$/);
    return true;
  });
});

// --- in-process, with the control plane's clock in the test's hands ----------------------

async function refused(p: Promise<unknown>, status: number, code: string, message?: RegExp) {
  const e = await p.then(
    () => assert.fail(`expected ${status} ${code}`),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApiError, String(e));
  assert.deepEqual([e.status, e.code], [status, code], e.message);
  if (message) assert.match(e.message, message);
}

async function setup() {
  const clock = { now: Date.parse('2026-03-02T09:00:00.000Z') };
  const { cp, dir } = await newControlPlane({ policy: POLICY, clock: () => new Date(clock.now) });
  const alice = await enrol(cp, 'alice@acme.example');
  const bob = await enrol(cp, 'bob@acme.example');
  return { cp, dir, clock, alice, bob };
}

const jwksOf = async (cp: ControlPlane) => createLocalJWKSet(await cp.issuance.issuerKeys.jwks());

test('after deactivation, expiry or revocation the answer is 409 not-active, naming the role and its state', async () => {
  const { cp, clock, alice } = await setup();
  const a = await activate(cp, alice, ADMIN);
  cp.activations.deactivate(alice.caller, a.id);
  await refused(
    cp.issuance.issue(alice.caller, a.id),
    409,
    'not-active',
    /^role ai-cluster-admin was deactivated at 2026-03-02T09:00:00\.000Z \(deactivated by the user\)$/,
  );

  const b = await activate(cp, alice, 'gpu-readonly', { duration: 1800 });
  assert.equal((await cp.issuance.issue(alice.caller, b.id)).kube.length, 1);
  clock.now = Date.parse(b.expiresAt!);
  await refused(
    cp.issuance.issue(alice.caller, b.id),
    409,
    'not-active',
    new RegExp(`^role gpu-readonly expired at ${b.expiresAt!.replace(/\./g, '\\.')}`),
  );

  const c = await activate(cp, alice, ADMIN);
  cp.activations.revoke(c.id, 'laptop reported stolen');
  await refused(
    cp.issuance.issue(alice.caller, c.id),
    409,
    'not-active',
    /^role ai-cluster-admin was revoked: laptop reported stolen$/,
  );
});

test('a request still waiting for approval gets nothing yet', async () => {
  const { cp, alice } = await setup();
  const pending = await activate(cp, alice, 'prod-admin');
  assert.equal(pending.state, 'pending-approval');
  await refused(
    cp.issuance.issue(alice.caller, pending.id),
    409,
    'not-active',
    /^role prod-admin is not active yet \(pending-approval\)$/,
  );
});

test('near the end of the activation every token ends with it; PIM_KUBE_TOKEN_TTL shortens kube tokens', async () => {
  const { cp, clock, alice } = await setup();
  const a = await activate(cp, alice, ADMIN);
  const end = sec(a.expiresAt!);
  clock.now = Date.parse(a.expiresAt!) - 120_000;
  const late = await cp.issuance.issue(alice.caller, a.id);
  assert.equal(decodeJwt(late.kube[0]!.token).exp, end);
  assert.ok(late.aws.every((x) => decodeJwt(x.webIdentityToken).exp === end));
  assert.equal(late.kube[0]!.expiresAt, new Date(end * 1000).toISOString());

  clock.now = Date.parse(a.startsAt!) + 60_000;
  const saved = process.env.PIM_KUBE_TOKEN_TTL;
  process.env.PIM_KUBE_TOKEN_TTL = '45';
  try {
    const short = decodeJwt((await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token);
    assert.equal(short.exp! - short.iat!, 45);
    process.env.PIM_KUBE_TOKEN_TTL = String(24 * 3600);
    const capped = decodeJwt((await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token);
    assert.equal(capped.exp! - capped.iat!, 15 * 60, 'never above 15 minutes');
  } finally {
    if (saved === undefined) delete process.env.PIM_KUBE_TOKEN_TTL;
    else process.env.PIM_KUBE_TOKEN_TTL = saved;
  }
});

test('a token issued before a key rotation keeps verifying after it, and stops once the old key retired', async () => {
  const { cp, clock, alice } = await setup();
  const a = await activate(cp, alice, ADMIN, { duration: 7200 });
  const old = (await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token;
  const verifyAt = (token: string, jwks: Awaited<ReturnType<typeof jwksOf>>) =>
    jwtVerify(token, jwks, {
      issuer: cp.cfg.publicUrl,
      audience: 'gpu-train',
      currentDate: new Date(decodeJwt(token).iat! * 1000),
    });

  clock.now += 60_000;
  const { kid } = await cp.issuance.issuerKeys.rotate();
  const fresh = (await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token;
  assert.equal(decodeProtectedHeader(fresh).kid, kid);
  await verifyAt(old, await jwksOf(cp));
  await verifyAt(fresh, await jwksOf(cp));

  clock.now += 3600_000; // the previous key retires an hour after the rotation
  await assert.rejects(
    verifyAt(old, await jwksOf(cp)),
    (e: Error & { code?: string }) => e.code === 'ERR_JWKS_NO_MATCHING_KEY',
  );
  await verifyAt(fresh, await jwksOf(cp));
});

test('no SSH key in the request, or no SSH grant in the role: no certificate', async () => {
  const { cp, alice } = await setup();
  const noKey = await activate(cp, alice, ADMIN);
  assert.deepEqual((await cp.issuance.issue(alice.caller, noKey.id)).ssh, []);
  const noGrant = await activate(cp, alice, 'gpu-readonly', { sshPublicKey: sshKey() });
  const issued = await cp.issuance.issue(alice.caller, noGrant.id);
  assert.deepEqual(issued.ssh, []);
  assert.equal(issued.kube.length, 1);
  assert.deepEqual(issued.aws, []);
});

test('revoking a device revokes its live activations ("device revoked") and nothing of other devices', async () => {
  const { cp, alice } = await setup();
  const laptop2: Person = await enrol(cp, 'alice@acme.example');
  const mine = await activate(cp, alice, ADMIN);
  const other = await activate(cp, laptop2, 'gpu-readonly');
  const r = cp.users.revokeDeviceAccess(alice.caller.device);
  assert.deepEqual(r, { device: true, activations: [mine.id], requests: [] });
  const view = cp.activations.get(alice.caller, mine.id);
  assert.deepEqual([view.state, view.endReason], ['revoked', 'device revoked']);
  assert.equal(cp.activations.get(laptop2.caller, other.id).state, 'active');
  assert.equal((await cp.issuance.issue(laptop2.caller, other.id)).kube.length, 1);
});

// --- the pim-server CLI against a directory that `serve` is serving ------------------------

test('pim-server activation revoke/list, ssh-ca and rotate-issuer-key work while serve runs on the same directory', async () => {
  const { dir } = makeRepo({ policy: POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0 });
  after(() => srv.close());
  const cp = srv.controlPlane;
  const alice = await enrol(cp, 'alice@acme.example');
  const a = await activate(cp, alice, ADMIN, { duration: 1800 });
  const kidBefore = decodeProtectedHeader((await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token).kid;

  const ca = run(PIM_SERVER, ['ssh-ca', dir]);
  assert.equal(ca.code, 0, ca.stderr);
  assert.equal(
    ca.stdout,
    await (await fetch(`${srv.publicUrl}/ssh-ca.pub`)).text(),
    'the same CA line as GET /ssh-ca.pub',
  );

  const rot = run(PIM_SERVER, ['rotate-issuer-key', dir]);
  assert.equal(rot.code, 0, rot.stderr);
  const newKid = /new issuer signing key (\S+)/.exec(rot.stdout)?.[1];
  assert.match(rot.stdout, new RegExp(`previous key ${kidBefore} stays in the JWKS until `));
  const served = (await (await fetch(`${srv.publicUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  assert.deepEqual(
    served.keys.map((k) => k.kid),
    [newKid, kidBefore],
  );
  assert.equal(decodeProtectedHeader((await cp.issuance.issue(alice.caller, a.id)).kube[0]!.token).kid, newKid);

  const live = run(PIM_SERVER, ['activation', 'list', dir, '--live', '--json']);
  assert.equal(live.code, 0, live.stderr);
  assert.deepEqual(
    (JSON.parse(live.stdout) as ActivationView[]).map((x) => [x.id, x.state]),
    [[a.id, 'active']],
  );

  const rev = run(PIM_SERVER, ['activation', 'revoke', dir, a.id, '--reason', 'laptop lost']);
  assert.equal(rev.code, 0, rev.stderr);
  assert.match(
    rev.stdout,
    new RegExp(`revoked activation ${a.id} \\(${ADMIN} for alice@acme\\.example\\): laptop lost`),
  );
  await refused(
    cp.issuance.issue(alice.caller, a.id),
    409,
    'not-active',
    /^role ai-cluster-admin was revoked: laptop lost$/,
  );

  const table = run(PIM_SERVER, ['activation', 'list', dir]);
  assert.match(
    table.stdout,
    new RegExp(`^${a.id}\\s+revoked\\s+${ADMIN}\\s+alice@acme\\.example .* laptop lost$`, 'm'),
  );
  const again = run(PIM_SERVER, ['activation', 'revoke', dir, a.id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /cannot revoke activation .*: the activation is already revoked/);
  assert.equal(run(PIM_SERVER, ['activation', 'revoke', dir, 'nope']).code, 1);

  const b = await activate(cp, alice, 'gpu-readonly');
  const dev = run(PIM_SERVER, ['user', 'revoke-device', dir, alice.caller.device]);
  assert.equal(dev.code, 0, dev.stderr);
  assert.match(dev.stdout, new RegExp(`and 1 live activation \\(${b.id}\\)`));
  assert.deepEqual(pick(cp.activations.all().find((x) => x.id === b.id) ?? {}, 'state', 'endReason'), {
    state: 'revoked',
    endReason: 'device revoked',
  });
});
