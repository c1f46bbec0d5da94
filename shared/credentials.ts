// What the control plane hands an agent for an active activation
// (POST /api/v1/activations/:id/credentials, device-signed). Everything here is short-lived and
// bound to that activation: kube tokens live at most 15 minutes (the agent asks again while the
// activation lives; the control plane refuses once it ended), AWS web-identity tokens only long
// enough to call STS, and the SSH certificate exactly the activation's window.

export interface IssuedKube {
  cluster: string;
  /** https URL of the cluster's API server */
  server: string;
  certificateAuthorityData: string | null;
  /** JWT (ES256) signed by the control plane's issuer; `aud` = cluster, `groups` from the grant */
  token: string;
  /** ISO-8601: the token's `exp` */
  expiresAt: string;
}

export interface IssuedAws {
  roleArn: string;
  /** JWT for STS AssumeRoleWithWebIdentity (`aud` from the grant, default sts.amazonaws.com) */
  webIdentityToken: string;
  expiresAt: string;
  /** where to call STS; null: the AWS default for the region */
  stsEndpoint: string | null;
  region: string | null;
  /** RoleSessionName to use: who and which activation, so CloudTrail names the person */
  sessionName: string;
}

export interface IssuedSsh {
  /** "ssh-ed25519-cert-v01@openssh.com AAAA… pim:<user>:<role>" for the request's sshPublicKey */
  certificate: string;
  principals: string[];
  hosts: string[];
  validAfter: string;
  validBefore: string;
}

/** Google Cloud workload identity federation: the subject token an external_account credential
 *  exchanges at STS (RFC 8693), `aud` = https://iam.googleapis.com/<provider> (Google's default
 *  allowed audience for an OIDC provider), `sub` = the user. */
export interface IssuedGcp {
  workloadIdentityProvider: string;
  /** the STS `audience`: //iam.googleapis.com/<workloadIdentityProvider> */
  audience: string;
  serviceAccount: string | null;
  project: string | null;
  /** STS origin; null: https://sts.googleapis.com */
  stsEndpoint: string | null;
  /** IAM Credentials origin (impersonation); null: https://iamcredentials.googleapis.com */
  iamCredentialsEndpoint: string | null;
  subjectToken: string;
  expiresAt: string;
}

/** Azure workload identity federation: the client assertion the Microsoft identity platform accepts
 *  for the app registration's federated identity credential (`aud` = api://AzureADTokenExchange
 *  unless the grant says otherwise, `sub` = pim:role:<role>). */
export interface IssuedAzure {
  tenantId: string;
  clientId: string;
  subscriptionId: string;
  /** identity platform origin; null: https://login.microsoftonline.com */
  authorityHost: string | null;
  token: string;
  expiresAt: string;
}

export interface IssuedCredentials {
  activation: string;
  role: string;
  user: string;
  /** the activation's end: nothing issued outlives it */
  activationExpiresAt: string;
  kube: IssuedKube[];
  aws: IssuedAws[];
  ssh: IssuedSsh[];
  /** absent from control planes older than GCP/Azure support */
  gcp?: IssuedGcp[];
  azure?: IssuedAzure[];
  /** issuer URL (`iss` of the tokens); its keys are at `${issuer}/.well-known/jwks.json` */
  issuer: string;
}
