// Approval ceremonies (the statement an approver signs, by nonce) and the approvals recorded, in
// server.db. The decisions are in services/approvals.ts.
import type { ActivationView } from '../../shared/activation';
import type { Statements } from './statements';

export interface ApprovalChallengeRow {
  nonce: string;
  activation_id: string;
  approver: string;
  statement_json: string;
  expires_at: string;
  used_at: string | null;
  device: string | null;
}

export interface ApprovalRecord {
  activationId: string;
  approver: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  statementJson: string;
  nonce: string;
  assertionJson: string;
  credentialId: string;
  createdAt: string;
}

export class ApprovalsStore {
  constructor(private readonly st: Statements) {}

  addChallenge(c: Omit<ApprovalChallengeRow, 'used_at'>): void {
    this.st
      .sql(
        'INSERT INTO approval_challenges (nonce, activation_id, approver, statement_json, expires_at, device) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(c.nonce, c.activation_id, c.approver, c.statement_json, c.expires_at, c.device);
  }

  challenge(nonce: string): ApprovalChallengeRow | undefined {
    return this.st.sql('SELECT * FROM approval_challenges WHERE nonce = ?').get(nonce) as
      ApprovalChallengeRow | undefined;
  }

  /** Consumes a challenge; false when it was used already. */
  useChallenge(nonce: string, at: string): boolean {
    return (
      this.st.sql('UPDATE approval_challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL').run(at, nonce)
        .changes === 1
    );
  }

  hasDecided(activationId: string, approver: string): boolean {
    return (
      this.st.sql('SELECT 1 FROM approvals WHERE activation_id = ? AND approver = ?').get(activationId, approver) !==
      undefined
    );
  }

  add(a: ApprovalRecord): void {
    this.st
      .sql(
        'INSERT INTO approvals (activation_id, approver, decision, reason, statement_json, nonce, assertion_json, credential_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        a.activationId,
        a.approver,
        a.decision,
        a.reason,
        a.statementJson,
        a.nonce,
        a.assertionJson,
        a.credentialId,
        a.createdAt,
      );
  }

  /** Everyone who approved (not denied) the request. */
  approversOf(activationId: string): string[] {
    return (
      this.st
        .sql("SELECT DISTINCT approver FROM approvals WHERE activation_id = ? AND decision = 'approve'")
        .all(activationId) as { approver: string }[]
    ).map((a) => a.approver);
  }

  /** The decisions as the activation's view shows them, oldest first. */
  decisionsOf(activationId: string): ActivationView['approvals'] {
    return this.st
      .sql(
        'SELECT approver, decision, reason, created_at AS at FROM approvals WHERE activation_id = ? ORDER BY created_at',
      )
      .all(activationId) as ActivationView['approvals'];
  }

  /** The decisions with what was signed (the activation's evidence). */
  evidenceOf(activationId: string): unknown[] {
    return this.st
      .sql(
        'SELECT approver, decision, reason, statement_json AS statement, nonce, assertion_json AS assertion, credential_id AS credentialId FROM approvals WHERE activation_id = ?',
      )
      .all(activationId);
  }
}
