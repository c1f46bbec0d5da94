// Audiences and subjects of the tokens Google Cloud and Azure exchange, as each documents them:
//
// - Google Cloud STS (workload identity federation, OIDC provider): when the provider lists no
//   allowed audiences, the token's `aud` must be the provider's full resource name with an https
//   scheme, https://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X;
//   the STS request's `audience` is the same name without the scheme (//iam.googleapis.com/…).
//   `sub` is the user (mapped to google.subject, at most 127 bytes); pim_role and pim_activation can
//   be mapped to attributes for conditions.
// - Microsoft identity platform (federated identity credential on an app registration): issuer,
//   subject and audience must equal the credential's exactly; the recommended audience is
//   api://AzureADTokenExchange. The subject names the role (pim:role:<role>), so one federated
//   credential per role trusts every activation of it; who activated is in the token's claims.
import type { IssuedAzure, IssuedGcp } from '../../shared/credentials';
import type { AzureGrant, GcpGrant } from '../../shared/policy/cloud-grants';
import type { IssuerKeys } from './issuer-keys';
import { signToken } from './issue';

export const DEFAULT_AZURE_AUDIENCE = 'api://AzureADTokenExchange';

/** the STS `audience` parameter (and external_account `audience`) */
export function gcpStsAudience(provider: string): string {
  return `//iam.googleapis.com/${provider}`;
}

/** the subject token's `aud`: Google's default allowed audience for an OIDC provider */
export function gcpTokenAudience(provider: string): string {
  return `https://iam.googleapis.com/${provider}`;
}

export function azureSubject(role: string): string {
  return `pim:role:${role}`;
}

interface CloudInput {
  keys: IssuerKeys;
  issuer: string;
  user: string;
  role: string;
  /** claims every token carries (email, pim_role, pim_activation) */
  common: Record<string, unknown>;
  iat: number;
  exp: number;
}

export async function mintGcp(grants: readonly GcpGrant[], c: CloudInput): Promise<IssuedGcp[]> {
  const out: IssuedGcp[] = [];
  for (const g of grants) {
    const subjectToken = await signToken(c.keys, {
      iss: c.issuer,
      sub: c.user,
      aud: gcpTokenAudience(g.workloadIdentityProvider),
      iat: c.iat,
      exp: c.exp,
      extra: { ...c.common, email_verified: true },
    });
    out.push({
      workloadIdentityProvider: g.workloadIdentityProvider,
      audience: gcpStsAudience(g.workloadIdentityProvider),
      serviceAccount: g.serviceAccount ?? null,
      project: g.project ?? null,
      stsEndpoint: g.stsEndpoint ?? null,
      iamCredentialsEndpoint: g.iamCredentialsEndpoint ?? null,
      subjectToken,
      expiresAt: new Date(c.exp * 1000).toISOString(),
    });
  }
  return out;
}

export async function mintAzure(grants: readonly AzureGrant[], c: CloudInput): Promise<IssuedAzure[]> {
  const out: IssuedAzure[] = [];
  for (const g of grants) {
    const token = await signToken(c.keys, {
      iss: c.issuer,
      sub: azureSubject(c.role),
      aud: g.audience ?? DEFAULT_AZURE_AUDIENCE,
      iat: c.iat,
      exp: c.exp,
      extra: c.common,
    });
    out.push({
      tenantId: g.tenantId,
      clientId: g.clientId,
      subscriptionId: g.subscriptionId,
      authorityHost: g.authorityHost ?? null,
      token,
      expiresAt: new Date(c.exp * 1000).toISOString(),
    });
  }
  return out;
}
