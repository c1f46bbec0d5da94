// What the control plane hands an agent for an active activation (shared/credentials.ts): short
// kube tokens, AWS web-identity tokens and an SSH certificate, all bound to the activation and none
// outliving it. The caller (ControlPlane.issueCredentials) has already checked who asks and that the
// activation is active; this file only mints.
import { SignJWT } from 'jose';
import type { IssuedAws, IssuedCredentials, IssuedKube, IssuedSsh } from '../../shared/credentials';
import type { Cluster, CompiledRole } from '../../shared/policy/types';
import { mintAzure, mintGcp } from './cloud-tokens';
import { ISSUER_ALG, newJti, type IssuerKeys } from './issuer-keys';
import { BASE_EXTENSIONS, type SshCa } from './ssh-ca';
import { numberSetting } from '../../shared/settings';

/** the longest a kube token lives; the agent asks again while the activation lives */
export const KUBE_TOKEN_MAX_TTL = 15 * 60;
/** an AWS web-identity token only has to last until the agent called STS */
export const AWS_TOKEN_TTL = 5 * 60;
/** tokens are valid from a little before they were issued: clocks drift */
export const NOT_BEFORE_SKEW = 30;
/** SSH certificates start a minute before the activation, for the same reason */
export const SSH_VALID_AFTER_SKEW = 60;
export const DEFAULT_AWS_AUDIENCE = 'sts.amazonaws.com';

/** The kube token lifetime in seconds: PIM_KUBE_TOKEN_TTL when it is a positive integer (tests
 *  shorten it), never more than 15 minutes. */
export function kubeTokenTtl(env: NodeJS.ProcessEnv = process.env): number {
  return numberSetting(env, 'PIM_KUBE_TOKEN_TTL');
}

/** STS RoleSessionName ([\w+=,.@-]{2,64}) naming the person and the role, so CloudTrail shows who:
 *  pim-<local part of the e-mail>-<role>, cut to 64 characters. */
export function awsSessionName(user: string, role: string): string {
  const local = user.split('@')[0] || user;
  return `pim-${local}-${role}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export interface ActivationForIssue {
  id: string;
  user: string;
  role: string;
  startsAt: Date;
  expiresAt: Date;
  /** the ephemeral key from the signed request, if the agent sent one */
  sshPublicKey: string | null;
}

export interface IssueInput {
  /** iss of every token: the control plane's public URL */
  issuer: string;
  now: Date;
  activation: ActivationForIssue;
  role: CompiledRole;
  clusters: Cluster[];
  keys: IssuerKeys;
  ca: SshCa;
  /** seconds, capped at 15 minutes; default kubeTokenTtl() */
  kubeTtl?: number;
}

interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  extra: Record<string, unknown>;
}

/** An ES256 JWT signed with the issuer's current key. */
export async function signToken(keys: IssuerKeys, c: TokenClaims): Promise<string> {
  const { kid, key } = await keys.signingKey();
  return new SignJWT({ ...c.extra })
    .setProtectedHeader({ alg: ISSUER_ALG, kid, typ: 'JWT' })
    .setIssuer(c.iss)
    .setSubject(c.sub)
    .setAudience(c.aud)
    .setIssuedAt(c.iat)
    .setNotBefore(c.iat - NOT_BEFORE_SKEW)
    .setExpirationTime(c.exp)
    .setJti(newJti())
    .sign(key);
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const union = (lists: (readonly string[] | undefined)[]): string[] => [...new Set(lists.flatMap((l) => l ?? []))];

export async function mintCredentials(input: IssueInput): Promise<IssuedCredentials> {
  const { activation: a, role, issuer } = input;
  const iat = seconds(input.now);
  const end = seconds(a.expiresAt);
  const common = { email: a.user, pim_role: a.role, pim_activation: a.id };
  const kubeTtl = Math.min(input.kubeTtl ?? kubeTokenTtl(), KUBE_TOKEN_MAX_TTL);

  const kube: IssuedKube[] = [];
  for (const g of role.grants.kubernetes) {
    const cluster = input.clusters.find((c) => c.name === g.cluster);
    if (!cluster) throw new Error(`role ${role.name} grants cluster ${g.cluster}, which the policy does not define`);
    const exp = Math.min(iat + kubeTtl, end);
    const token = await signToken(input.keys, {
      iss: issuer,
      sub: a.user,
      aud: cluster.name,
      iat,
      exp,
      extra: { ...common, email_verified: true, groups: [...g.groups] },
    });
    kube.push({
      cluster: cluster.name,
      server: cluster.server,
      certificateAuthorityData: cluster.certificateAuthorityData ?? null,
      token,
      expiresAt: new Date(exp * 1000).toISOString(),
    });
  }

  const aws: IssuedAws[] = [];
  for (const g of role.grants.aws) {
    const exp = Math.min(iat + AWS_TOKEN_TTL, end);
    const webIdentityToken = await signToken(input.keys, {
      iss: issuer,
      sub: a.user,
      aud: g.audience ?? DEFAULT_AWS_AUDIENCE,
      iat,
      exp,
      extra: common,
    });
    aws.push({
      roleArn: g.roleArn,
      webIdentityToken,
      expiresAt: new Date(exp * 1000).toISOString(),
      stsEndpoint: g.stsEndpoint ?? null,
      region: g.region ?? null,
      sessionName: awsSessionName(a.user, a.role),
    });
  }

  const ssh: IssuedSsh[] = [];
  if (role.grants.ssh.length > 0 && a.sshPublicKey) {
    const principals = union(role.grants.ssh.map((g) => g.principals));
    const cert = input.ca.signUserCert({
      publicKey: a.sshPublicKey,
      keyId: `pim:${a.user}:${a.role}:${a.id}`,
      principals,
      validAfter: new Date(a.startsAt.getTime() - SSH_VALID_AFTER_SKEW * 1000),
      validBefore: a.expiresAt,
      extensions: union([BASE_EXTENSIONS, ...role.grants.ssh.map((g) => g.extensions)]),
      comment: `pim:${a.user}:${a.role}`,
    });
    ssh.push({
      certificate: cert.line,
      principals,
      hosts: union(role.grants.ssh.map((g) => g.hosts)),
      validAfter: cert.validAfter.toISOString(),
      validBefore: cert.validBefore.toISOString(),
    });
  }

  // GCP/Azure subject tokens live like kube tokens: the agent renews them while the activation lives
  const cloud = {
    keys: input.keys,
    issuer,
    user: a.user,
    role: a.role,
    common,
    iat,
    exp: Math.min(iat + kubeTtl, end),
  };
  const gcp = await mintGcp(role.grants.gcp ?? [], cloud);
  const azure = await mintAzure(role.grants.azure ?? [], cloud);

  return {
    activation: a.id,
    role: a.role,
    user: a.user,
    activationExpiresAt: a.expiresAt.toISOString(),
    kube,
    aws,
    ssh,
    gcp,
    azure,
    issuer,
  };
}

/** GET /.well-known/openid-configuration: what AWS IAM OIDC providers and kube structured authn read. */
export function openidConfiguration(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: [ISSUER_ALG],
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'nbf',
      'jti',
      'email',
      'email_verified',
      'groups',
      'pim_role',
      'pim_activation',
    ],
  };
}
