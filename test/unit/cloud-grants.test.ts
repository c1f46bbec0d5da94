// GCP and Azure grants: validated at publish with the field, its line and a fix; compiled only when
// present (a policy without them signs the same bytes as before); minted with the audience and
// subject each cloud documents; written by the agent in the formats gcloud and the SDKs read.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { cloudEnv, cloudName, injectAzure, injectGcp, removeCloudStrays } from '../../agent/credentials/cloud-inject';
import { writeAzureToken } from '../../agent/credentials/azure-token';
import {
  externalAccountConfig,
  gcloudConfigDir,
  gcloudConfigurationText,
  gcpExecutableCommand,
  gcpExecutableResponse,
  writeGcpConfig,
} from '../../agent/credentials/gcp-config';
import { mintCredentials } from '../../server/credentials/issue';
import { IssuerKeys } from '../../server/credentials/issuer-keys';
import { SshCa } from '../../server/credentials/ssh-ca';
import { canonicalJson } from '../../shared/canonical';
import { compilePolicy } from '../../shared/policy/compile';
import { CompiledRoleSchema } from '../../shared/policy/compiled-schema';
import { parsePolicyYaml, type PolicyError } from '../../shared/policy/parse-yaml';
import { tmpDir } from '../helpers/repo';

const PROVIDER = 'projects/123456789012/locations/global/workloadIdentityPools/ml-pool/providers/pim-agent';
const TENANT = '72F988BF-86F1-41AF-91AB-2D7CD011DB47';
const CLIENT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const SUB = '11111111-2222-4333-8444-555555555555';

function policy(grants: string[]): string {
  return [
    'roles:',
    '  - name: ml-multicloud',
    '    eligible: { groups: [ml] }',
    '    activation: { maxDuration: 2h }',
    '    grants:',
    ...grants.map((g) => `      ${g}`),
    '',
  ].join('\n');
}

function errorsOf(text: string): PolicyError[] {
  const r = parsePolicyYaml(text);
  assert.equal(r.ok, false, 'expected the policy to be rejected');
  return r.ok ? [] : r.errors;
}

function compiledRole(text: string) {
  const r = parsePolicyYaml(text);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return compilePolicy(r.policy).roles.roles[0]!;
}

test('a GCP and an Azure grant compile to what the agent needs, GUIDs in lower case; the compiled schema accepts it', () => {
  const role = compiledRole(
    policy([
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', serviceAccount: trainer@tpu-prod.iam.gserviceaccount.com, project: tpu-prod }]`,
      `azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUB} }]`,
    ]),
  );
  assert.deepEqual(role.grants.gcp, [
    {
      workloadIdentityProvider: PROVIDER,
      serviceAccount: 'trainer@tpu-prod.iam.gserviceaccount.com',
      project: 'tpu-prod',
    },
  ]);
  assert.deepEqual(role.grants.azure, [{ tenantId: TENANT.toLowerCase(), clientId: CLIENT, subscriptionId: SUB }]);
  assert.equal(CompiledRoleSchema.safeParse(role).success, true);
});

test('a role without cloud grants compiles to the same bytes as before (no gcp/azure keys)', () => {
  const role = compiledRole(policy(['ssh: [{ principals: [ops], hosts: [bastion] }]']));
  assert.equal('gcp' in role.grants, false);
  assert.equal('azure' in role.grants, false);
  assert.equal(
    canonicalJson(role.grants),
    canonicalJson({ kubernetes: [], aws: [], ssh: [{ principals: ['ops'], hosts: ['bastion'] }] }),
  );
});

test('bad grant fields are refused at publish with their path, their line and the expected format', () => {
  const cases: [string, string, RegExp][] = [
    [
      `gcp: [{ workloadIdentityProvider: 'projects/ml/locations/global/workloadIdentityPools/p/providers/x' }]`,
      'roles[0].grants.gcp[0].workloadIdentityProvider',
      /must look like projects\/123456789012\/locations\/global\/workloadIdentityPools\/POOL\/providers\/PROVIDER/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: "${PROVIDER}\\n" }]`,
      'roles[0].grants.gcp[0].workloadIdentityProvider',
      /must not contain spaces, newlines or control characters/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', serviceAccount: "trainer\\u0007@x.iam.gserviceaccount.com" }]`,
      'roles[0].grants.gcp[0].serviceAccount',
      /must not contain spaces, newlines or control characters/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', serviceAccount: trainer@gmail.com }]`,
      'roles[0].grants.gcp[0].serviceAccount',
      /name@project-id\.iam\.gserviceaccount\.com/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', stsEndpoint: 'http://sts.example.com' }]`,
      'roles[0].grants.gcp[0].stsEndpoint',
      /must be an https:\/\/ origin/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', stsEndpoint: 'https://sts.example.com/v1/token' }]`,
      'roles[0].grants.gcp[0].stsEndpoint',
      /scheme, host and port only/,
    ],
    [
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}', iamCredentialsEndpoint: 'https://iam.example.com' }]`,
      'roles[0].grants.gcp[0].iamCredentialsEndpoint',
      /only used to impersonate a serviceAccount: name one, or remove it/,
    ],
    [
      `azure: [{ tenantId: acme.onmicrosoft.com, clientId: ${CLIENT}, subscriptionId: ${SUB} }]`,
      'roles[0].grants.azure[0].tenantId',
      /must look like 00000000-0000-0000-0000-000000000000 \(a GUID\)/,
    ],
    [
      `azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUB}, audience: "api://x\\ty" }]`,
      'roles[0].grants.azure[0].audience',
      /must not contain spaces, newlines or control characters/,
    ],
    [
      `azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT} }]`,
      'roles[0].grants.azure[0].subscriptionId',
      /subscriptionId is required/,
    ],
    [
      `azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUB}, secret: hunter2 }]`,
      'roles[0].grants.azure[0].secret',
      /unknown field "secret"/,
    ],
  ];
  for (const [grant, path, message] of cases) {
    const errors = errorsOf(policy([grant]));
    const e = errors.find((x) => x.path === path);
    assert.ok(e, `${grant}: expected an error at ${path}, got ${JSON.stringify(errors)}`);
    assert.match(e.message, message, grant);
    assert.equal(e.line, 6, `${grant}: the grant's line`);
  }
});

test('minted GCP and Azure tokens carry the audience and subject each cloud documents, and end with the activation', async () => {
  const dir = tmpDir();
  const keys = new IssuerKeys(dir);
  const role = compiledRole(
    policy([
      `gcp: [{ workloadIdentityProvider: '${PROVIDER}' }]`,
      `azure: [{ tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUB} }, { tenantId: ${TENANT}, clientId: ${CLIENT}, subscriptionId: ${SUB}, audience: 'api://AzureADTokenExchangeUSGov', authorityHost: 'https://login.microsoftonline.us' }]`,
    ]),
  );
  const now = new Date('2026-03-02T09:00:00.000Z');
  const activation = {
    id: 'act1',
    user: 'alice@acme.example',
    role: role.name,
    startsAt: now,
    expiresAt: new Date(now.getTime() + 120_000),
    sshPublicKey: null,
  };
  const issued = await mintCredentials({
    issuer: 'https://pim.acme.example',
    now,
    activation,
    role,
    clusters: [],
    keys,
    ca: new SshCa(dir),
    kubeTtl: 900,
  });
  const jwks = createLocalJWKSet(await keys.jwks());
  const g = issued.gcp![0]!;
  assert.equal(g.audience, `//iam.googleapis.com/${PROVIDER}`);
  const gc = (
    await jwtVerify(g.subjectToken, jwks, {
      issuer: 'https://pim.acme.example',
      audience: `https://iam.googleapis.com/${PROVIDER}`,
      currentDate: now,
    })
  ).payload;
  assert.equal(gc.sub, 'alice@acme.example');
  assert.equal(gc.pim_role, 'ml-multicloud');
  assert.equal(gc.exp, Math.floor(now.getTime() / 1000) + 120, 'never past the activation');
  const [a1, a2] = issued.azure!;
  const ac = (
    await jwtVerify(a1!.token, jwks, {
      issuer: 'https://pim.acme.example',
      audience: 'api://AzureADTokenExchange',
      subject: 'pim:role:ml-multicloud',
      currentDate: now,
    })
  ).payload;
  assert.equal(ac.email, 'alice@acme.example');
  assert.equal(a1!.authorityHost, null);
  assert.equal(decodeJwt(a2!.token).aud, 'api://AzureADTokenExchangeUSGov');
  assert.equal(a2!.authorityHost, 'https://login.microsoftonline.us');
});

test('the agent writes an executable-sourced external_account file, a gcloud configuration and the cloud environment', () => {
  const cfg = externalAccountConfig({
    audience: `//iam.googleapis.com/${PROVIDER}`,
    stsEndpoint: null,
    serviceAccount: 'trainer@tpu-prod.iam.gserviceaccount.com',
    command: '/h/creds/bin/pim-cred gcp pim-ml',
  });
  assert.deepEqual(cfg, {
    type: 'external_account',
    audience: `//iam.googleapis.com/${PROVIDER}`,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: 'https://sts.googleapis.com/v1/token',
    token_info_url: 'https://sts.googleapis.com/v1/introspect',
    service_account_impersonation_url:
      'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/trainer@tpu-prod.iam.gserviceaccount.com:generateAccessToken',
    credential_source: { executable: { command: '/h/creds/bin/pim-cred gcp pim-ml', timeout_millis: 5000 } },
  });
  assert.deepEqual(gcpExecutableResponse('a.b.c', new Date('2026-03-02T09:15:00.900Z')), {
    version: 1,
    success: true,
    token_type: 'urn:ietf:params:oauth:token-type:jwt',
    id_token: 'a.b.c',
    expiration_time: 1772442900,
  });
  assert.throws(() => gcpExecutableResponse('not a jwt', new Date()), /compact JWT/);
  assert.throws(
    () => gcpExecutableCommand('/home/my user/.pim/creds/bin/pim-cred', 'pim-ml'),
    /split the command on spaces/,
  );
  assert.equal(
    gcloudConfigurationText({
      name: 'pim-ml',
      role: 'ml',
      credentialFile: '/h/creds/gcloud/pim-ml.json',
      project: 'tpu-prod',
    }),
    '# written by PIM Agent for role ml; removed when the role ends\n[auth]\ncredential_file_override = /h/creds/gcloud/pim-ml.json\n[core]\nproject = tpu-prod\n',
  );
  assert.throws(
    () => gcloudConfigurationText({ name: 'pim-ml', role: 'ml', credentialFile: '/h/x.json', project: 'x\n[auth]' }),
    /not a project ID/,
  );
  assert.equal(gcloudConfigDir({ CLOUDSDK_CONFIG: '/tmp/g' }, '/home/a'), '/tmp/g');
  assert.equal(gcloudConfigDir({}, '/home/a', 'linux'), '/home/a/.config/gcloud');
  assert.deepEqual([cloudName('ml', 0, 1), cloudName('ml', 1, 2)], ['pim-ml', 'pim-ml--2']);
  assert.deepEqual(
    cloudEnv('/h/creds', [
      {
        kind: 'gcp',
        name: 'pim-ml',
        target: '/home/a/.config/gcloud',
        detail_json: JSON.stringify({ project: 'tpu-prod' }),
      },
      {
        kind: 'azure',
        name: 'pim-ml',
        target: '/h/creds/azure/pim-ml.jwt',
        detail_json: JSON.stringify({ tenantId: 't', clientId: 'c', subscriptionId: 's', authorityHost: null }),
      },
    ]),
    {
      CLOUDSDK_ACTIVE_CONFIG_NAME: 'pim-ml',
      GOOGLE_APPLICATION_CREDENTIALS: '/h/creds/gcloud/pim-ml.json',
      GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES: '1',
      GOOGLE_CLOUD_PROJECT: 'tpu-prod',
      AZURE_CLIENT_ID: 'c',
      AZURE_TENANT_ID: 't',
      AZURE_SUBSCRIPTION_ID: 's',
      AZURE_FEDERATED_TOKEN_FILE: '/h/creds/azure/pim-ml.jwt',
    },
  );
});

test("the sweep removes our gcloud configurations and Azure token files that no row accounts for, and nothing of the user's", () => {
  const dir = tmpDir();
  const credsDir = path.join(dir, 'pim', 'creds');
  const configDir = path.join(dir, 'gcloud');
  const account = {
    audience: `//iam.googleapis.com/${PROVIDER}`,
    stsEndpoint: null,
    serviceAccount: null,
    command: '/h/creds/bin/pim-cred gcp x',
  };
  const kept = writeGcpConfig({ credsDir, configDir, name: 'pim-live', role: 'live', project: null, account });
  const stray = writeGcpConfig({ credsDir, configDir, name: 'pim-crashed', role: 'crashed', project: null, account });
  assert.equal(fs.statSync(stray.credentialFile).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(stray.credentialFile)).mode & 0o777, 0o700);
  // the user's own configuration that happens to be called pim-…, and their default one
  fs.writeFileSync(path.join(configDir, 'configurations', 'config_pim-mine'), '[core]\nproject = mine\n');
  fs.writeFileSync(path.join(configDir, 'configurations', 'config_default'), '[core]\naccount = me@example.com\n');
  writeAzureToken(credsDir, 'pim-live', 'a.b.c');
  const strayToken = writeAzureToken(credsDir, 'pim-crashed', 'a.b.c');
  const rows = [
    { kind: 'gcp', name: 'pim-live', target: configDir },
    { kind: 'azure', name: 'pim-live', target: path.join(credsDir, 'azure', 'pim-live.jwt') },
  ];
  const report = { warnings: [] as string[] };
  removeCloudStrays(
    {
      credsDir,
      env: { CLOUDSDK_CONFIG: configDir },
      homedir: dir,
      known: (kind, name, target) =>
        rows.some((r) => r.kind === kind && r.name === name && (target === undefined || r.target === target)),
    },
    report,
  );
  assert.deepEqual(report.warnings, []);
  assert.deepEqual(fs.readdirSync(path.join(configDir, 'configurations')).sort(), [
    'config_default',
    'config_pim-live',
    'config_pim-mine',
  ]);
  assert.equal(fs.existsSync(kept.credentialFile), true);
  assert.equal(fs.existsSync(stray.credentialFile), false);
  assert.equal(fs.existsSync(strayToken), false);
  assert.deepEqual(fs.readdirSync(path.join(credsDir, 'azure')), ['pim-live.jwt']);
});

test('a grant that cannot be set up is a warning naming it; the other cloud still gets its credentials', () => {
  const dir = tmpDir();
  const now = new Date();
  const end = new Date(now.getTime() + 3600_000);
  const warnings: string[] = [];
  const rows: string[] = [];
  const c = {
    credsDir: path.join(dir, 'creds'),
    env: { CLOUDSDK_CONFIG: path.join(dir, 'gcloud') },
    homedir: dir,
    helper: path.join(dir, 'my pim', 'pim-cred'), // a space: Google's libraries would split the command there
    role: 'ml',
    activation: 'act1',
    end,
    now,
    upsert: (kind: string, name: string) => void rows.push(`${kind}:${name}`),
    warn: (m: string) => void warnings.push(m),
  };
  const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
  const gcp = injectGcp(
    [
      {
        workloadIdentityProvider: PROVIDER,
        audience: `//iam.googleapis.com/${PROVIDER}`,
        serviceAccount: null,
        project: null,
        stsEndpoint: null,
        iamCredentialsEndpoint: null,
        subjectToken: token,
        expiresAt: end.toISOString(),
      },
    ],
    c,
    true,
  );
  assert.equal(gcp[0]!.item, null);
  assert.ok(gcp[0]!.expires.getTime() - now.getTime() <= 60_000, 'tried again within a minute');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, new RegExp(`^ml: GCP ${PROVIDER} not set up: .*split the command on spaces`));
  assert.equal(
    fs.existsSync(path.join(dir, 'gcloud', 'configurations', 'config_pim-ml')),
    false,
    'no configuration pointing at a helper that cannot run',
  );
  const azure = injectAzure(
    [
      {
        tenantId: TENANT.toLowerCase(),
        clientId: CLIENT,
        subscriptionId: SUB,
        authorityHost: null,
        token,
        expiresAt: end.toISOString(),
      },
    ],
    c,
  );
  assert.deepEqual(azure[0]!.item, {
    kind: 'azure',
    name: 'pim-ml',
    where: path.join(dir, 'creds', 'azure', 'pim-ml.jwt'),
  });
  assert.equal(fs.readFileSync(azure[0]!.item.where, 'utf8'), token);
  assert.equal(fs.statSync(azure[0]!.item.where).mode & 0o777, 0o600);
  assert.deepEqual(
    rows,
    ['gcp:pim-ml', 'azure:pim-ml'],
    'rows are written first, so the sweep finds anything half-done',
  );
});
