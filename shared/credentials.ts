// What the control plane hands an agent for an active activation
// (POST /api/v1/activations/:id/credentials, device-signed). Everything here is short-lived and
// bound to that activation: kube tokens live at most 15 minutes (the agent asks again while the
// activation lives; the control plane refuses once it ended), AWS web-identity tokens only long
// enough to call STS, and the SSH certificate exactly the activation's window.
// The schemas are the contract (shared/contracts/activations.ts issueCredentials); the types follow.
import { z } from 'zod';

export const IssuedKubeSchema = z.object({
  cluster: z.string(),
  /** https URL of the cluster's API server */
  server: z.string(),
  certificateAuthorityData: z.string().nullable(),
  /** JWT (ES256) signed by the control plane's issuer; `aud` = cluster, `groups` from the grant */
  token: z.string(),
  /** ISO-8601: the token's `exp` */
  expiresAt: z.string(),
});
export type IssuedKube = z.infer<typeof IssuedKubeSchema>;

export const IssuedAwsSchema = z.object({
  roleArn: z.string(),
  /** JWT for STS AssumeRoleWithWebIdentity (`aud` from the grant, default sts.amazonaws.com) */
  webIdentityToken: z.string(),
  expiresAt: z.string(),
  /** where to call STS; null: the AWS default for the region */
  stsEndpoint: z.string().nullable(),
  region: z.string().nullable(),
  /** RoleSessionName to use: who and which activation, so CloudTrail names the person */
  sessionName: z.string(),
});
export type IssuedAws = z.infer<typeof IssuedAwsSchema>;

export const IssuedSshSchema = z.object({
  /** "ssh-ed25519-cert-v01@openssh.com AAAA… pim:<user>:<role>" for the request's sshPublicKey */
  certificate: z.string(),
  principals: z.array(z.string()),
  hosts: z.array(z.string()),
  validAfter: z.string(),
  validBefore: z.string(),
});
export type IssuedSsh = z.infer<typeof IssuedSshSchema>;

/** Google Cloud workload identity federation: the subject token an external_account credential
 *  exchanges at STS (RFC 8693), `aud` = https://iam.googleapis.com/<provider> (Google's default
 *  allowed audience for an OIDC provider), `sub` = the user. */
export const IssuedGcpSchema = z.object({
  workloadIdentityProvider: z.string(),
  /** the STS `audience`: //iam.googleapis.com/<workloadIdentityProvider> */
  audience: z.string(),
  serviceAccount: z.string().nullable(),
  project: z.string().nullable(),
  /** STS origin; null: https://sts.googleapis.com */
  stsEndpoint: z.string().nullable(),
  /** IAM Credentials origin (impersonation); null: https://iamcredentials.googleapis.com */
  iamCredentialsEndpoint: z.string().nullable(),
  subjectToken: z.string(),
  expiresAt: z.string(),
});
export type IssuedGcp = z.infer<typeof IssuedGcpSchema>;

/** Azure workload identity federation: the client assertion the Microsoft identity platform accepts
 *  for the app registration's federated identity credential (`aud` = api://AzureADTokenExchange
 *  unless the grant says otherwise, `sub` = pim:role:<role>). */
export const IssuedAzureSchema = z.object({
  tenantId: z.string(),
  clientId: z.string(),
  subscriptionId: z.string(),
  /** identity platform origin; null: https://login.microsoftonline.com */
  authorityHost: z.string().nullable(),
  token: z.string(),
  expiresAt: z.string(),
});
export type IssuedAzure = z.infer<typeof IssuedAzureSchema>;

export const IssuedCredentialsSchema = z.object({
  activation: z.string(),
  role: z.string(),
  user: z.string(),
  /** the activation's end: nothing issued outlives it */
  activationExpiresAt: z.string(),
  kube: z.array(IssuedKubeSchema),
  aws: z.array(IssuedAwsSchema),
  ssh: z.array(IssuedSshSchema),
  /** absent from control planes older than GCP/Azure support */
  gcp: z.array(IssuedGcpSchema).optional(),
  azure: z.array(IssuedAzureSchema).optional(),
  /** issuer URL (`iss` of the tokens); its keys are at `${issuer}/.well-known/jwks.json` */
  issuer: z.string(),
});
export type IssuedCredentials = z.infer<typeof IssuedCredentialsSchema>;
