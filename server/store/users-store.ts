// Users, their devices and security keys (WebAuthn credentials), and the device-request replay
// cache, in server.db. Only SQL and row decoding here: the decisions are in services/users.ts.
import type { StoredCredential } from '../webauthn';
import type { Statements } from './statements';

export interface DeviceJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

export interface KeySummary {
  id: string;
  flagged: boolean;
  revoked: boolean;
}

export class UsersStore {
  constructor(private readonly st: Statements) {}

  /** Creates the user, or replaces the groups of an existing one. */
  upsertUser(email: string, extraGroups: string[], createdAt: string): void {
    this.st
      .sql(
        'INSERT INTO users (email, extra_groups, created_at) VALUES (?, ?, ?) ON CONFLICT(email) DO UPDATE SET extra_groups = excluded.extra_groups',
      )
      .run(email, JSON.stringify(extraGroups), createdAt);
  }

  extraMembers(): { email: string; groups: string[] }[] {
    return (
      this.st.sql('SELECT email, extra_groups FROM users').all() as { email: string; extra_groups: string }[]
    ).map((r) => ({ email: r.email, groups: JSON.parse(r.extra_groups) as string[] }));
  }

  emails(): string[] {
    return (this.st.sql('SELECT email FROM users ORDER BY email').all() as { email: string }[]).map((r) => r.email);
  }

  /** The thumbprints of the user's devices not revoked. */
  devicesOf(email: string): string[] {
    return (
      this.st.sql('SELECT thumbprint FROM devices WHERE email = ? AND revoked_at IS NULL').all(email) as {
        thumbprint: string;
      }[]
    ).map((d) => d.thumbprint);
  }

  /** Every security key of the user, revoked or not. */
  keysOf(email: string): KeySummary[] {
    return (
      this.st.sql('SELECT id, flagged_at, revoked_at FROM credentials WHERE email = ?').all(email) as {
        id: string;
        flagged_at: string | null;
        revoked_at: string | null;
      }[]
    ).map((k) => ({ id: k.id, flagged: k.flagged_at !== null, revoked: k.revoked_at !== null }));
  }

  /** The user's security keys not revoked, as WebAuthn verifies them. */
  credentialsOf(email: string): StoredCredential[] {
    return (
      this.st
        .sql('SELECT id, public_key, counter, transports FROM credentials WHERE email = ? AND revoked_at IS NULL')
        .all(email) as { id: string; public_key: Buffer; counter: number; transports: string }[]
    ).map((r) => ({
      id: r.id,
      publicKey: new Uint8Array(r.public_key),
      counter: r.counter,
      transports: JSON.parse(r.transports) as string[],
    }));
  }

  addCredential(c: {
    id: string;
    email: string;
    publicKey: Uint8Array;
    counter: number;
    transports: string[];
    createdAt: string;
  }): void {
    this.st
      .sql('INSERT INTO credentials (id, email, public_key, counter, transports, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(c.id, c.email, Buffer.from(c.publicKey), c.counter, JSON.stringify(c.transports), c.createdAt);
  }

  /** Stores a verified assertion's counter only if it still grows; false when it did not. */
  advanceCounter(credentialId: string, newCounter: number): boolean {
    return (
      this.st
        .sql(
          'UPDATE credentials SET counter = @counter WHERE id = @id AND (counter < @counter OR (counter = 0 AND @counter = 0))',
        )
        .run({ counter: newCounter, id: credentialId }).changes === 1
    );
  }

  /** Marks a key whose counter went backwards (a clone is suspected); the first time counts. */
  flagCredential(credentialId: string, at: string): void {
    this.st.sql('UPDATE credentials SET flagged_at = ? WHERE id = ? AND flagged_at IS NULL').run(at, credentialId);
  }

  revokeCredential(email: string, credentialId: string, at: string): boolean {
    return (
      this.st
        .sql('UPDATE credentials SET revoked_at = ? WHERE email = ? AND id = ? AND revoked_at IS NULL')
        .run(at, email, credentialId).changes === 1
    );
  }

  /** Binds a device key to a user (again, when it was revoked). */
  upsertDevice(thumbprint: string, email: string, publicJwk: string, createdAt: string): void {
    this.st
      .sql(
        'INSERT INTO devices (thumbprint, email, public_jwk, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(thumbprint) DO UPDATE SET email = excluded.email, public_jwk = excluded.public_jwk, revoked_at = NULL',
      )
      .run(thumbprint, email, publicJwk, createdAt);
  }

  /** An enrolled device not revoked: whose it is and its public key. */
  device(thumbprint: string): { email: string; jwk: DeviceJwk } | null {
    const r = this.st
      .sql('SELECT email, public_jwk FROM devices WHERE thumbprint = ? AND revoked_at IS NULL')
      .get(thumbprint) as { email: string; public_jwk: string } | undefined;
    return r ? { email: r.email, jwk: JSON.parse(r.public_jwk) as DeviceJwk } : null;
  }

  revokeDevice(thumbprint: string, at: string): boolean {
    return (
      this.st.sql('UPDATE devices SET revoked_at = ? WHERE thumbprint = ? AND revoked_at IS NULL').run(at, thumbprint)
        .changes === 1
    );
  }

  // the replay cache lives on the no-fsync connection: entries last 2 minutes at most

  /** Forgets device-request ids whose signature expired before `nowSeconds`. */
  pruneJti(nowSeconds: number): void {
    this.st.sql('DELETE FROM device_jti WHERE expires_at < ?', true).run(nowSeconds);
  }

  /** Records a device-request id; false when it was there already. */
  insertJti(jti: string, expSeconds: number): boolean {
    return (
      this.st.sql('INSERT OR IGNORE INTO device_jti (jti, expires_at) VALUES (?, ?)', true).run(jti, expSeconds)
        .changes === 1
    );
  }
}
