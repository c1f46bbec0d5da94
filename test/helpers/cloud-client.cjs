// A cloud SDK as a user's program runs it, configured only by its environment (what `pim env` /
// `pim exec` set): `node cloud-client.cjs gcp` gets a Google access token through
// google-auth-library's default credentials (GOOGLE_APPLICATION_CREDENTIALS -> external_account),
// `node cloud-client.cjs azure` an Azure Resource Manager token through @azure/identity's
// WorkloadIdentityCredential (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE,
// AZURE_AUTHORITY_HOST). Prints the token's first characters on success; on failure the SDK's own
// message on stderr and exit 1.
'use strict';
const which = process.argv[2];

async function main() {
  if (which === 'gcp') {
    const { GoogleAuth } = require('google-auth-library');
    const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    const token = await auth.getAccessToken();
    return `gcp access token ${String(token).slice(0, 18)}`;
  }
  if (which === 'azure') {
    const { WorkloadIdentityCredential } = require('@azure/identity');
    const token = await new WorkloadIdentityCredential().getToken('https://management.azure.com/.default');
    return `azure access token ${token.token.slice(0, 18)}`;
  }
  throw new Error('usage: cloud-client.cjs gcp|azure');
}

main().then(
  (line) => process.stdout.write(`${line}\n`),
  (e) => {
    // the SDK's message, and what the server said when there was an HTTP answer (gaxios keeps it apart)
    const data =
      e && e.response && e.response.data ? ` (${e.response.status}: ${JSON.stringify(e.response.data)})` : '';
    process.stderr.write(`${e && e.message ? e.message : String(e)}${data}\n`);
    process.exit(1);
  },
);
