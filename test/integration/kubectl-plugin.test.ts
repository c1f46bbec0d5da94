// The whole kube path with the real kubectl: a kubeconfig made by addKubeEntries, whose user runs
// the sh helper installCredHelper wrote, which prints the ExecCredential writeCredential stored,
// holding a JWT the API stand-in verifies against the issuer's JWKS. Then the role ends or expires
// and kubectl shows our message.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'vitest';
import { after } from '../helpers/cleanup';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import {
  endCredential,
  installCredHelper,
  kubeExecCredential,
  writeCredential,
} from '../../agent/credentials/cred-helper';
import { addKubeEntries, type KubeEntry } from '../../agent/credentials/kubeconfig';
import { startKubeApi, type KubeApi } from '../helpers/kube-api';
import { tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

const ISSUER = 'https://pim.example.test';
const CLUSTER = 'prod';
const ROLE = 'ops-admin';
const NAME = `pim-${CLUSTER}--${ROLE}`;
const GROUP = 'pim:ops-admins';
const POD = 'payments-6c9f7d8b4-q7m2z';

async function issuerKeys() {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'issuer-1', alg: 'ES256', use: 'sig' };
  return { privateKey, jwks: { keys: [jwk] } };
}

function sign(key: CryptoKey, claims: { aud?: string; groups?: string[]; expSeconds?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ groups: claims.groups ?? [GROUP] })
    .setProtectedHeader({ alg: 'ES256', kid: 'issuer-1', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setSubject('alice@acme.example')
    .setAudience(claims.aud ?? CLUSTER)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expSeconds ?? 600))
    .sign(key);
}

interface Setup {
  api: KubeApi;
  creds: string;
  kubeconfig: string;
  /** runs kubectl asynchronously: the API stand-in answers from this same process */
  kubectl: (...args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;
  helper: string;
}

async function setup(t: TestContext, apiOpts: Parameters<typeof startKubeApi>[1]): Promise<Setup | null> {
  const kubectlPath = requireProgram(t, 'kubectl', 'the exec-plugin test drives the real kubectl');
  if (!kubectlPath) return null;
  const api = await startKubeApi(t, apiOpts);
  if (!api) return null;
  const dir = tmpDir('pim-kubectl-');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  const creds = path.join(dir, 'pim', 'creds');
  const helper = installCredHelper(creds);
  const entry: KubeEntry = {
    name: NAME,
    cluster: CLUSTER,
    role: ROLE,
    server: api.url,
    certificateAuthorityData: api.caData,
    command: helper,
    args: ['kube', NAME],
  };
  const kubeconfig = path.join(home, '.kube', 'config');
  fs.mkdirSync(path.dirname(kubeconfig), { mode: 0o700 });
  // the context selected the way a user would (`kubectl config use-context`)
  fs.writeFileSync(kubeconfig, `${addKubeEntries(null, [entry])}current-context: ${NAME}\n`, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, KUBECONFIG: kubeconfig };
  const kubectl = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(kubectlPath, ['--cache-dir', path.join(dir, 'cache'), '--request-timeout=20s', ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  return { api, creds, kubeconfig, kubectl, helper };
}

const HOUR = 3_600_000;

test(
  'kubectl get pods authenticates through pim-cred, and shows our message once the role ended or expired',
  { timeout: 120_000 },
  async (t) => {
    const { privateKey, jwks } = await issuerKeys();
    const s = await setup(t, { jwks, audience: CLUSTER, groups: [GROUP], issuer: ISSUER, podName: POD });
    if (!s) return;
    const exp = new Date(Date.now() + 10 * 60_000);
    const token = await sign(privateKey);
    writeCredential(s.creds, 'kube', NAME, kubeExecCredential(token, exp), {
      role: ROLE,
      activationEnd: new Date(Date.now() + HOUR),
      credentialExpires: exp,
    });

    const ok = await s.kubectl('get', 'pods');
    assert.equal(ok.code, 0, `kubectl failed:\n${ok.stderr}`);
    assert.match(
      ok.stdout,
      new RegExp(`^NAME\\s+READY\\s+STATUS\\s+RESTARTS\\s+AGE\\n${POD}\\s+1/1\\s+Running\\s+0\\s+`),
    );
    const listed = s.api.requests.filter((r) => r.path === '/api/v1/namespaces/default/pods');
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.status, 200);
    assert.equal(listed[0]!.subject, 'alice@acme.example', 'the API saw our JWT');
    assert.ok(
      s.api.requests.every((r) => r.status === 200),
      JSON.stringify(s.api.requests),
    );

    // the role is deactivated: the tombstone message reaches the user through kubectl's stderr
    const ended = `pim: role ${ROLE} was deactivated at 10:42 by alice@acme.example; activate it again from PIM Agent (pim activate ${ROLE})`;
    endCredential(s.creds, 'kube', NAME, ended);
    const before = s.api.requests.length;
    const refused = await s.kubectl('get', 'pods');
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stdout, '');
    assert.ok(refused.stderr.includes(ended), refused.stderr);
    assert.equal(s.api.requests.length, before, 'no request reached the API without a credential');

    // activated again, and its activation end (in the meta) has passed: the "expired" message
    const endedAt = new Date(Date.now() - 60_000);
    writeCredential(s.creds, 'kube', NAME, kubeExecCredential(token, exp), {
      role: ROLE,
      activationEnd: endedAt,
      credentialExpires: exp,
    });
    const expired = await s.kubectl('get', 'pods');
    assert.notEqual(expired.code, 0);
    assert.ok(
      expired.stderr.includes(
        `pim: role ${ROLE} expired at ${endedAt.toISOString()}; activate it again from PIM Agent (pim activate ${ROLE})`,
      ),
      expired.stderr,
    );

    // the agent stopped renewing: the "not renewed" message
    writeCredential(s.creds, 'kube', NAME, kubeExecCredential(token, exp), {
      role: ROLE,
      activationEnd: new Date(Date.now() + HOUR),
      credentialExpires: new Date(Date.now() - 1_000),
    });
    const stale = await s.kubectl('get', 'pods');
    assert.notEqual(stale.code, 0);
    assert.ok(
      stale.stderr.includes('pim: the credential for role ops-admin was not renewed in time; is PIM Agent running?'),
      stale.stderr,
    );
  },
);

test(
  'the API stand-in refuses a token for another cluster, without the group, or expired, as an API server would',
  { timeout: 120_000 },
  async (t) => {
    const { privateKey, jwks } = await issuerKeys();
    const s = await setup(t, { jwks, audience: CLUSTER, groups: [GROUP], issuer: ISSUER });
    if (!s) return;
    const cases: [string, Promise<string>][] = [
      ['another cluster', sign(privateKey, { aud: 'staging' })],
      ['no allowed group', sign(privateKey, { groups: ['developers'] })],
      ['expired', sign(privateKey, { expSeconds: -120 })],
      ['another issuer key', generateKeyPair('ES256').then(({ privateKey: other }) => sign(other))],
    ];
    for (const [what, tokenP] of cases) {
      const token = await tokenP;
      writeCredential(s.creds, 'kube', NAME, kubeExecCredential(token, new Date(Date.now() + 600_000)), {
        role: ROLE,
        activationEnd: new Date(Date.now() + HOUR),
        credentialExpires: new Date(Date.now() + 600_000),
      });
      const r = await s.kubectl('get', 'pods');
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, /error: You must be logged in to the server/, what);
      assert.equal(s.api.requests.at(-1)!.status, 401, what);
    }
  },
);

test(
  "keys can come from the issuer's JWKS URL, and kubectl config tools read our entries",
  { timeout: 120_000 },
  async (t) => {
    const { privateKey, jwks } = await issuerKeys();
    const jwksServer = http.createServer((req, res) => {
      res.writeHead(req.url === '/.well-known/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    after(() => jwksServer.close());
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    const s = await setup(t, { jwksUrl, audience: CLUSTER, groups: [GROUP], podName: POD });
    if (!s) return;
    const exp = new Date(Date.now() + 600_000);
    writeCredential(s.creds, 'kube', NAME, kubeExecCredential(await sign(privateKey), exp), {
      role: ROLE,
      activationEnd: new Date(Date.now() + HOUR),
      credentialExpires: exp,
    });
    const ok = await s.kubectl('get', 'pods', '-o', 'name');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `pod/${POD}\n`);

    assert.equal((await s.kubectl('config', 'current-context')).stdout, `${NAME}\n`);
    const view = JSON.parse((await s.kubectl('config', 'view', '-o', 'json')).stdout) as {
      users: { name: string; user: { exec: Record<string, unknown> } }[];
      contexts: { name: string; context: Record<string, unknown> }[];
    };
    const exec = view.users.find((u) => u.name === NAME)!.user.exec;
    assert.equal(exec.command, s.helper);
    assert.deepEqual(exec.args, ['kube', NAME]);
    assert.equal(exec.interactiveMode, 'Never');
  },
);

test(
  'a plain static token works against the stand-in too (the baseline the exec plugin is compared with)',
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t, { staticToken: 'static-token-for-bench', podName: POD });
    if (!s) return;
    // a kubeconfig of the usual kind, with the token inline
    const plain = path.join(path.dirname(s.kubeconfig), 'static-config');
    const config = (token: string) =>
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${s.api.url}\n    certificate-authority-data: ${s.api.caData}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: ${token}\n`;
    const withToken = (token: string) => {
      fs.writeFileSync(plain, config(token), { mode: 0o600 });
      return s.kubectl('--kubeconfig', plain, 'get', 'pods', '-o', 'name');
    };
    const ok = await withToken('static-token-for-bench');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `pod/${POD}\n`);
    const bad = await withToken('wrong');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Unauthorized/);
  },
);
