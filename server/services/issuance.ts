// Credentials for an active activation (shared/credentials.ts): tokens signed with the issuer keys
// and SSH certificates from the CA, to the device that requested it only, never past its end.
import type { ActivationRequest } from '../../shared/activation';
import type { IssuedCredentials } from '../../shared/credentials';
import { bad, conflict, forbidden, notFound } from '../api/errors';
import { mintCredentials } from '../credentials/issue';
import { IssuerKeys } from '../credentials/issuer-keys';
import { SshCa, SshCaError } from '../credentials/ssh-ca';
import type { ActivationRow } from '../store/activations-store';
import type { Caller, Clock } from './ids';
import type { ActivationLifecycle } from './lifecycle';
import type { PolicySource } from './policy';

export class IssuanceService {
  private issuerKeysCache: IssuerKeys | null = null;
  private sshCaCache: SshCa | null = null;

  constructor(
    private readonly deps: {
      /** the repository: its keys/ folder holds the issuer keys and the SSH CA */
      dir: string;
      clock: Clock;
      /** the tokens' issuer */
      publicUrl: string;
      lifecycle: Pick<ActivationLifecycle, 'sweep' | 'row'>;
      policy: PolicySource;
    },
  ) {}

  /** The token-signing keys (DIR/keys/issuer), created on first use. */
  get issuerKeys(): IssuerKeys {
    return (this.issuerKeysCache ??= new IssuerKeys(this.deps.dir, this.deps.clock));
  }

  /** The SSH CA (DIR/keys/ssh-ca), created on first use. */
  get sshCa(): SshCa {
    return (this.sshCaCache ??= new SshCa(this.deps.dir));
  }

  /** Credentials for an active activation, to the device that requested it only, and never past the
   *  activation's end. The agent asks again while the activation lives (kube tokens last 15 minutes
   *  at most); once it ended, the answer is 409 not-active. */
  async issue(caller: Caller, id: string): Promise<IssuedCredentials> {
    this.deps.lifecycle.sweep();
    const row = this.deps.lifecycle.row(id);
    if (row.email !== caller.email) throw notFound('activation');
    if (row.device !== caller.device)
      throw forbidden(
        'wrong-device',
        'credentials for this activation are issued only to the device that requested it',
      );
    const now = this.deps.clock();
    const ended = row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime();
    if (row.state !== 'active' || ended || !row.starts_at || !row.expires_at)
      throw conflict('not-active', notActiveMessage(row));
    const policy = this.deps.policy.current();
    const role = policy.roles.roles.find((r) => r.name === row.role);
    if (!role)
      throw conflict(
        'role-removed',
        `role ${row.role} is no longer in the policy (v${policy.version}): nothing can be issued for it`,
      );
    const request = JSON.parse(row.request_json) as ActivationRequest;
    try {
      return await mintCredentials({
        issuer: this.deps.publicUrl,
        now,
        activation: {
          id: row.id,
          user: row.email,
          role: row.role,
          startsAt: new Date(row.starts_at),
          expiresAt: new Date(row.expires_at),
          sshPublicKey: request.sshPublicKey,
        },
        role,
        clusters: policy.roles.clusters,
        keys: this.issuerKeys,
        ca: this.sshCa,
      });
    } catch (e) {
      if (e instanceof SshCaError) throw bad('bad-ssh-key', e.message);
      throw e;
    }
  }
}

/** Why an activation gets no credentials, in words a person acts on. */
function notActiveMessage(row: ActivationRow): string {
  const role = `role ${row.role}`;
  const reason = row.end_reason ? ` (${row.end_reason})` : '';
  switch (row.state) {
    case 'active':
    case 'expired':
      return `${role} expired at ${row.expires_at ?? row.ended_at}: activate it again to get new credentials`;
    case 'deactivated':
      return `${role} was deactivated at ${row.ended_at}${reason}`;
    case 'revoked':
      return `${role} was revoked: ${row.end_reason ?? 'no reason given'}`;
    case 'denied':
      return `${role} was not granted: ${row.end_reason ?? 'denied'}`;
    case 'request-expired':
      return `${role} was never activated${reason}`;
    default:
      return `${role} is not active yet (${row.state})`;
  }
}
