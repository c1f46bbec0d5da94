// Google Cloud and Azure credentials from the same activation, with the real clients: `gcloud` and
// google-auth-library exchange our token at a stand-in of Google's STS, @azure/identity at a
// stand-in of the Microsoft identity platform; both stand-ins verify the token against the control
// plane's JWKS (cloud-standins.ts). The clients are routed there by their documented overrides: the
// external_account file's token_url / token_info_url (the grant's stsEndpoint); for Azure, whose
// MSAL core only trusts authority hosts Microsoft's instance discovery knows, the SDK's proxy setting
// (HTTPS_PROXY) to a CONNECT proxy that sends login.microsoftonline.com to the stand-in, whose
// throwaway CA is given to Node as NODE_EXTRA_CA_CERTS. The Azure grant keeps the default authority.
// When the role ends, each refuses, and nothing of ours is left in gcloud's folder or ours.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'vitest';
import { after } from '../helpers/cleanup';
import { step } from '../helpers/step';
import { touch } from '../helpers/ceremony';
import { startEntra, startGoogleSts, type Entra, type GoogleSts } from '../helpers/cloud-standins';
import { PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { ROOT, tmpDir } from '../helpers/repo';
import { SoftAuthenticator } from '../helpers/soft-authenticator';
import { requireProgram } from '../helpers/system';

const ROLE = 'ml-multicloud';
const NAME = `pim-${ROLE}`;
const PROVIDER = 'projects/123456789012/locations/global/workloadIdentityPools/pim-pool/providers/pim-agent';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const SUBSCRIPTION = '11111111-2222-4333-8444-555555555555';
const CLOUD_CLIENT = path.join(ROOT, 'test', 'helpers', 'cloud-client.cjs');

function policy(o: { sts: string }): string {
  return `
roles:
  - name: ${ROLE}
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, defaultDuration: 1h, justification: optional }
    grants:
      gcp: [{ workloadIdentityProvider: '${PROVIDER}', project: tpu-training-1, stsEndpoint: '${o.sts}' }]
      azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUBSCRIPTION} }]
  - name: tpu-trainer
    eligible: { groups: [ml] }
    activation: { maxDuration: 1h, justification: optional }
    grants:
      gcp: [{ workloadIdentityProvider: '${PROVIDER}', serviceAccount: trainer@tpu-training-1.iam.gserviceaccount.com, project: tpu-training-1, stsEndpoint: '${o.sts}', iamCredentialsEndpoint: '${o.sts}' }]
users:
  - { email: alice@acme.example, groups: [ml] }
`;
}

interface World {
  dir: string;
  home: string;
  gcloudDir: string;
  env: NodeJS.ProcessEnv;
  key: SoftAuthenticator;
  sts: GoogleSts;
  entra: Entra;
  pim: (...a: string[]) => ReturnType<typeof run>;
}

async function setup(t: TestContext): Promise<World | null> {
  for (const [p, why] of [
    ['gcloud', 'gcloud must use the injected configuration'],
    ['openssl', 'the identity platform stand-in needs a TLS certificate'],
  ] as const) {
    if (!requireProgram(t, p, why)) return null;
  }
  const dir = tmpDir('pim-cloud-');
  const repo = path.join(dir, 'repo');
  const userHome = path.join(dir, 'home');
  const gcloudDir = path.join(dir, 'gcloud');
  fs.mkdirSync(userHome, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'policy.yaml'), 'roles: []\n');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  assert.equal(run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']).code, 0);
  const served = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/);
  after(() => stop(served.child));
  const server = served.match[1]!.replace(/\/$/, '');
  const { issuer, jwks_uri: jwksUri } = (await (await fetch(`${server}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  // the JWKS from where the stand-ins can reach it (the issuer may name another host for the same server)
  const jwksUrl = `${server}${new URL(jwksUri).pathname}`;

  const sts = await startGoogleSts({ jwksUrl, issuer, provider: PROVIDER });
  after(() => sts.stop());
  const entra = await startEntra({ jwksUrl, issuer, tenantId: TENANT, clientId: CLIENT, subject: `pim:role:${ROLE}` });
  after(() => entra.stop());

  fs.writeFileSync(path.join(dir, 'policy.yaml'), policy({ sts: sts.url }));
  const pub = run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']);
  assert.equal(pub.code, 0, pub.stderr);

  const home = path.join(dir, 'pim-home');
  const env: NodeJS.ProcessEnv = {
    PIM_KEYSTORE: 'file',
    HOME: userHome,
    CLOUDSDK_CONFIG: gcloudDir,
    PIM_TOMBSTONE_SECONDS: '600',
  };
  const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example']);
  assert.equal(add.code, 0, add.stderr);
  const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
  const key = new SoftAuthenticator({ name: 'alice' });
  const enrol = await start(
    PIM,
    ['--home', home, 'enroll', link, '--no-open'],
    /Register your security key: (\S+)/,
    env,
  );
  assert.equal((await touch(key, enrol.match[1]!)).ok, true);
  assert.equal(await enrol.exited(), 0, enrol.output());
  return { dir, home, gcloudDir, env, key, sts, entra, pim: (...a: string[]) => run(PIM, ['--home', home, ...a], env) };
}

async function activate(w: World, duration: string, role = ROLE): Promise<string> {
  const act = await start(
    PIM,
    ['--home', w.home, 'activate', role, '--duration', duration, '--no-open'],
    /sign this request: (\S+)/,
    w.env,
  );
  assert.equal((await touch(w.key, act.match[1]!)).value?.state, 'active');
  assert.equal(await act.exited(), 0, act.output());
  return act.output();
}

/** A client program with the world's environment and no cloud credentials of the machine's. */
function client(
  w: World,
  cmd: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(GOOGLE_|CLOUDSDK_|AZURE_)/.test(k)) delete env[k];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: {
        ...env,
        ...w.env,
        NODE_EXTRA_CA_CERTS: w.entra.caFile,
        HTTPS_PROXY: w.entra.proxy,
        NO_PROXY: '127.0.0.1,localhost',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `gcloud auth print-access-token` with the role's configuration; GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES as `pim env` sets it */
const gcloudToken = (w: World, configuration = NAME) =>
  client(w, 'gcloud', ['auth', 'print-access-token', '--configuration', configuration, '--verbosity', 'error'], {
    GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: '1',
  });
/** a program run by `pim exec ROLE --`: the SDKs see only the environment pim sets */
const viaExec = (w: World, cloud: 'gcp' | 'azure') =>
  client(w, process.execPath, [PIM, '--home', w.home, 'exec', ROLE, '--', process.execPath, CLOUD_CLIENT, cloud]);

/** the SDK with the environment `pim env` printed while the role was active (set per test) */
let viaExecEnv: (w: World, cloud: 'gcp' | 'azure') => ReturnType<typeof client> = () =>
  Promise.reject(new Error('no environment captured'));

function oursLeft(w: World): string[] {
  const left: string[] = [];
  const configs = path.join(w.gcloudDir, 'configurations');
  if (fs.existsSync(configs))
    left.push(
      ...fs
        .readdirSync(configs)
        .filter((f) => f.startsWith('config_pim-'))
        .map((f) => `gcloud ${f}`),
    );
  for (const d of ['gcp', 'gcloud', 'azure']) {
    const p = path.join(w.home, 'creds', d);
    if (fs.existsSync(p) && fs.readdirSync(p).length > 0) left.push(`${d}: ${fs.readdirSync(p).join(', ')}`);
  }
  return left;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('GCP and Azure credentials from one activation, with gcloud, google-auth-library and @azure/identity', async (t) => {
  const w = await setup(t);
  if (!w) return;

  await step(
    'active: every client gets a token exchanged for ours; deactivated: each refuses, then nothing is left',
    async () => {
      const out = await activate(w, '1h');
      assert.match(out, new RegExp(`gcloud configuration ${NAME}`));
      assert.match(out, new RegExp(`Azure federated token ${NAME}`));

      const g = await gcloudToken(w);
      assert.equal(g.code, 0, g.stderr);
      assert.match(g.stdout, /^ya29\.pim-test-/);
      const exchange = w.sts.exchanges.at(-1)!;
      assert.equal(exchange.ok, true, exchange.reason ?? '');
      assert.equal(exchange.claims!.sub, 'alice@acme.example');
      assert.equal(exchange.claims!.pim_role, ROLE);

      const lib = await viaExec(w, 'gcp');
      assert.equal(lib.code, 0, lib.stderr);
      assert.match(lib.stdout, /gcp access token ya29\.pim-test-/);

      const az = await viaExec(w, 'azure');
      assert.equal(az.code, 0, az.stderr);
      assert.match(az.stdout, /azure access token /);
      const assertion = w.entra.exchanges.at(-1)!;
      assert.equal(assertion.ok, true, assertion.reason ?? '');
      assert.equal(assertion.claims!.sub, `pim:role:${ROLE}`);
      assert.equal(assertion.claims!.email, 'alice@acme.example');
      assert.equal(assertion.params.scope, 'https://management.azure.com/.default');

      const exports = w.pim('env', ROLE);
      assert.equal(exports.code, 0, exports.stderr);
      assert.match(exports.stdout, new RegExp(`export CLOUDSDK_ACTIVE_CONFIG_NAME='${NAME}';`));
      assert.match(
        exports.stdout,
        /export GOOGLE_APPLICATION_CREDENTIALS='.*\/creds\/gcloud\/pim-ml-multicloud\.json';/,
      );
      assert.match(exports.stdout, new RegExp(`export AZURE_CLIENT_ID='${CLIENT}';`));
      assert.match(exports.stdout, new RegExp(`export AZURE_TENANT_ID='${TENANT}';`));
      assert.match(exports.stdout, /export AZURE_FEDERATED_TOKEN_FILE='.*\/creds\/azure\/pim-ml-multicloud\.jwt';/);
      // with the exports of `pim env`, plain gcloud (no --configuration) uses the role
      const shell = await client(w, 'sh', [
        '-c',
        `eval "$(node ${PIM} --home '${w.home}' env ${ROLE})" && gcloud auth print-access-token --verbosity error && gcloud config get-value project`,
      ]);
      assert.equal(shell.code, 0, shell.stderr);
      assert.match(shell.stdout, /^ya29\.pim-test-.*\ntpu-training-1\n$/s);

      const refusedBefore = w.entra.exchanges.filter((e) => !e.ok).length;
      const off = w.pim('deactivate', ROLE);
      assert.equal(off.code, 0, off.stderr);
      const g2 = await gcloudToken(w);
      assert.notEqual(g2.code, 0);
      assert.match(g2.stderr, /role ml-multicloud was deactivated at .*; activate it again from PIM Agent/);
      const lib2 = await client(w, process.execPath, [CLOUD_CLIENT, 'gcp'], {
        GOOGLE_APPLICATION_CREDENTIALS: path.join(w.home, 'creds', 'gcloud', `${NAME}.json`),
        GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: '1',
      });
      assert.notEqual(lib2.code, 0);
      assert.match(lib2.stderr, /role ml-multicloud was deactivated at/);
      const az2 = await client(w, process.execPath, [CLOUD_CLIENT, 'azure'], {
        AZURE_CLIENT_ID: CLIENT,
        AZURE_TENANT_ID: TENANT,
        AZURE_FEDERATED_TOKEN_FILE: path.join(w.home, 'creds', 'azure', `${NAME}.jwt`),
      });
      assert.notEqual(az2.code, 0);
      assert.match(az2.stderr, /pim-ml-multicloud\.jwt/, "the SDK names the role's token file, which is gone");
      assert.equal(
        w.entra.exchanges.filter((e) => !e.ok).length,
        refusedBefore,
        'no token reached the identity platform',
      );
      const env2 = w.pim('env', ROLE);
      assert.equal(env2.code, 5, 'no environment for an ended role');
      assert.match(env2.stderr, /ml-multicloud/);

      assert.equal(w.pim('credentials', 'sweep').code, 0);
      assert.deepEqual(oursLeft(w), []);
    },
  );

  await step(
    'expired with no agent running: gcloud and google-auth-library are told the role expired, the identity platform refuses the expired token',
    async () => {
      // long enough for gcloud (a Python start, seconds under a loaded CI) to get a token first
      await activate(w, '25s');
      const env = w.pim('env', ROLE);
      assert.equal(env.code, 0, env.stderr);
      const exported = Object.fromEntries(
        [...env.stdout.matchAll(/^export (\w+)='([^']*)';$/gm)].map((m) => [m[1]!, m[2]!]),
      );
      viaExecEnv = (world, cloud) => client(world, process.execPath, [CLOUD_CLIENT, cloud], exported);
      const first = await gcloudToken(w);
      assert.equal(first.code, 0, first.stderr);
      await until('the role to expire', async () => /expired at/.test((await gcloudToken(w)).stderr));
      const g = await gcloudToken(w);
      assert.notEqual(g.code, 0);
      assert.match(
        g.stderr,
        /role ml-multicloud expired at .*; activate it again from PIM Agent \(pim activate ml-multicloud\)/,
      );
      const lib = await viaExecEnv(w, 'gcp');
      assert.notEqual(lib.code, 0);
      assert.match(lib.stderr, /role ml-multicloud expired at/);
      // no agent ran to remove the Azure token file: what is in it expired with the role, and the
      // identity platform refuses it
      const az = await viaExecEnv(w, 'azure');
      assert.notEqual(az.code, 0);
      const last = w.entra.exchanges.at(-1)!;
      assert.equal(last.ok, false);
      assert.match(last.reason ?? '', /"exp" claim timestamp check failed/);
      assert.equal(w.pim('credentials', 'sweep').code, 0);
      assert.deepEqual(oursLeft(w), []);
    },
  );

  await step(
    "impersonation: gcloud and google-auth-library get the service account's token for the federated user",
    async () => {
      await activate(w, '10m', 'tpu-trainer');
      const g = await gcloudToken(w, 'pim-tpu-trainer');
      assert.equal(g.code, 0, g.stderr);
      assert.match(g.stdout, /^ya29\.pim-test-sa-/);
      const lib = await client(w, process.execPath, [
        PIM,
        '--home',
        w.home,
        'exec',
        'tpu-trainer',
        '--',
        process.execPath,
        CLOUD_CLIENT,
        'gcp',
      ]);
      assert.equal(lib.code, 0, lib.stderr);
      assert.match(lib.stdout, /gcp access token ya29\.pim-test-sa-/);
      assert.deepEqual(w.sts.impersonations.slice(-2), [
        { serviceAccount: 'trainer@tpu-training-1.iam.gserviceaccount.com', subject: 'alice@acme.example' },
        { serviceAccount: 'trainer@tpu-training-1.iam.gserviceaccount.com', subject: 'alice@acme.example' },
      ]);
      assert.equal(w.pim('deactivate', 'tpu-trainer').code, 0);
      assert.match((await gcloudToken(w, 'pim-tpu-trainer')).stderr, /role tpu-trainer was deactivated at/);
      assert.equal(w.pim('credentials', 'sweep').code, 0);
      assert.deepEqual(oursLeft(w), []);
    },
  );
});
