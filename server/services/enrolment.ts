// Enrolment: a one-time code and a new device's key are traded for a registration ceremony, whose
// security key then binds user + device + key.
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { bad, conflict, forbidden, notFound, refuse } from '../api/errors';
import type { ServerConfig } from '../config';
import type { EnrolmentRow, EnrolmentStore } from '../store/enrolment-store';
import type { Transact } from '../store/store';
import type { DeviceJwk, UsersStore } from '../store/users-store';
import { registrationOptions, verifyRegistration } from '../webauthn';
import { newId, sha256hex, type Clock } from './ids';

const ENROLMENT_TTL_MS = 15 * 60_000;

export class EnrolmentService {
  constructor(
    private readonly deps: {
      enrolment: EnrolmentStore;
      users: Pick<UsersStore, 'credentialsOf' | 'upsertDevice' | 'addCredential'>;
      transaction: Transact;
      clock: Clock;
      cfg: ServerConfig;
    },
  ) {}

  /** Step 1 (agent): trade a code + the new device's public key for a registration ceremony. */
  async start(code: string, deviceJwk: { kty: string; crv: string; x: string }, thumbprint: string) {
    const row = this.deps.enrolment.code(sha256hex(String(code)));
    if (!row) throw forbidden('bad-enrolment-code', 'this enrolment code is not valid; ask your admin for a new link');
    if (row.used_at)
      throw forbidden('enrolment-code-used', 'this enrolment code was already used; ask your admin for a new link');
    if (Date.parse(row.expires_at) <= this.deps.clock().getTime())
      throw forbidden('enrolment-code-expired', 'this enrolment code has expired; ask your admin for a new link');
    if (deviceJwk?.kty !== 'OKP' || deviceJwk?.crv !== 'Ed25519' || typeof deviceJwk?.x !== 'string')
      throw bad('bad-device-key', 'the device key must be an Ed25519 JWK');
    const options = await registrationOptions(
      this.deps.cfg,
      { email: row.email, id: Buffer.from(sha256hex(row.email), 'hex').subarray(0, 16) },
      this.deps.users.credentialsOf(row.email),
    );
    const id = newId();
    this.deps.enrolment.add({
      id,
      code_sha256: row.code_sha256,
      email: row.email,
      device_jwk: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: deviceJwk.x }),
      device_thumbprint: thumbprint,
      challenge: options.challenge,
      expires_at: new Date(this.deps.clock().getTime() + ENROLMENT_TTL_MS).toISOString(),
      options_json: JSON.stringify(options),
    });
    return { id, user: row.email, ceremonyUrl: `${this.deps.cfg.publicUrl}/ceremony/enrol/${id}`, options };
  }

  /** What the ceremony page shows and registers with. */
  ceremony(id: string) {
    const e = this.get(id);
    if (e.completed_at)
      throw conflict('enrolment-done', 'this security key is already registered: you can close this page');
    if (Date.parse(e.expires_at) <= this.deps.clock().getTime())
      throw forbidden('enrolment-expired', 'this enrolment ceremony expired; run `pim enroll` again');
    const options = JSON.parse(e.options_json ?? 'null') as Awaited<ReturnType<typeof registrationOptions>> | null;
    if (!options)
      throw refuse('enrolment-restart', 'this enrolment ceremony is no longer available: run `pim enroll` again');
    return { kind: 'enrolment' as const, user: e.email, device: e.device_thumbprint, options };
  }

  private get(id: string): EnrolmentRow {
    const e = this.deps.enrolment.get(id);
    if (!e) throw notFound('enrolment');
    return e;
  }

  /** Step 2 (ceremony page): the security key's registration binds user + device + key. */
  async finish(id: string, response: RegistrationResponseJSON): Promise<{ user: string }> {
    const e = this.get(id);
    if (e.completed_at) throw conflict('enrolment-done', 'this enrolment is already complete');
    if (Date.parse(e.expires_at) <= this.deps.clock().getTime())
      throw forbidden('enrolment-expired', 'this enrolment ceremony expired; run `pim enroll` again');
    const info = await verifyRegistration(this.deps.cfg, response, e.challenge);
    const now = this.deps.clock().toISOString();
    this.deps.transaction(() => {
      if (!this.deps.enrolment.useCode(e.code_sha256, now))
        throw forbidden('enrolment-code-used', 'this enrolment code was already used');
      this.deps.users.upsertDevice(e.device_thumbprint, e.email, e.device_jwk, now);
      this.deps.users.addCredential({
        id: info.credential.id,
        email: e.email,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        createdAt: now,
      });
      this.deps.enrolment.complete(id, now);
    });
    return { user: e.email };
  }

  /** What the enrolling agent polls for, with its own device key. */
  status(id: string, thumbprint: string): { state: 'waiting' | 'complete' | 'expired'; user: string } {
    const e = this.get(id);
    if (e.device_thumbprint !== thumbprint) throw forbidden('wrong-device', 'this enrolment belongs to another device');
    const state = e.completed_at
      ? 'complete'
      : Date.parse(e.expires_at) <= this.deps.clock().getTime()
        ? 'expired'
        : 'waiting';
    return { state, user: e.email };
  }

  /** The device key of an enrolment in progress (it signs its own status polls). */
  pendingDeviceJwk(thumbprint: string): DeviceJwk | null {
    return this.deps.enrolment.deviceJwk(thumbprint);
  }
}
