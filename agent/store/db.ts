// The agent's SQLite database (agent.db). Migrations are numbered and run in a transaction;
// `user_version` records how far this file has come.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../shared/errors';
import { packageRoot } from '../package-root';
import { bindingFailureMessage, chooseBinding, currentRuntime, NativeBindingError } from './native-binding';

const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE policy (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     version INTEGER NOT NULL,
     expires TEXT NOT NULL,
     verified_at TEXT NOT NULL,
     roles_sha256 TEXT NOT NULL,
     roles_json TEXT NOT NULL,
     member_json TEXT
   );
   -- the signed copy never goes back in version, whatever code path writes it
   CREATE TRIGGER policy_no_rollback BEFORE UPDATE OF version ON policy
     WHEN NEW.version < OLD.version
     BEGIN SELECT RAISE(ABORT, 'policy rollback refused'); END;`,
  // the roles that concern this user, indexed at refresh: `pim roles` reads these, not all roles
  `ALTER TABLE policy ADD COLUMN relevant_json TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE policy ADD COLUMN role_count INTEGER NOT NULL DEFAULT 0;`,
  // UTC-offset tables of the zones those roles' windows use (offline decisions without ICU)
  `ALTER TABLE policy ADD COLUMN zones_json TEXT NOT NULL DEFAULT '[]';`,
  // the agent's copy of its activations (the control plane holds the authoritative state machine)
  `CREATE TABLE activations (
     id TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     state TEXT NOT NULL,
     request_json TEXT NOT NULL,
     ceremony_url TEXT,
     starts_at TEXT,
     expires_at TEXT,
     end_reason TEXT,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX activations_by_role ON activations(role, state);`,
  // the whole view as the control plane last reported it (the UI shows approvals, reasons, …),
  // whose it is, and when this agent first saw it end (for "recently ended")
  `ALTER TABLE activations ADD COLUMN user TEXT;
   ALTER TABLE activations ADD COLUMN view_json TEXT;
   ALTER TABLE activations ADD COLUMN created_at TEXT;
   ALTER TABLE activations ADD COLUMN ended_at TEXT;`,
  // the audit journal (docs/architecture.md, Flows: Audit journal and sync; agent/audit/journal.ts): one hash chain,
  // that of the device key (meta 'audit_device'); the sync cursor is meta 'audit_acked'. Records are only ever
  // appended: the triggers catch a bug that would rewrite one (not an attacker, who can drop them — the chain and the
  // control plane's copy are what catch that). A chain whose device key was replaced is kept, read-only, in
  // audit_retired.
  `CREATE TABLE audit (
     seq INTEGER PRIMARY KEY,
     at TEXT NOT NULL,
     type TEXT NOT NULL,
     record_json TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_by_type ON audit(type, seq);
   CREATE INDEX audit_by_activation ON audit(json_extract(record_json, '$.data.activation'), type);
   CREATE TABLE audit_retired (
     device TEXT NOT NULL,
     seq INTEGER NOT NULL,
     at TEXT NOT NULL,
     type TEXT NOT NULL,
     record_json TEXT NOT NULL,
     hash TEXT NOT NULL,
     retired_at TEXT NOT NULL,
     PRIMARY KEY (device, seq)
   );
   CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit
     BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
     WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'audit_retiring')
     BEGIN SELECT RAISE(ABORT, 'the audit journal is append-only'); END;`,
  // credentials this agent put into the user's world (agent/credentials/manager.ts): one
  // row per kube entry, AWS profile or ssh-agent identity, and one 'activation' row per injected
  // activation (when to renew). Written before the thing itself, so a crash leaves a row to sweep.
  `CREATE TABLE injections (
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     target TEXT NOT NULL,
     role TEXT NOT NULL,
     activation TEXT NOT NULL,
     expires_at TEXT NOT NULL,
     renew_at TEXT,
     ended_at TEXT,
     detail_json TEXT NOT NULL DEFAULT '{}',
     PRIMARY KEY (kind, name, target)
   );
   CREATE INDEX injections_by_activation ON injections(activation);`,
];

/** The schema this build writes: a file at another version is migrated (or refused) by openDb. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export type Db = Database.Database;

export function openDb(home: string, opts: { readonly?: boolean } = {}): Db {
  const file = path.join(home, 'agent.db');
  // created 0600 whatever the umask; SQLite gives its -wal/-shm files the same mode
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  fs.chmodSync(file, 0o600);
  const db = openWithRuntimeBinding(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) migrate(db);
  return db;
}

/** A loader error of the compiled module (wrong ABI, missing file), not one of SQLite. */
function isBindingLoadError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = errorMessage(e);
  return (
    code === 'ERR_DLOPEN_FAILED' ||
    code === 'MODULE_NOT_FOUND' ||
    /NODE_MODULE_VERSION|better_sqlite3\.node|Could not locate the bindings file/.test(msg)
  );
}

/** Opens SQLite through the binding of the runtime we are in (see native-binding.ts). */
function openWithRuntimeBinding(file: string): Db {
  const root = packageRoot();
  const choice = chooseBinding(currentRuntime(), root);
  try {
    return new Database(
      file,
      choice.kind === 'electron' ? { fileMustExist: false, nativeBinding: choice.path } : { fileMustExist: false },
    );
  } catch (e) {
    if (isBindingLoadError(e)) throw new NativeBindingError(bindingFailureMessage(choice, root, e));
    throw e;
  }
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`agent.db was written by a newer PIM Agent (schema ${current}); refusing to downgrade it`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
