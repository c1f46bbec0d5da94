// Typed access to what the credential manager keeps in agent.db: the injections table (what we put
// where, per activation, and when it renews or ended) and the reads of the activations table it
// needs (what is live, why something ended, which seeds a request still waits for).
import type { ActivationRequest } from '../../shared/activation';
import type { Db } from './db';

export type InjectionKind = 'kube' | 'aws' | 'ssh' | 'gcp' | 'azure';

/** A row of the injections table. kind 'activation' is the per-activation marker: its renew_at says
 *  when the activation's credentials are next renewed. */
export interface InjectionRow {
  kind: InjectionKind | 'activation';
  name: string;
  target: string;
  role: string;
  activation: string;
  expires_at: string;
  renew_at: string | null;
  ended_at: string | null;
  detail_json: string;
}

/** The primary key of a row. */
export type InjectionKey = Pick<InjectionRow, 'kind' | 'name' | 'target'>;

/** A row as injection writes it (ended_at is cleared: it lives again). */
export type NewInjection = Omit<InjectionRow, 'ended_at'>;

export interface ActiveActivation {
  id: string;
  role: string;
  expiresAt: Date;
  request: ActivationRequest;
}

export interface ActivationEnd {
  state: string;
  expires_at: string | null;
  end_reason: string | null;
  updated_at: string;
}

export class CredentialsStore {
  constructor(private readonly db: Db) {}

  /** `user`'s activations in state active that end after `now` (every device's). */
  activeActivations(user: string, now: Date): ActiveActivation[] {
    const rows = this.db
      .prepare(
        "SELECT id, role, expires_at, request_json FROM activations WHERE user = ? AND state = 'active' AND expires_at > ?",
      )
      .all(user, now.toISOString()) as { id: string; role: string; expires_at: string; request_json: string }[];
    return rows.map((r) => ({
      id: r.id,
      role: r.role,
      expiresAt: new Date(r.expires_at),
      request: JSON.parse(r.request_json) as ActivationRequest,
    }));
  }

  /** How and when an activation ended, as this agent last heard. */
  activationEnd(id: string): ActivationEnd | undefined {
    return this.db.prepare('SELECT state, expires_at, end_reason, updated_at FROM activations WHERE id = ?').get(id) as
      ActivationEnd | undefined;
  }

  /** Whether `id` is an activation of this agent (another PIM home may share the ssh-agent). */
  knowsActivation(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM activations WHERE id = ?').get(id) !== undefined;
  }

  /** The SSH public keys of requests that can still become (or are) active. */
  requestedSshKeys(): string[] {
    const rows = this.db
      .prepare(
        "SELECT request_json FROM activations WHERE state IN ('requested', 'pending-approval', 'approved', 'active')",
      )
      .all() as { request_json: string }[];
    return rows.flatMap((r) => {
      const k = (JSON.parse(r.request_json) as ActivationRequest).sshPublicKey;
      return k ? [k] : [];
    });
  }

  /** This device's activation of `role` that was in force at `at` (a second's slack at its end). */
  activationAt(role: string, at: Date): string | null {
    const r = this.db
      .prepare(
        "SELECT id, request_json FROM activations WHERE role = ? AND starts_at <= ? AND expires_at >= ? AND state IN ('active', 'expired', 'deactivated', 'revoked') ORDER BY expires_at DESC",
      )
      .all(role, at.toISOString(), new Date(at.getTime() - 1000).toISOString()) as {
      id: string;
      request_json: string;
    }[];
    return r[0]?.id ?? null;
  }

  rows(): InjectionRow[] {
    return this.db.prepare('SELECT * FROM injections').all() as InjectionRow[];
  }

  /** When the activation's credentials renew next; undefined when they were never injected. */
  marker(activation: string): { renew_at: string | null } | undefined {
    return this.db.prepare("SELECT renew_at FROM injections WHERE kind = 'activation' AND name = ?").get(activation) as
      { renew_at: string | null } | undefined;
  }

  /** SSH certificates waiting for an ssh-agent (their target is `pendingTarget`). */
  pendingSsh(pendingTarget: string): InjectionRow[] {
    return this.db
      .prepare("SELECT * FROM injections WHERE kind = 'ssh' AND target = ? AND ended_at IS NULL")
      .all(pendingTarget) as InjectionRow[];
  }

  /** Records (or re-records) an injection before anything is written: a crash leaves a row to sweep. */
  record(r: NewInjection): void {
    this.db
      .prepare(
        `INSERT INTO injections (kind, name, target, role, activation, expires_at, renew_at, ended_at, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
         ON CONFLICT(kind, name, target) DO UPDATE SET role = excluded.role, activation = excluded.activation, expires_at = excluded.expires_at,
           renew_at = excluded.renew_at, ended_at = NULL, detail_json = excluded.detail_json`,
      )
      .run(r.kind, r.name, r.target, r.role, r.activation, r.expires_at, r.renew_at, r.detail_json);
  }

  /** `old` becomes `now` in one transaction (a pending SSH certificate that found its ssh-agent). */
  replace(old: InjectionKey, now: Omit<NewInjection, 'renew_at'>): void {
    this.db.transaction(() => {
      this.delete(old);
      this.db
        .prepare(
          'INSERT OR REPLACE INTO injections (kind, name, target, role, activation, expires_at, renew_at, ended_at, detail_json) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)',
        )
        .run(now.kind, now.name, now.target, now.role, now.activation, now.expires_at, now.detail_json);
    })();
  }

  /** Try again at `renewAt`, with why it did not work this time in the detail. */
  defer(r: InjectionKey, renewAt: Date, detail: object): void {
    this.db
      .prepare('UPDATE injections SET renew_at = ?, detail_json = ? WHERE kind = ? AND name = ? AND target = ?')
      .run(renewAt.toISOString(), JSON.stringify(detail), r.kind, r.name, r.target);
  }

  /** The role ended: the entry stays for its grace period, answering with why. */
  markEnded(r: InjectionKey, at: Date): void {
    this.db
      .prepare('UPDATE injections SET ended_at = ? WHERE kind = ? AND name = ? AND target = ?')
      .run(at.toISOString(), r.kind, r.name, r.target);
  }

  delete(r: InjectionKey): void {
    this.db.prepare('DELETE FROM injections WHERE kind = ? AND name = ? AND target = ?').run(r.kind, r.name, r.target);
  }

  /** Where credentials went last time (JSON), to notice when that moves. */
  credentialTargets(): string | undefined {
    return this.db.prepare("SELECT value FROM meta WHERE key = 'credential_targets'").pluck().get() as
      string | undefined;
  }

  setCredentialTargets(json: string): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('credential_targets', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(json);
  }
}
