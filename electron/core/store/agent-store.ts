// Typed access to agent.db: connection settings, refresh outcome, and the last verified policy.
import type { Db } from './db';

export interface Connection {
  server: string;
  user: string;
  /** true when connected by `pim connect --user` (demo/test path) rather than enrolment */
  unenrolled: boolean;
  demo: boolean;
}

export interface RefreshOutcome {
  at: string;
  status: 'online' | 'offline' | 'rejected';
  error: string | null;
  code: string | null;
}

export interface StoredPolicy {
  version: number;
  expires: string;
  verifiedAt: string;
  rolesSha256: string;
  rolesJson: string;
  memberJson: string | null;
  /** JSON array of the compiled roles that name this user */
  relevantJson: string;
  roleCount: number;
  /** ZoneTable[] for the time zones of the relevant roles' windows */
  zonesJson: string;
}

export type PolicySummary = Omit<StoredPolicy, 'rolesJson'>;

const SUMMARY_COLUMNS =
  'version, expires, verified_at AS verifiedAt, roles_sha256 AS rolesSha256, member_json AS memberJson, relevant_json AS relevantJson, role_count AS roleCount, zones_json AS zonesJson';

export class AgentStore {
  constructor(readonly db: Db) {}

  private get(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private set(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  connection(): Connection | null {
    const v = this.get('connection');
    return v ? (JSON.parse(v) as Connection) : null;
  }

  setConnection(c: Connection): void {
    this.set('connection', JSON.stringify(c));
  }

  lastRefresh(): RefreshOutcome | null {
    const v = this.get('last_refresh');
    return v ? (JSON.parse(v) as RefreshOutcome) : null;
  }

  setLastRefresh(o: RefreshOutcome): void {
    this.set('last_refresh', JSON.stringify(o));
  }

  policy(): StoredPolicy | null {
    const row = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS}, roles_json AS rolesJson FROM policy WHERE id = 1`)
      .get() as StoredPolicy | undefined;
    return row ?? null;
  }

  /** Everything but the full roles file (which can be megabytes). */
  policySummary(): PolicySummary | null {
    const row = this.db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM policy WHERE id = 1`).get() as PolicySummary | undefined;
    return row ?? null;
  }

  rolesJson(): string | null {
    const row = this.db.prepare('SELECT roles_json AS j FROM policy WHERE id = 1').get() as { j: string } | undefined;
    return row?.j ?? null;
  }

  policyVersion(): number | null {
    const row = this.db.prepare('SELECT version FROM policy WHERE id = 1').get() as { version: number } | undefined;
    return row?.version ?? null;
  }

  /** Stores a verified policy and the refresh outcome in one transaction. */
  savePolicy(p: StoredPolicy, outcome: RefreshOutcome): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO policy (id, version, expires, verified_at, roles_sha256, roles_json, member_json, relevant_json, role_count, zones_json)
           VALUES (1, @version, @expires, @verifiedAt, @rolesSha256, @rolesJson, @memberJson, @relevantJson, @roleCount, @zonesJson)
           ON CONFLICT(id) DO UPDATE SET version = excluded.version, expires = excluded.expires,
             verified_at = excluded.verified_at, roles_sha256 = excluded.roles_sha256,
             roles_json = excluded.roles_json, member_json = excluded.member_json,
             relevant_json = excluded.relevant_json, role_count = excluded.role_count, zones_json = excluded.zones_json`,
        )
        .run(p);
      this.setLastRefresh(outcome);
    })();
  }

  /** A newer signature over the same roles file: move versions, expiry and the user's slice only. */
  updatePolicy(p: Pick<StoredPolicy, 'version' | 'expires' | 'verifiedAt' | 'memberJson' | 'relevantJson' | 'zonesJson'>, outcome: RefreshOutcome): void {
    this.db.transaction(() => {
      const r = this.db
        .prepare('UPDATE policy SET version = @version, expires = @expires, verified_at = @verifiedAt, member_json = @memberJson, relevant_json = @relevantJson, zones_json = @zonesJson WHERE id = 1')
        .run(p);
      if (r.changes !== 1) throw new Error('no stored policy to update');
      this.setLastRefresh(outcome);
    })();
  }

  /** A new connection (other server or user) starts from an empty policy cache. */
  resetPolicy(): void {
    this.db.prepare('DELETE FROM policy').run();
    this.db.prepare("DELETE FROM meta WHERE key = 'last_refresh'").run();
  }
}
