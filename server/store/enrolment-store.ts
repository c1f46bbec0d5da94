// One-time enrolment codes (only their hash is stored) and the enrolments in progress, in
// server.db. The decisions are in services/enrolment.ts.
import type { DeviceJwk } from './users-store';
import type { Statements } from './statements';

export interface EnrolmentCodeRow {
  code_sha256: string;
  email: string;
  expires_at: string;
  used_at: string | null;
}

export interface EnrolmentRow {
  id: string;
  code_sha256: string;
  email: string;
  device_jwk: string;
  device_thumbprint: string;
  challenge: string;
  expires_at: string;
  completed_at: string | null;
  options_json: string | null;
}

export class EnrolmentStore {
  constructor(private readonly st: Statements) {}

  addCode(codeSha256: string, email: string, expiresAt: string): void {
    this.st
      .sql('INSERT INTO enrolment_codes (code_sha256, email, expires_at) VALUES (?, ?, ?)')
      .run(codeSha256, email, expiresAt);
  }

  code(codeSha256: string): EnrolmentCodeRow | undefined {
    return this.st
      .sql('SELECT code_sha256, email, expires_at, used_at FROM enrolment_codes WHERE code_sha256 = ?')
      .get(codeSha256) as EnrolmentCodeRow | undefined;
  }

  /** Consumes a code; false when it was used already. */
  useCode(codeSha256: string, at: string): boolean {
    return (
      this.st
        .sql('UPDATE enrolment_codes SET used_at = ? WHERE code_sha256 = ? AND used_at IS NULL')
        .run(at, codeSha256).changes === 1
    );
  }

  add(e: Omit<EnrolmentRow, 'completed_at'>): void {
    this.st
      .sql(
        'INSERT INTO enrolments (id, code_sha256, email, device_jwk, device_thumbprint, challenge, expires_at, options_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(e.id, e.code_sha256, e.email, e.device_jwk, e.device_thumbprint, e.challenge, e.expires_at, e.options_json);
  }

  get(id: string): EnrolmentRow | undefined {
    return this.st.sql('SELECT * FROM enrolments WHERE id = ?').get(id) as EnrolmentRow | undefined;
  }

  complete(id: string, at: string): void {
    this.st.sql('UPDATE enrolments SET completed_at = ? WHERE id = ?').run(at, id);
  }

  /** The device key of the latest enrolment started with this thumbprint. */
  deviceJwk(thumbprint: string): DeviceJwk | null {
    const r = this.st
      .sql('SELECT device_jwk FROM enrolments WHERE device_thumbprint = ? ORDER BY expires_at DESC LIMIT 1')
      .get(thumbprint) as { device_jwk: string } | undefined;
    return r ? (JSON.parse(r.device_jwk) as DeviceJwk) : null;
  }
}
