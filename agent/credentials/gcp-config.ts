// Google Cloud credentials of an active role (workload identity federation, no Google secret
// anywhere):
//   - the subject token: `pim-cred gcp NAME` prints it in the executable-sourced format Google's
//     libraries and gcloud read (version 1, id_token, expiration_time); after the role ends it says
//     why on stderr and exits 1, which both show the user (gcloud: "Executable exited with non-zero
//     return code 1. Error: pim: role X expired at …");
//   - an external_account credential configuration, $PIM_HOME/creds/gcloud/NAME.json (0600): what
//     GOOGLE_APPLICATION_CREDENTIALS and gcloud's auth/credential_file_override point at;
//   - a gcloud configuration NAME (configurations/config_NAME in gcloud's config folder) whose
//     auth/credential_file_override is that file, so `gcloud --configuration NAME` or
//     CLOUDSDK_ACTIVE_CONFIG_NAME=NAME uses the role.
// Executable-sourced credentials run only when GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1 (Google's
// opt-in); `pim env`/`pim exec` set it.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  UnsafePathError,
  checkEmbeddablePath,
  checkName,
  ensurePrivateDir,
  removeFile,
  writeFileAtomic,
} from '../../platform/fs-safe';

export const GCP_DEFAULT_STS = 'https://sts.googleapis.com';
export const GCP_DEFAULT_IAM_CREDENTIALS = 'https://iamcredentials.googleapis.com';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const MARK = '# written by PIM Agent';

/** What `pim-cred gcp NAME` prints: Google's executable-sourced response, version 1. */
export function gcpExecutableResponse(token: string, expiresAt: Date): object {
  if (typeof token !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
    throw new TypeError('the GCP subject token must be a compact JWT');
  const exp = Math.floor(expiresAt.getTime() / 1000);
  if (!Number.isFinite(exp)) throw new RangeError('expiresAt is not a valid date');
  return { version: 1, success: true, token_type: JWT_TOKEN_TYPE, id_token: token, expiration_time: exp };
}

/** The executable's command line: Google's libraries split it on whitespace, quotes are not honoured. */
export function gcpExecutableCommand(helper: string, name: string): string {
  checkEmbeddablePath(helper, 'credential helper');
  if (/\s/.test(helper))
    throw new UnsafePathError(
      `credential helper ${JSON.stringify(helper)} cannot be used by Google Cloud clients: they split the command on spaces (set PIM_HOME to a path without spaces)`,
    );
  return `${helper} gcp ${checkName(name, 'gcloud configuration name')}`;
}

export interface ExternalAccountInput {
  /** //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X */
  audience: string;
  stsEndpoint: string | null;
  serviceAccount: string | null;
  /** IAM Credentials origin for the impersonation; null: Google's */
  iamCredentialsEndpoint?: string | null;
  command: string;
}

/** An external_account credential configuration (google.aip.dev/auth/4117), executable-sourced. */
export function externalAccountConfig(o: ExternalAccountInput): Record<string, unknown> {
  const sts = (o.stsEndpoint ?? GCP_DEFAULT_STS).replace(/\/+$/, '');
  const iam = (o.iamCredentialsEndpoint ?? GCP_DEFAULT_IAM_CREDENTIALS).replace(/\/+$/, '');
  return {
    type: 'external_account',
    audience: o.audience,
    subject_token_type: JWT_TOKEN_TYPE,
    token_url: `${sts}/v1/token`,
    // gcloud asks it who the federated principal is (the account it shows)
    token_info_url: `${sts}/v1/introspect`,
    ...(o.serviceAccount && {
      service_account_impersonation_url: `${iam}/v1/projects/-/serviceAccounts/${o.serviceAccount}:generateAccessToken`,
    }),
    credential_source: { executable: { command: o.command, timeout_millis: 5000 } },
  };
}

/** gcloud's configuration folder: $CLOUDSDK_CONFIG, else %APPDATA%\gcloud on Windows, else ~/.config/gcloud. */
export function gcloudConfigDir(
  env: NodeJS.ProcessEnv,
  homedir: string,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.CLOUDSDK_CONFIG) return path.resolve(env.CLOUDSDK_CONFIG);
  if (platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'gcloud');
  return path.join(homedir, '.config', 'gcloud');
}

/** The gcloud configuration file (INI) for NAME. */
export function gcloudConfigurationText(o: {
  name: string;
  role: string;
  credentialFile: string;
  project: string | null;
}): string {
  checkName(o.name, 'gcloud configuration name');
  checkEmbeddablePath(o.credentialFile, 'the GCP credential configuration');
  if (o.project !== null && !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(o.project))
    throw new UnsafePathError(`GCP project ${JSON.stringify(o.project)} is not a project ID`);
  return `${MARK} for role ${checkName(o.role, 'role')}; removed when the role ends\n[auth]\ncredential_file_override = ${o.credentialFile}\n${o.project ? `[core]\nproject = ${o.project}\n` : ''}`;
}

export function gcloudConfigurationPath(configDir: string, name: string): string {
  return path.join(configDir, 'configurations', `config_${checkName(name, 'gcloud configuration name')}`);
}

export function externalAccountPath(credsDir: string, name: string): string {
  return path.join(credsDir, 'gcloud', `${checkName(name, 'gcloud configuration name')}.json`);
}

/** Writes the external_account file (0600, in a 0700 folder) and the gcloud configuration. */
export function writeGcpConfig(o: {
  credsDir: string;
  configDir: string;
  name: string;
  role: string;
  project: string | null;
  account: ExternalAccountInput;
}): { credentialFile: string; configuration: string } {
  const credentialFile = externalAccountPath(o.credsDir, o.name);
  ensurePrivateDir(path.dirname(credentialFile));
  writeFileAtomic(credentialFile, `${JSON.stringify(externalAccountConfig(o.account), null, 2)}\n`, 0o600);
  const configuration = gcloudConfigurationPath(o.configDir, o.name);
  // gcloud's own folder: created as gcloud would if missing, never re-permissioned
  fs.mkdirSync(path.dirname(configuration), { recursive: true, mode: 0o700 });
  writeFileAtomic(
    configuration,
    gcloudConfigurationText({ name: o.name, role: o.role, credentialFile, project: o.project }),
    0o600,
  );
  return { credentialFile, configuration };
}

/** Whether the gcloud configuration NAME in that folder is ours (written by PIM Agent for this home). */
export function isOurGcloudConfiguration(configDir: string, name: string, credsDir: string): boolean {
  try {
    const text = fs.readFileSync(gcloudConfigurationPath(configDir, name), 'utf8');
    return (
      text.startsWith(MARK) && text.includes(`credential_file_override = ${externalAccountPath(credsDir, name)}\n`)
    );
  } catch {
    return false;
  }
}

/** Our gcloud configurations in that folder (names pim-…, written by PIM Agent for this home). */
export function listOurGcloudConfigurations(configDir: string, credsDir: string): string[] {
  let files: string[];
  try {
    files = fs.readdirSync(path.join(configDir, 'configurations'));
  } catch {
    return [];
  }
  return files
    .filter((f) => /^config_pim-[a-z0-9-]+$/.test(f))
    .map((f) => f.slice('config_'.length))
    .filter((n) => isOurGcloudConfiguration(configDir, n, credsDir));
}

/** Removes the gcloud configuration (only if ours) and the external_account file. */
export function removeGcpConfig(credsDir: string, configDir: string, name: string): void {
  if (isOurGcloudConfiguration(configDir, name, credsDir)) removeFile(gcloudConfigurationPath(configDir, name));
  removeFile(externalAccountPath(credsDir, name));
}

/**
 * gcloud keeps access tokens between runs in access_tokens.db (its own SQLite cache, keyed by
 * account): an impersonated service account's token would keep gcloud working for up to an hour
 * after the role ended. At the end we delete that account's cached token, so gcloud asks the helper
 * again and is told why. (The token itself stays valid at Google until it expires.)
 */
export function forgetGcloudAccessToken(configDir: string, account: string): void {
  const file = path.join(configDir, 'access_tokens.db');
  if (!fs.existsSync(file)) return;
  const db = new Database(file, { fileMustExist: true, timeout: 2000 });
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'access_tokens'").get();
    if (table) db.prepare('DELETE FROM access_tokens WHERE account_id = ?').run(account);
  } finally {
    db.close();
  }
}
