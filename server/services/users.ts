// Users, their devices and security keys: adding people (with a one-time enrolment code), listing
// them, revoking keys and devices, and the device-request checks api/routes.ts authenticates with.
import crypto from 'node:crypto';
import { bad } from '../api/errors';
import type { EnrolmentStore } from '../store/enrolment-store';
import type { Transact } from '../store/store';
import type { DeviceJwk, KeySummary, UsersStore } from '../store/users-store';
import type { StoredCredential } from '../webauthn';
import { sha256hex, type Clock } from './ids';

export class UsersService {
  private jtiPruned = 0;

  constructor(
    private readonly deps: {
      users: UsersStore;
      enrolment: Pick<EnrolmentStore, 'addCode'>;
      transaction: Transact;
      clock: Clock;
      /** ends what a revoked device holds (ActivationLifecycle.endAllOfDevice), in our transaction */
      endAllOfDevice: (thumbprint: string, now: Date) => { activations: string[]; requests: string[] };
    },
  ) {}

  /** A user and a one-time enrolment code (only its hash is stored). */
  add(email: string, groups: string[], codeTtlMs = 24 * 3600_000): { code: string; expiresAt: string } {
    const e = normaliseEmail(email);
    const now = this.deps.clock();
    const code = crypto.randomBytes(18).toString('base64url');
    const expiresAt = new Date(now.getTime() + codeTtlMs).toISOString();
    this.deps.transaction(() => {
      this.deps.users.upsertUser(e, groups, now.toISOString());
      this.deps.enrolment.addCode(sha256hex(code), e, expiresAt);
    });
    return { code, expiresAt };
  }

  /** The groups given with `user add`, on top of what the policy says. */
  extraMembers(): { email: string; groups: string[] }[] {
    return this.deps.users.extraMembers();
  }

  list(): { email: string; devices: string[]; keys: KeySummary[] }[] {
    return this.deps.users.emails().map((email) => ({
      email,
      devices: this.deps.users.devicesOf(email),
      keys: this.deps.users.keysOf(email),
    }));
  }

  /** The user's security keys not revoked. */
  credentialsOf(email: string): StoredCredential[] {
    return this.deps.users.credentialsOf(email);
  }

  /** An enrolled device not revoked, and whose it is. */
  deviceKey(thumbprint: string): { email: string; jwk: DeviceJwk } | null {
    return this.deps.users.device(thumbprint);
  }

  /** Records a device-request id; false when it was seen before (a replay). */
  rememberJti(jti: string, expSeconds: number): boolean {
    const nowS = Math.floor(this.deps.clock().getTime() / 1000);
    if (nowS - this.jtiPruned >= 10) {
      this.deps.users.pruneJti(nowS);
      this.jtiPruned = nowS;
    }
    return this.deps.users.insertJti(jti, expSeconds);
  }

  revokeKey(email: string, credentialId: string): boolean {
    return this.deps.users.revokeCredential(normaliseEmail(email), credentialId, this.deps.clock().toISOString());
  }

  revokeDevice(thumbprint: string): boolean {
    return this.revokeDeviceAccess(thumbprint).device;
  }

  /** Revokes a device and every live (active or approved) activation it requested, with reason
   *  "device revoked": nothing it holds may be refreshed, and the agents' long polls see it. Its
   *  requests still waiting (to be signed, or approved) end too: none may take effect later. */
  revokeDeviceAccess(thumbprint: string): { device: boolean; activations: string[]; requests: string[] } {
    const now = this.deps.clock();
    return this.deps.transaction(() => {
      const device = this.deps.users.revokeDevice(thumbprint, now.toISOString());
      return { device, ...this.deps.endAllOfDevice(thumbprint, now) };
    });
  }
}

export function normaliseEmail(email: string): string {
  const e = String(email).trim().toLowerCase();
  if (!/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/.test(e))
    throw bad('bad-email', `"${email}" is not an e-mail address`);
  return e;
}
