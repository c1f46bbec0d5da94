// Typed access to agent.db: connection settings, refresh outcome, the last verified policy, and
// the agent's copy of its activations.
import type { ActivationView } from '../../shared/activation';
import type { InjectionView } from '../../shared/api';
import { TERMINAL, type ActivationState } from '../../shared/activation-state';
import type { Db } from './db';

/** States in which an activation is still going somewhere (or is in force). */
export const LIVE_STATES: readonly ActivationState[] = ['requested', 'pending-approval', 'approved', 'active'];

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

/** meta key: ids this device ended (endLocally) that the control plane has not confirmed yet */
const PENDING_ENDS = 'pending_deactivations';

export class AgentStore {
  constructor(readonly db: Db) {}

  private get(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private set(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, value);
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
    const row = this.db.prepare(`SELECT ${SUMMARY_COLUMNS}, roles_json AS rolesJson FROM policy WHERE id = 1`).get() as
      StoredPolicy | undefined;
    return row ?? null;
  }

  /** Everything but the full roles file (which can be megabytes). */
  policySummary(): PolicySummary | null {
    const row = this.db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM policy WHERE id = 1`).get() as
      PolicySummary | undefined;
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

  /** Stores a verified policy and the refresh outcome in one transaction. `keysRotated`: the copy
   *  replaces one verified under targets keys a new root has since replaced (TUF fast-forward
   *  recovery), so it may carry a lower version; the no-rollback trigger guards updates only. */
  savePolicy(p: StoredPolicy, outcome: RefreshOutcome, opts: { keysRotated?: boolean } = {}): void {
    this.db.transaction(() => {
      if (opts.keysRotated) this.db.prepare('DELETE FROM policy').run();
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
  updatePolicy(
    p: Pick<StoredPolicy, 'version' | 'expires' | 'verifiedAt' | 'memberJson' | 'relevantJson' | 'zonesJson'>,
    outcome: RefreshOutcome,
  ): void {
    this.db.transaction(() => {
      const r = this.db
        .prepare(
          'UPDATE policy SET version = @version, expires = @expires, verified_at = @verifiedAt, member_json = @memberJson, relevant_json = @relevantJson, zones_json = @zonesJson WHERE id = 1',
        )
        .run(p);
      if (r.changes !== 1) throw new Error('no stored policy to update');
      this.setLastRefresh(outcome);
    })();
  }

  /** Records an activation as the control plane reported it; `ended_at` is when this agent first
   *  saw it in a terminal state. */
  saveActivation(a: ActivationView, now: Date): void {
    const ended = TERMINAL.has(a.state) ? now.toISOString() : null;
    this.db
      .prepare(
        `INSERT INTO activations (id, role, state, request_json, ceremony_url, starts_at, expires_at, end_reason, updated_at, user, view_json, created_at, ended_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET state = excluded.state, ceremony_url = excluded.ceremony_url, starts_at = excluded.starts_at,
           expires_at = excluded.expires_at, end_reason = excluded.end_reason, updated_at = excluded.updated_at,
           user = excluded.user, view_json = excluded.view_json, created_at = excluded.created_at,
           ended_at = CASE WHEN excluded.ended_at IS NULL THEN NULL ELSE COALESCE(activations.ended_at, excluded.ended_at) END`,
      )
      .run(
        a.id,
        a.role,
        a.state,
        JSON.stringify(a.request),
        a.ceremonyUrl,
        a.startsAt,
        a.expiresAt,
        a.endReason,
        now.toISOString(),
        a.user,
        JSON.stringify(a),
        a.createdAt,
        ended,
      );
  }

  /** `user`'s activations, newest first: every live one, and those that ended after `endedSince`. */
  activations(user: string, endedSince: Date, limit = 50): ActivationView[] {
    const rows = this.db
      .prepare(
        `SELECT view_json FROM activations
         WHERE user = ? AND view_json IS NOT NULL AND (state IN (${LIVE_STATES.map(() => '?').join(', ')}) OR ended_at >= ?)
         ORDER BY created_at DESC LIMIT ?`,
      )
      .all(user, ...LIVE_STATES, endedSince.toISOString(), limit) as { view_json: string }[];
    return rows.map((r) => JSON.parse(r.view_json) as ActivationView);
  }

  /** How many of `user`'s activations are live in agent.db, by state. */
  liveActivations(user: string): { id: string; state: ActivationState; expiresAt: string | null }[] {
    return this.db
      .prepare(
        `SELECT id, state, expires_at AS expiresAt FROM activations WHERE user = ? AND state IN (${LIVE_STATES.map(() => '?').join(', ')})`,
      )
      .all(user, ...LIVE_STATES) as { id: string; state: ActivationState; expiresAt: string | null }[];
  }

  /** The view agent.db kept of activation `id`, as the control plane last reported it (null: none). */
  activationView(id: string): ActivationView | null {
    const row = this.db.prepare('SELECT view_json FROM activations WHERE id = ? AND view_json IS NOT NULL').get(id) as
      { view_json: string } | undefined;
    return row ? (JSON.parse(row.view_json) as ActivationView) : null;
  }

  /** The state agent.db kept of activation `id`, if it has one. */
  activationState(id: string): ActivationState | null {
    const row = this.db.prepare('SELECT state FROM activations WHERE id = ?').get(id) as
      { state: ActivationState } | undefined;
    return row?.state ?? null;
  }

  /** The activations of `role` (every user's) that are active or approved and not expired at `now`. */
  activeOrApproved(role: string, now: Date): { id: string }[] {
    return this.db
      .prepare(
        "SELECT id FROM activations WHERE role = ? AND state IN ('active', 'approved') AND (expires_at IS NULL OR expires_at > ?)",
      )
      .all(role, now.toISOString()) as { id: string }[];
  }

  /** Ids of activations this device ended on its own (endLocally) that the control plane has not
   *  confirmed yet. */
  pendingDeactivations(): string[] {
    const v = this.get(PENDING_ENDS);
    return v ? (JSON.parse(v) as string[]) : [];
  }

  setPendingDeactivations(ids: readonly string[]): void {
    if (ids.length === 0) this.db.prepare('DELETE FROM meta WHERE key = ?').run(PENDING_ENDS);
    else this.set(PENDING_ENDS, JSON.stringify(ids));
  }

  /** Runs `fn` in one transaction. */
  transaction(fn: () => void): void {
    this.db.transaction(fn)();
  }

  /** Ended activations this agent saw end before `before` are forgotten. */
  pruneActivations(before: Date): void {
    this.db.prepare('DELETE FROM activations WHERE ended_at IS NOT NULL AND ended_at < ?').run(before.toISOString());
  }

  /** What the credential manager injected, per activation (agent/credentials/manager.ts). */
  injections(): InjectionView[] {
    const rows = this.db
      .prepare(
        'SELECT kind, name, target, role, activation, expires_at, ended_at, detail_json FROM injections ORDER BY activation, kind, name',
      )
      .all() as {
      detail_json: string;
      kind: string;
      name: string;
      target: string;
      role: string;
      activation: string;
      expires_at: string;
      ended_at: string | null;
    }[];
    const by = new Map<string, InjectionView>();
    for (const r of rows) {
      let v = by.get(r.activation);
      if (!v)
        by.set(
          r.activation,
          (v = { role: r.role, activation: r.activation, expiresAt: r.expires_at, endedAt: null, items: [] }),
        );
      if (r.kind !== 'kube' && r.kind !== 'aws' && r.kind !== 'ssh' && r.kind !== 'gcp' && r.kind !== 'azure') continue;
      // an SSH certificate that could not be added yet (no ssh-agent) carries why
      const problem =
        r.kind === 'ssh' ? (JSON.parse(r.detail_json || '{}') as { problem?: string }).problem : undefined;
      v.items.push(
        problem
          ? { kind: r.kind, name: r.name, where: r.target, problem }
          : { kind: r.kind, name: r.name, where: r.target },
      );
      if (r.ended_at) v.endedAt = r.ended_at;
    }
    return [...by.values()].filter((v) => v.items.length > 0);
  }

  /** A new connection (other server or user) starts from an empty policy cache. */
  resetPolicy(): void {
    this.db.prepare('DELETE FROM policy').run();
    this.db.prepare("DELETE FROM meta WHERE key = 'last_refresh'").run();
  }
}
