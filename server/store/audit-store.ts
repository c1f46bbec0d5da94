// The audit journals the agents sync (audit/ingest.ts decides what is stored): the records held per
// device, each device's head (highest contiguous seq and its hash), and what ingest refused.
import { GENESIS_HASH } from '../../shared/audit';
import type { Statements } from './statements';

export interface AuditHead {
  seq: number;
  hash: string;
}

export class AuditStore {
  constructor(private readonly st: Statements) {}

  /** The highest contiguous seq held for a device and its hash (genesis: 0 and GENESIS_HASH). */
  head(device: string): AuditHead {
    const r = this.st.sql('SELECT seq, hash FROM audit_heads WHERE device = ?').get(device) as AuditHead | undefined;
    return r ?? { seq: 0, hash: GENESIS_HASH };
  }

  setHead(device: string, head: AuditHead): void {
    this.st
      .sql(
        'INSERT INTO audit_heads (device, seq, hash) VALUES (?, ?, ?) ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
      )
      .run(device, head.seq, head.hash);
  }

  /** The record held at `seq`: its hash and canonical JSON. */
  record(device: string, seq: number): { hash: string; record_json: string } | undefined {
    return this.st.sql('SELECT hash, record_json FROM audit_records WHERE device = ? AND seq = ?').get(device, seq) as
      { hash: string; record_json: string } | undefined;
  }

  /** The hash of the record held at `seq`, or null when not held. */
  recordHash(device: string, seq: number): string | null {
    const r = this.st.sql('SELECT hash FROM audit_records WHERE device = ? AND seq = ?').get(device, seq) as
      { hash: string } | undefined;
    return r?.hash ?? null;
  }

  insertRecord(device: string, seq: number, hash: string, recordJson: string, receivedAt: string): void {
    this.st
      .sql('INSERT INTO audit_records (device, seq, hash, record_json, received_at) VALUES (?, ?, ?, ?, ?)')
      .run(device, seq, hash, recordJson, receivedAt);
  }

  /** Records a problem, once: a re-sent batch with the same problem is not flagged again. */
  flagOnce(device: string, seq: number | null, kind: string, detail: string, at: string): void {
    if (
      !this.st
        .sql('SELECT 1 FROM audit_flags WHERE device = ? AND seq IS ? AND kind = ? AND detail = ?')
        .get(device, seq, kind, detail)
    )
      this.st
        .sql('INSERT INTO audit_flags (device, seq, kind, detail, at) VALUES (?, ?, ?, ?, ?)')
        .run(device, seq, kind, detail, at);
  }

  /** Runs fn in an IMMEDIATE transaction: the write lock is taken before the first read, so two
   *  writers cannot both extend the same head. */
  immediate<T>(fn: () => T): T {
    return this.st.db.transaction(fn).immediate();
  }
}
