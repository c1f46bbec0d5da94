// The audit journals the agents sync (audit/ingest.ts decides what is stored): the records held per
// device, each device's head (highest contiguous seq and its hash), and what ingest refused.
import { GENESIS_HASH } from '../../shared/audit';
import type { Statements } from './statements';

export interface AuditHead {
  seq: number;
  hash: string;
}

export interface AuditFlagRow {
  id: number;
  device: string;
  seq: number | null;
  kind: string;
  detail: string;
  at: string;
}

export interface StoredAuditRow {
  device: string;
  seq: number;
  hash: string;
  record_json: string;
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

  /** Every device with a head or a record, in order. */
  devices(): string[] {
    return (
      this.st
        .sql('SELECT device FROM audit_heads UNION SELECT DISTINCT device FROM audit_records ORDER BY device')
        .all() as { device: string }[]
    ).map((r) => r.device);
  }

  /** A device's stored records in seq order, read lazily (a chain may be large). */
  records(device: string): IterableIterator<Omit<StoredAuditRow, 'device'>> {
    return this.st
      .sql('SELECT seq, hash, record_json FROM audit_records WHERE device = ? ORDER BY seq')
      .iterate(device) as IterableIterator<Omit<StoredAuditRow, 'device'>>;
  }

  /** The records ordered by device then seq; `since` (ISO time) keeps those whose own time
   *  (record.at) is at or after it. */
  exportRows(opts: { since: string | null; device: string | null }): IterableIterator<StoredAuditRow> {
    return this.st
      .sql(
        `SELECT device, seq, hash, record_json FROM audit_records
         WHERE (@device IS NULL OR device = @device) AND (@since IS NULL OR json_extract(record_json, '$.at') >= @since)
         ORDER BY device, seq`,
      )
      .iterate(opts) as IterableIterator<StoredAuditRow>;
  }

  /** What ingest flagged, oldest first. */
  flags(): AuditFlagRow[] {
    return this.st.sql('SELECT id, device, seq, kind, detail, at FROM audit_flags ORDER BY id').all() as AuditFlagRow[];
  }

  /** Runs fn in an IMMEDIATE transaction: the write lock is taken before the first read, so two
   *  writers cannot both extend the same head. */
  immediate<T>(fn: () => T): T {
    return this.st.db.transaction(fn).immediate();
  }
}
