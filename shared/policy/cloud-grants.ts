// Grant schemas for Google Cloud and Azure workload identity federation (source form). Every field
// ends up in a file a cloud client reads (an external_account JSON, a gcloud configuration, the
// environment of `pim env`), so each is held to the format its cloud documents, on one line, with
// no control characters, before it is ever signed into a policy.
import { z } from 'zod';

const LINE_BREAKING = /[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A string field with a documented format: refused first for spaces and control characters (so the
 *  admin learns that, not only "does not look like"), then against the format. */
const formatted = (field: string, re: RegExp, example: string) =>
  z
    .string({ error: `${field} must be a string` })
    .superRefine((s, ctx) => {
      if (LINE_BREAKING.test(s))
        ctx.addIssue({
          code: 'custom',
          message: `${field} must not contain spaces, newlines or control characters`,
          continue: false,
        });
    })
    .refine((s) => re.test(s), `${field} must look like ${example}`);

/** Pool and provider IDs: 4-32 lower-case letters, digits and '-' (Google's rule for both). */
const WIF_ID = '[a-z0-9][a-z0-9-]{2,30}[a-z0-9]';
export const WORKLOAD_IDENTITY_PROVIDER_RE = new RegExp(
  `^projects/[0-9]{1,19}/locations/global/workloadIdentityPools/${WIF_ID}/providers/${WIF_ID}$`,
);
/** user-managed (…@P.iam.gserviceaccount.com) and Google-managed (…@developer.gserviceaccount.com, …@appspot.gserviceaccount.com) */
export const SERVICE_ACCOUNT_RE = /^[a-z0-9][a-z0-9._-]{0,62}@(?:[a-z0-9-]+\.)+gserviceaccount\.com$/;
export const GCP_PROJECT_RE = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An endpoint override: https, or plain http only to this machine (tests, local stand-ins). No path
 *  query or fragment: the clients append their own paths. */
const endpoint = (field: string) =>
  formatted(field, /^https?:\/\/\S+$/, 'https://host[:port]').refine((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return false;
    }
    const local = u.protocol === 'http:' && /^(localhost|127\.0\.0\.1|\[::1\])$/.test(u.hostname);
    return (
      (u.protocol === 'https:' || local) && u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password
    );
  }, `${field} must be an https:// origin (scheme, host and port only)`);

export const GcpGrantSchema = z
  .strictObject({
    workloadIdentityProvider: formatted(
      'workloadIdentityProvider',
      WORKLOAD_IDENTITY_PROVIDER_RE,
      'projects/123456789012/locations/global/workloadIdentityPools/POOL/providers/PROVIDER',
    ),
    /** impersonated after the token exchange (the federated principal needs roles/iam.workloadIdentityUser on it) */
    serviceAccount: formatted(
      'serviceAccount',
      SERVICE_ACCOUNT_RE,
      'name@project-id.iam.gserviceaccount.com',
    ).optional(),
    /** gcloud's core/project in the pim-<role> configuration */
    project: formatted('project', GCP_PROJECT_RE, 'my-project-123 (6-30 lower-case letters, digits or -)').optional(),
    /** Security Token Service origin; default https://sts.googleapis.com */
    stsEndpoint: endpoint('stsEndpoint').optional(),
    /** IAM Credentials origin for the impersonation; default https://iamcredentials.googleapis.com */
    iamCredentialsEndpoint: endpoint('iamCredentialsEndpoint').optional(),
  })
  .superRefine((g, ctx) => {
    if (g.iamCredentialsEndpoint !== undefined && g.serviceAccount === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['iamCredentialsEndpoint'],
        message: 'iamCredentialsEndpoint is only used to impersonate a serviceAccount: name one, or remove it',
      });
    }
  });

export const AzureGrantSchema = z.strictObject({
  tenantId: formatted('tenantId', GUID_RE, '00000000-0000-0000-0000-000000000000 (a GUID)'),
  clientId: formatted(
    'clientId',
    GUID_RE,
    "00000000-0000-0000-0000-000000000000 (the app registration's application ID)",
  ),
  subscriptionId: formatted('subscriptionId', GUID_RE, '00000000-0000-0000-0000-000000000000 (a GUID)'),
  /** the federated identity credential's audience; default api://AzureADTokenExchange */
  audience: formatted('audience', /^[\x21-\x7e]{1,200}$/, 'api://AzureADTokenExchange').optional(),
  /** Microsoft identity platform origin (sovereign clouds); default https://login.microsoftonline.com */
  authorityHost: endpoint('authorityHost').optional(),
});

export type GcpGrant = z.output<typeof GcpGrantSchema>;
export type AzureGrant = z.output<typeof AzureGrantSchema>;

/** Compiled form: optional fields left out rather than undefined, so JSON and JCS agree. */
export function compileGcpGrant(g: GcpGrant): GcpGrant {
  return {
    workloadIdentityProvider: g.workloadIdentityProvider,
    ...(g.serviceAccount !== undefined && { serviceAccount: g.serviceAccount }),
    ...(g.project !== undefined && { project: g.project }),
    ...(g.stsEndpoint !== undefined && { stsEndpoint: g.stsEndpoint }),
    ...(g.iamCredentialsEndpoint !== undefined && { iamCredentialsEndpoint: g.iamCredentialsEndpoint }),
  };
}

export function compileAzureGrant(g: AzureGrant): AzureGrant {
  return {
    tenantId: g.tenantId.toLowerCase(),
    clientId: g.clientId.toLowerCase(),
    subscriptionId: g.subscriptionId.toLowerCase(),
    ...(g.audience !== undefined && { audience: g.audience }),
    ...(g.authorityHost !== undefined && { authorityHost: g.authorityHost }),
  };
}

/** Field names, for the parser's "did you mean" hints. */
export const CLOUD_GRANT_FIELDS = [
  'gcp',
  'azure',
  'workloadIdentityProvider',
  'serviceAccount',
  'project',
  'tenantId',
  'clientId',
  'subscriptionId',
  'authorityHost',
  'iamCredentialsEndpoint',
];
