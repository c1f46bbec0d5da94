// Where each syslog forwarder has got to (audit/syslog.ts): one row per forwarder name, pointing at the
// last audit record it delivered, by rowid and by (device, seq) — VACUUM may renumber the rowids of a
// table without an INTEGER PRIMARY KEY, and (device, seq) finds the row again.
import type { Statements } from './statements';

export interface SyslogCursor {
  rowid: number;
  device: string | null;
  seq: number | null;
}

export interface ForwardableRecord {
  rowid: number;
  device: string;
  seq: number;
  hash: string;
  record_json: string;
}

export class SyslogCursorStore {
  constructor(private readonly st: Statements) {}

  /** The cursor as stored (rowid 0 when this forwarder has delivered nothing yet). */
  get(name: string): SyslogCursor {
    const r = this.st
      .sql('SELECT last_rowid AS rowid, last_device AS device, last_seq AS seq FROM syslog_cursor WHERE name = ?')
      .get(name) as SyslogCursor | undefined;
    return r ?? { rowid: 0, device: null, seq: null };
  }

  /** The (device, seq) stored at a rowid, if any. */
  at(rowid: number): { device: string; seq: number } | undefined {
    return this.st.sql('SELECT device, seq FROM audit_records WHERE rowid = ?').get(rowid) as
      { device: string; seq: number } | undefined;
  }

  /** The rowid a record is stored at now, if it is still stored. */
  rowidOf(device: string, seq: number): number | undefined {
    const r = this.st.sql('SELECT rowid FROM audit_records WHERE device = ? AND seq = ?').get(device, seq) as
      { rowid: number } | undefined;
    return r?.rowid;
  }

  /** Up to `limit` records stored after `rowid`, in the order they were stored. */
  after(rowid: number, limit: number): ForwardableRecord[] {
    return this.st
      .sql('SELECT rowid, device, seq, hash, record_json FROM audit_records WHERE rowid > ? ORDER BY rowid LIMIT ?')
      .all(rowid, limit) as ForwardableRecord[];
  }

  set(name: string, last: ForwardableRecord, at: string): void {
    this.st
      .sql(
        `INSERT INTO syslog_cursor (name, last_rowid, last_device, last_seq, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET last_rowid = excluded.last_rowid, last_device = excluded.last_device, last_seq = excluded.last_seq, updated_at = excluded.updated_at`,
      )
      .run(name, last.rowid, last.device, last.seq, at);
  }
}
