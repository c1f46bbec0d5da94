// The control plane's state (DIR/server.db): users and their enrolment codes, devices, security
// keys, device-request replay cache, activations and approvals, the synced audit journals.
// Numbered migrations, like the agent.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     email TEXT PRIMARY KEY,
     extra_groups TEXT NOT NULL DEFAULT '[]',
     created_at TEXT NOT NULL
   );
   CREATE TABLE enrolment_codes (
     code_sha256 TEXT PRIMARY KEY,
     email TEXT NOT NULL REFERENCES users(email),
     expires_at TEXT NOT NULL,
     used_at TEXT
   );
   CREATE TABLE enrolments (
     id TEXT PRIMARY KEY,
     code_sha256 TEXT NOT NULL REFERENCES enrolment_codes(code_sha256),
     email TEXT NOT NULL,
     device_jwk TEXT NOT NULL,
     device_thumbprint TEXT NOT NULL,
     challenge TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     completed_at TEXT
   );
   CREATE TABLE devices (
     thumbprint TEXT PRIMARY KEY,
     email TEXT NOT NULL REFERENCES users(email),
     public_jwk TEXT NOT NULL,
     created_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE TABLE credentials (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL REFERENCES users(email),
     public_key BLOB NOT NULL,
     counter INTEGER NOT NULL,
     transports TEXT NOT NULL DEFAULT '[]',
     label TEXT NOT NULL DEFAULT '',
     created_at TEXT NOT NULL,
     revoked_at TEXT,
     -- set when a signature counter went backwards: a cloned key is suspected
     flagged_at TEXT
   );
   CREATE TABLE device_jti (
     jti TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE activations (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL,
     device TEXT NOT NULL,
     role TEXT NOT NULL,
     request_json TEXT NOT NULL,
     request_sha256 TEXT NOT NULL,
     nonce TEXT NOT NULL UNIQUE,
     nonce_expires_at TEXT NOT NULL,
     nonce_used_at TEXT,
     needs_approval INTEGER NOT NULL,
     approvals_needed INTEGER NOT NULL,
     state TEXT NOT NULL,
     assertion_json TEXT,
     credential_id TEXT,
     created_at TEXT NOT NULL,
     decided_at TEXT,
     starts_at TEXT,
     expires_at TEXT,
     ended_at TEXT,
     end_reason TEXT,
     extends_id TEXT REFERENCES activations(id)
   );
   CREATE INDEX activations_by_user ON activations(email, state);
   CREATE TABLE approval_challenges (
     nonce TEXT PRIMARY KEY,
     activation_id TEXT NOT NULL REFERENCES activations(id),
     approver TEXT NOT NULL,
     statement_json TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     used_at TEXT
   );
   CREATE TABLE approvals (
     activation_id TEXT NOT NULL REFERENCES activations(id),
     approver TEXT NOT NULL,
     decision TEXT NOT NULL,
     reason TEXT,
     statement_json TEXT NOT NULL,
     nonce TEXT NOT NULL,
     assertion_json TEXT NOT NULL,
     credential_id TEXT NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (activation_id, approver)
   );`,
  // the registration options, so an enrolment survives a control plane restart
  `ALTER TABLE enrolments ADD COLUMN options_json TEXT;`,
  // the audit journals the agents sync (docs/architecture.md, Flows: Audit journal and sync; server/audit/ingest.ts):
  // every record held, one head per device (the highest contiguous seq and its hash; none = genesis, seq 0), and what
  // ingest refused (gaps, forks, broken links, foreign or invalid records)
  `CREATE TABLE audit_records (
     device TEXT NOT NULL,
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL,
     record_json TEXT NOT NULL,
     received_at TEXT NOT NULL,
     PRIMARY KEY (device, seq)
   );
   CREATE TABLE audit_heads (
     device TEXT PRIMARY KEY,
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE TABLE audit_flags (
     id INTEGER PRIMARY KEY,
     device TEXT NOT NULL,
     seq INTEGER,
     kind TEXT NOT NULL CHECK (kind IN ('gap', 'fork', 'broken-link', 'wrong-device', 'invalid')),
     detail TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX audit_flags_by_device ON audit_flags(device, seq, kind);`,
  // the syslog forwarder's durable cursors (server/audit/syslog.ts), one per destination: every
  // audit_records row up to last_rowid was delivered; (last_device, last_seq) is that row's key, to
  // find it again should a VACUUM renumber the rowids
  `CREATE TABLE syslog_cursor (
     name TEXT PRIMARY KEY,
     last_rowid INTEGER NOT NULL,
     last_device TEXT,
     last_seq INTEGER,
     updated_at TEXT NOT NULL
   );`,
  // the device that asked for an approval challenge: revoking it voids the challenges it holds
  `ALTER TABLE approval_challenges ADD COLUMN device TEXT;`,
];

export type ServerDb = Database.Database;

export function openServerDb(dir: string): ServerDb {
  const file = path.join(dir, 'server.db');
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) throw new Error(`server.db was written by a newer pim-server (schema ${current})`);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}

/** A second connection to server.db whose commits skip the fsync (synchronous=NORMAL in WAL mode):
 *  they survive a crash of the process; only an OS crash can forget the last few seconds. For the
 *  device-request replay cache (entries live 2 minutes at most) and requests not signed yet —
 *  never for anything that grants access. */
export function openLightDb(dir: string): ServerDb {
  const db = new Database(path.join(dir, 'server.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}
