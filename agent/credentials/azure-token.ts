// Azure credentials of an active role (workload identity federation, no client secret anywhere):
// a federated token file, $PIM_HOME/creds/azure/NAME.jwt (0600, in a 0700 folder), renewed while the
// role is active. `pim env` points AZURE_FEDERATED_TOKEN_FILE at it with AZURE_CLIENT_ID and
// AZURE_TENANT_ID — what the Azure Identity libraries' WorkloadIdentityCredential (and
// DefaultAzureCredential) read, and what `az login --service-principal --federated-token` takes.
// The file is removed when the role ends: the libraries read it themselves, so what they report
// then is that the file (named after the role) is missing.
import fs from 'node:fs';
import path from 'node:path';
import { checkName, ensurePrivateDir, removeFile, writeFileAtomic } from '../../platform/fs-safe';

export const AZURE_DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';

export function azureTokenPath(credsDir: string, name: string): string {
  return path.join(credsDir, 'azure', `${checkName(name, 'Azure credential name')}.jwt`);
}

export function writeAzureToken(credsDir: string, name: string, token: string): string {
  if (typeof token !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
    throw new TypeError('the Azure federated token must be a compact JWT');
  const file = azureTokenPath(credsDir, name);
  ensurePrivateDir(path.dirname(file));
  writeFileAtomic(file, token, 0o600);
  return file;
}

export function removeAzureToken(credsDir: string, name: string): void {
  removeFile(azureTokenPath(credsDir, name));
}

/** Names of the token files present (for the sweep of strays). */
export function listAzureTokens(credsDir: string): string[] {
  try {
    return fs
      .readdirSync(path.join(credsDir, 'azure'))
      .filter((f) => /^[a-z0-9][a-z0-9-]*\.jwt$/.test(f))
      .map((f) => f.slice(0, -4));
  } catch {
    return [];
  }
}

/** The environment of `pim env` for one Azure grant. */
export function azureEnv(o: {
  tenantId: string;
  clientId: string;
  subscriptionId: string;
  tokenFile: string;
  authorityHost: string | null;
}): Record<string, string> {
  return {
    AZURE_CLIENT_ID: o.clientId,
    AZURE_TENANT_ID: o.tenantId,
    AZURE_SUBSCRIPTION_ID: o.subscriptionId,
    AZURE_FEDERATED_TOKEN_FILE: o.tokenFile,
    ...(o.authorityHost && { AZURE_AUTHORITY_HOST: o.authorityHost }),
  };
}
