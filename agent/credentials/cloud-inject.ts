// The GCP and Azure part of the credential manager (manager.ts keeps the lifecycle: rows, renewals,
// tombstones, sweeps; this file knows what to write and where for these two clouds).
//   gcp:   row (gcp, NAME, gcloud config folder); `pim-cred gcp NAME` credential + external_account
//          file + gcloud configuration NAME (gcp-config.ts)
//   azure: row (azure, NAME, token file); the federated token file (azure-token.ts)
// NAME is pim-<role>, or pim-<role>--<n> when a role grants several.
import type { IssuedAzure, IssuedGcp } from '../../shared/credentials';
import type { InjectionView } from '../../shared/api';
import { azureEnv, azureTokenPath, listAzureTokens, removeAzureToken, writeAzureToken } from './azure-token';
import { writeCredential } from './cred-helper';
import { checkName } from '../../platform/fs-safe';
import {
  externalAccountPath,
  forgetGcloudAccessToken,
  gcloudConfigDir,
  gcpExecutableCommand,
  gcpExecutableResponse,
  isOurGcloudConfiguration,
  listOurGcloudConfigurations,
  removeGcpConfig,
  writeGcpConfig,
} from './gcp-config';
import { errorMessage } from '../../shared/errors';

type Item = InjectionView['items'][number];

export interface CloudContext {
  credsDir: string;
  env: NodeJS.ProcessEnv;
  homedir: string;
  /** the pim-cred script */
  helper: string;
  role: string;
  activation: string;
  end: Date;
  now: Date;
  /** records the row before anything is written (a crash leaves a row to sweep) */
  upsert: (kind: 'gcp' | 'azure', name: string, target: string, detail: object) => void;
  /** what could not be done, in words: one grant failing does not stop the others */
  warn: (message: string) => void;
}

export interface CloudRow {
  kind: string;
  name: string;
  target: string;
  detail_json: string;
}

/** pim-<role>, or pim-<role>--<n> (1-based) when the role grants several of a kind */
export function cloudName(role: string, i: number, count: number): string {
  return checkName(count === 1 ? `pim-${role}` : `pim-${role}--${i + 1}`, 'credential name');
}

const earlier = (a: Date, b: Date) => (a < b ? a : b);

/** item null: that grant failed (a warning says why); expires: when to try again or renew */
type Injected = { item: Item | null; expires: Date };

/** each grant on its own: a failure becomes a warning, retried with the next renewal (in a minute) */
function each<T>(
  c: CloudContext,
  what: (g: T) => string,
  list: readonly T[],
  f: (g: T, i: number) => Injected,
): Injected[] {
  const out: Injected[] = [];
  list.forEach((g, i) => {
    try {
      out.push(f(g, i));
    } catch (e) {
      c.warn(`${c.role}: ${what(g)} not set up: ${errorMessage(e)}`);
      out.push({ item: null, expires: new Date(c.now.getTime() + 60_000) });
    }
  });
  return out;
}

export function injectGcp(issued: readonly IssuedGcp[], c: CloudContext, first: boolean): Injected[] {
  const configDir = gcloudConfigDir(c.env, c.homedir);
  return each(
    c,
    (g) => `GCP ${g.workloadIdentityProvider}`,
    issued,
    (g, i) => {
      const name = cloudName(c.role, i, issued.length);
      const exp = earlier(new Date(g.expiresAt), c.end);
      c.upsert('gcp', name, configDir, {
        workloadIdentityProvider: g.workloadIdentityProvider,
        serviceAccount: g.serviceAccount,
        project: g.project,
      });
      // the credential first: the configuration must never point at a helper with nothing to say
      writeCredential(c.credsDir, 'gcp', name, gcpExecutableResponse(g.subjectToken, exp), {
        role: c.role,
        activationEnd: c.end,
        credentialExpires: exp,
      });
      if (first || !isOurGcloudConfiguration(configDir, name, c.credsDir)) {
        writeGcpConfig({
          credsDir: c.credsDir,
          configDir,
          name,
          role: c.role,
          project: g.project,
          account: {
            audience: g.audience,
            stsEndpoint: g.stsEndpoint,
            serviceAccount: g.serviceAccount,
            iamCredentialsEndpoint: g.iamCredentialsEndpoint ?? null,
            command: gcpExecutableCommand(c.helper, name),
          },
        });
      }
      return { item: { kind: 'gcp', name, where: configDir }, expires: exp };
    },
  );
}

export function injectAzure(issued: readonly IssuedAzure[], c: CloudContext): Injected[] {
  return each(
    c,
    (g) => `Azure app ${g.clientId}`,
    issued,
    (g, i) => {
      const name = cloudName(c.role, i, issued.length);
      const exp = earlier(new Date(g.expiresAt), c.end);
      const file = azureTokenPath(c.credsDir, name);
      c.upsert('azure', name, file, {
        tenantId: g.tenantId,
        clientId: g.clientId,
        subscriptionId: g.subscriptionId,
        authorityHost: g.authorityHost,
      });
      writeAzureToken(c.credsDir, name, g.token);
      return { item: { kind: 'azure', name, where: file }, expires: exp };
    },
  );
}

/** The role ended (tombstone or removal): gcloud must not go on with a cached token of ours. */
export function endCloudEntry(r: CloudRow): void {
  if (r.kind !== 'gcp') return;
  const sa = (JSON.parse(r.detail_json) as { serviceAccount?: string | null }).serviceAccount;
  if (sa) forgetGcloudAccessToken(r.target, sa);
}

/** What the manager's removeEntry adds for these kinds (the `pim-cred` credential is its own). */
export function removeCloudEntry(credsDir: string, r: CloudRow): void {
  endCloudEntry(r);
  if (r.kind === 'gcp') removeGcpConfig(credsDir, r.target, r.name);
  if (r.kind === 'azure') removeAzureToken(credsDir, r.name);
}

/** Files of ours that no row accounts for: a crash between writing and recording, a CLOUDSDK_CONFIG that moved. */
export function removeCloudStrays(
  o: {
    credsDir: string;
    env: NodeJS.ProcessEnv;
    homedir: string;
    known: (kind: string, name: string, target?: string) => boolean;
  },
  report: { warnings: string[] },
): void {
  try {
    const configDir = gcloudConfigDir(o.env, o.homedir);
    for (const n of listOurGcloudConfigurations(configDir, o.credsDir))
      if (!o.known('gcp', n, configDir)) removeGcpConfig(o.credsDir, configDir, n);
    for (const n of listAzureTokens(o.credsDir)) if (!o.known('azure', n)) removeAzureToken(o.credsDir, n);
  } catch (e) {
    report.warnings.push(`could not check for leftover GCP/Azure credentials: ${errorMessage(e)}`);
  }
}

/** `pim env` / `pim exec` for these kinds: the first GCP grant's configuration and the first Azure grant's identity. */
export function cloudEnv(credsDir: string, rows: readonly CloudRow[]): Record<string, string> {
  const env: Record<string, string> = {};
  const byName = (a: CloudRow, b: CloudRow) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const gcp = rows.filter((r) => r.kind === 'gcp').sort(byName)[0];
  if (gcp) {
    env.CLOUDSDK_ACTIVE_CONFIG_NAME = gcp.name;
    env.GOOGLE_APPLICATION_CREDENTIALS = externalAccountPath(credsDir, gcp.name);
    // Google's opt-in for executable-sourced credentials (our helper)
    env.GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES = '1';
    // the client libraries' project (without it they ask Cloud Resource Manager, or gcloud)
    const project = (JSON.parse(gcp.detail_json) as { project?: string | null }).project;
    if (project) env.GOOGLE_CLOUD_PROJECT = project;
  }
  const azure = rows.filter((r) => r.kind === 'azure').sort(byName)[0];
  if (azure) {
    const d = JSON.parse(azure.detail_json) as {
      tenantId: string;
      clientId: string;
      subscriptionId: string;
      authorityHost: string | null;
    };
    Object.assign(env, azureEnv({ ...d, tokenFile: azure.target }));
  }
  return env;
}
