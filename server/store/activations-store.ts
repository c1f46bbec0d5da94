// Activation requests and their lifecycle (shared/activation-state), in server.db. Only SQL here:
// the state machine is services/lifecycle.ts.
import type { ActivationState } from '../../shared/activation-state';
import type { Statements } from './statements';

export interface ActivationRow {
  id: string;
  email: string;
  device: string;
  role: string;
  request_json: string;
  request_sha256: string;
  nonce: string;
  nonce_expires_at: string;
  nonce_used_at: string | null;
  needs_approval: number;
  approvals_needed: number;
  state: ActivationState;
  assertion_json: string | null;
  credential_id: string | null;
  created_at: string;
  decided_at: string | null;
  starts_at: string | null;
  expires_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  extends_id: string | null;
}

/** What a new request stores; it starts in state 'requested'. */
export type NewActivation = Pick<
  ActivationRow,
  | 'id'
  | 'email'
  | 'device'
  | 'role'
  | 'request_json'
  | 'request_sha256'
  | 'nonce'
  | 'nonce_expires_at'
  | 'needs_approval'
  | 'approvals_needed'
  | 'created_at'
  | 'extends_id'
>;

const ids = (rows: unknown[]) => (rows as { id: string }[]).map((r) => r.id);

export class ActivationsStore {
  constructor(private readonly st: Statements) {}

  get(id: string): ActivationRow | undefined {
    return this.st.sql('SELECT * FROM activations WHERE id = ?').get(id) as ActivationRow | undefined;
  }

  /** Not signed yet, so nothing is granted: this row may skip the fsync (lightDb). If an OS crash
   *  loses it, the user simply asks again. The signed outcome is committed durably. */
  insertRequested(a: NewActivation): void {
    this.st
      .sql(
        `INSERT INTO activations (id, email, device, role, request_json, request_sha256, nonce, nonce_expires_at, needs_approval, approvals_needed, state, created_at, extends_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?, ?)`,
        true,
      )
      .run(
        a.id,
        a.email,
        a.device,
        a.role,
        a.request_json,
        a.request_sha256,
        a.nonce,
        a.nonce_expires_at,
        a.needs_approval,
        a.approvals_needed,
        a.created_at,
        a.extends_id,
      );
  }

  /** How many activations of this role the user holds (active, or approved and about to start). */
  countLive(email: string, role: string): number {
    return (
      this.st
        .sql("SELECT COUNT(*) AS n FROM activations WHERE email = ? AND role = ? AND state IN ('active', 'approved')")
        .get(email, role) as { n: number }
    ).n;
  }

  /** countLive, leaving out the request itself and the activation it extends. */
  countLiveOthers(email: string, role: string, id: string, extendsId: string): number {
    return (
      this.st
        .sql(
          "SELECT COUNT(*) AS n FROM activations WHERE email = ? AND role = ? AND state IN ('active', 'approved') AND id != ? AND id != ?",
        )
        .get(email, role, id, extendsId) as { n: number }
    ).n;
  }

  /** The device's activations that hold access (active or approved), oldest first. */
  liveOfDevice(thumbprint: string): string[] {
    return ids(
      this.st
        .sql("SELECT id FROM activations WHERE device = ? AND state IN ('active', 'approved') ORDER BY created_at")
        .all(thumbprint),
    );
  }

  /** The device's requests still waiting (to be signed, or approved), oldest first. */
  waitingOfDevice(thumbprint: string): string[] {
    return ids(
      this.st
        .sql(
          "SELECT id FROM activations WHERE device = ? AND state IN ('requested', 'pending-approval') ORDER BY created_at",
        )
        .all(thumbprint),
    );
  }

  /** Consumes the request's nonce with the assertion that signed it; false when it was consumed. */
  markSigned(id: string, at: string, assertionJson: string, credentialId: string): boolean {
    return (
      this.st
        .sql(
          'UPDATE activations SET nonce_used_at = ?, assertion_json = ?, credential_id = ? WHERE id = ? AND nonce_used_at IS NULL',
        )
        .run(at, assertionJson, credentialId, id).changes === 1
    );
  }

  setApprovalNeeds(id: string, needsApproval: boolean, approvalsNeeded: number): void {
    this.st
      .sql('UPDATE activations SET needs_approval = ?, approvals_needed = ? WHERE id = ?')
      .run(needsApproval ? 1 : 0, approvalsNeeded, id);
  }

  setApprovalsNeeded(id: string, approvalsNeeded: number): void {
    this.st.sql('UPDATE activations SET approvals_needed = ? WHERE id = ?').run(approvalsNeeded, id);
  }

  setWindow(id: string, startsAt: string, expiresAt: string): void {
    this.st.sql('UPDATE activations SET starts_at = ?, expires_at = ? WHERE id = ?').run(startsAt, expiresAt, id);
  }

  /** Moves the state on, only from the state it was read in. */
  setState(id: string, from: ActivationState, to: ActivationState, decidedAt: string | null): void {
    this.st
      .sql('UPDATE activations SET state = ?, decided_at = ? WHERE id = ? AND state = ?')
      .run(to, decidedAt, id, from);
  }

  setEnded(id: string, at: string, reason: string): void {
    this.st.sql('UPDATE activations SET ended_at = ?, end_reason = ? WHERE id = ?').run(at, reason, id);
  }

  pendingApproval(): ActivationRow[] {
    return this.st
      .sql("SELECT * FROM activations WHERE state = 'pending-approval' ORDER BY created_at")
      .all() as ActivationRow[];
  }

  /** Newest first; `live` keeps those not ended yet. */
  list(opts: { live: boolean; limit: number }): ActivationRow[] {
    const where = opts.live ? "WHERE state IN ('requested', 'pending-approval', 'approved', 'active')" : '';
    return this.st
      .sql(`SELECT * FROM activations ${where} ORDER BY created_at DESC LIMIT ?`)
      .all(opts.limit) as ActivationRow[];
  }

  /** The user's latest 200, newest first. */
  ofUser(email: string): ActivationRow[] {
    return this.st
      .sql('SELECT * FROM activations WHERE email = ? ORDER BY created_at DESC LIMIT 200')
      .all(email) as ActivationRow[];
  }

  /** Requests whose nonce expired unsigned. */
  unsignedBy(iso: string): string[] {
    return ids(this.st.sql("SELECT id FROM activations WHERE state = 'requested' AND nonce_expires_at <= ?").all(iso));
  }

  /** Requests waiting for approval since `cutoff` or earlier. */
  pendingSince(cutoff: string): string[] {
    return ids(
      this.st.sql("SELECT id FROM activations WHERE state = 'pending-approval' AND decided_at <= ?").all(cutoff),
    );
  }

  /** Activations whose window ended by `iso`. */
  windowEndedBy(iso: string): string[] {
    return ids(this.st.sql("SELECT id FROM activations WHERE state = 'active' AND expires_at <= ?").all(iso));
  }
}
