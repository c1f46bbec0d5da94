// The agent: one object that owns agent.db, refreshes the signed policy and answers, online or
// offline, what the user may activate. Electron's main process, `pim agent`, `pim ui` and the
// one-shot CLI commands all use it; nothing here knows about windows or terminals.
import fs from 'node:fs';
import path from 'node:path';
import type { ActivationView } from '../shared/activation';
import type { AgentState, EnrolmentStatus, RoleView } from '../shared/api';
// engine + compile only: the schema/YAML modules (zod, yaml) stay out of the offline read path
import { PimError } from '../shared/errors';
import { expiryNotices } from '../shared/notices';
import { decide, decideAll, indexRoles } from '../shared/policy/engine';
import { subjectFromMember } from '../shared/policy/compile';
import { useZoneTables, type ZoneTable } from '../shared/policy/windows';
import type { CompiledRole, Decision, MemberFile, RolesFile, Subject } from '../shared/policy/types';
import { ensurePrivateDir } from '../platform/fs-safe';
import type { Journal } from './audit/journal';
import { asRefreshError, RefreshError, type RefreshErrorCode } from './policy/errors';
import { checkDistinctKeys } from './policy/key-guard';
import type { RefreshResult } from './policy/refresh';
import { tufDirs } from './policy/tuf-dirs';
import { AgentStore, type Connection } from './store/agent-store';
import { openDb, type Db } from './store/db';

type Index = ReturnType<typeof indexRoles>;

interface PolicyView {
  key: string;
  index: Index;
  subject: Subject;
  /** roles in the policy that this view leaves out (not naming the user) */
  others: number;
  expires: Date;
}

/** How long an ended activation stays in getState (the UI shows "denied: …", "expired"). */
export const RECENTLY_ENDED_MS = 60 * 60_000;

/** An unchanged policy refresh is journaled at most this often (a changed one always is). */
const UNCHANGED_REFRESH_AUDIT_MS = 60 * 60_000;

export type AgentErrorCode =
  | 'bad-input'
  | 'bad-ceremony-url'
  | 'unknown-role'
  | 'unknown-user'
  | 'no-policy'
  | 'not-connected'
  | 'not-enrolled'
  | 'not-allowed'
  | 'not-active'
  | 'unreachable'
  | 'root-mismatch'
  | 'enrolment-expired'
  | 'enrolment-cancelled'
  // `pim connect` says why its first refresh failed with the refresh's own code
  | RefreshErrorCode;

export class AgentError extends PimError<AgentErrorCode> {}

export class Agent {
  readonly store: AgentStore;
  private views = new Map<'relevant' | 'all', PolicyView>();
  private listeners = new Set<() => void>();
  private inflight: Promise<RefreshResult> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private closers = new Set<() => void>();
  private enrolmentStatus: EnrolmentStatus | null = null;
  private journalP: Promise<Journal> | null = null;
  private auditListeners = new Set<() => void>();

  /** `db`: an agent.db the caller already opened (the CLI's read-only fast path, cli/fast-run.ts,
   *  which checked the folder and file itself); else the folder is made private and opened here. */
  constructor(
    readonly home: string,
    private readonly clock: () => Date = () => new Date(),
    db?: Db,
  ) {
    if (!db) ensurePrivateDir(home);
    this.store = new AgentStore(db ?? openDb(home));
  }

  close(): void {
    this.stopLoop();
    for (const cb of this.closers) cb();
    this.closers.clear();
    this.store.db.close();
  }

  /** Runs once when the agent closes (before agent.db does): background work stops here. */
  onClose(cb: () => void): void {
    this.closers.add(cb);
  }

  now(): Date {
    return this.clock();
  }

  /** Tell onChange listeners (tray, UI hosts) that something they show changed. */
  emitChange(): void {
    this.changed();
  }

  enrolment(): EnrolmentStatus | null {
    return this.enrolmentStatus;
  }

  /** The enrolment in progress (or the last one), as getState reports it. */
  setEnrolment(e: EnrolmentStatus | null): void {
    this.enrolmentStatus = e;
    this.changed();
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private changed(): void {
    for (const cb of this.listeners) cb();
  }

  /** The audit journal in agent.db (loaded on first use: the offline read path never needs it). */
  journal(): Promise<Journal> {
    this.journalP ??= import('./audit/journal').then(
      ({ Journal }) =>
        new Journal(this.store.db, {
          now: this.clock,
          onAppend: () => {
            for (const cb of this.auditListeners) cb();
          },
        }),
    );
    return this.journalP;
  }

  /** The journal when this agent keeps one — enrolled with a security key (not the `--user` demo
   *  path) and its chain started — else null: then nothing is journaled. */
  async activeJournal(): Promise<Journal | null> {
    const conn = this.store.connection();
    if (!conn || conn.unenrolled) return null;
    const j = await this.journal();
    return j.device() ? j : null;
  }

  /** Called after each record this process appends (the audit syncer sends them soon after). */
  onAudit(cb: () => void): () => void {
    this.auditListeners.add(cb);
    return () => this.auditListeners.delete(cb);
  }

  /** policy-refreshed: every change; an unchanged refresh at most hourly (the agent was checking). */
  private async auditRefreshed(r: RefreshResult): Promise<void> {
    const j = await this.activeJournal();
    if (!j) return;
    const last = j.lastOf('policy-refreshed');
    const d = last?.record.data as { version?: unknown; expires?: unknown } | undefined;
    const same = !r.changed && !!last && d?.version === r.version && d?.expires === r.expires;
    if (same && this.clock().getTime() - Date.parse(last.record.at) < UNCHANGED_REFRESH_AUDIT_MS) return;
    j.append('policy-refreshed', this.store.connection()!.user, {
      version: r.version,
      expires: r.expires,
      changed: r.changed,
    });
  }

  /** policy-rejected (what the control plane offered and why it was refused — tampering,
   *  rollback, freeze …), once per distinct code and cached version; being offline is not. */
  private async auditRejected(e: unknown): Promise<void> {
    if (!(e instanceof RefreshError) || e.kind !== 'rejected') return;
    const j = await this.activeJournal();
    if (!j) return;
    const version = this.store.policyVersion();
    const last = j.lastOf('policy-rejected');
    const d = last?.record.data as { code?: unknown; version?: unknown } | undefined;
    if (
      last &&
      d?.code === e.code &&
      d?.version === version &&
      (j.lastOf('policy-refreshed')?.record.seq ?? 0) < last.record.seq
    )
      return;
    j.append('policy-rejected', this.store.connection()!.user, { code: e.code, message: e.message, version });
  }

  /** Pin a trust root and remember the control plane and user. A different server, user or
   *  root starts from an empty cache; the same ones keep it (and its rollback protection).
   *  `demo` unset: kept from the previous connection when server and root are unchanged. */
  connect(opts: { server: string; user: string; root: Buffer; unenrolled: boolean; demo?: boolean }): void {
    const server = normaliseServer(opts.server);
    const user = opts.user.trim().toLowerCase();
    if (!/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+$/.test(user))
      throw new AgentError('bad-input', `"${opts.user}" is not an e-mail address`);
    checkDistinctKeys('trust-root.json', opts.root);
    let root: { signed?: { _type?: string; version?: number } };
    try {
      root = JSON.parse(opts.root.toString('utf8')) as typeof root; // checked just below
    } catch {
      throw new AgentError('bad-input', 'the trust root is not JSON');
    }
    if (root?.signed?._type !== 'root')
      throw new AgentError('bad-input', 'the trust root is not a TUF root metadata file');
    const dirs = tufDirs(this.home);
    const prev = this.store.connection();
    const pinned = path.join(dirs.metadata, 'root.json');
    // same user + same pinned root = same repository, even if its URL moved: keep the cache
    const sameRoot =
      fs.existsSync(path.join(dirs.metadata, '.pinned-root.json')) &&
      fs.readFileSync(path.join(dirs.metadata, '.pinned-root.json')).equals(opts.root);
    const samePin = prev && prev.user === user && sameRoot;
    // enrolling with the demo's own link (same server, same root) stays the demo: its made-up
    // credentials must keep going to the demo's home, not the user's ~/.kube, ~/.aws or ssh-agent;
    // any other control plane is real
    const demo = opts.demo ?? (prev?.demo === true && prev.server === server && sameRoot);
    if (!samePin) {
      fs.rmSync(path.join(this.home, 'tuf'), { recursive: true, force: true });
      ensurePrivateDir(dirs.metadata);
      fs.writeFileSync(pinned, opts.root, { mode: 0o600 });
      fs.writeFileSync(path.join(dirs.metadata, '.pinned-root.json'), opts.root, { mode: 0o600 });
      this.store.resetPolicy();
      this.views.clear();
    }
    const c: Connection = { server, user, unenrolled: opts.unenrolled, demo };
    this.store.setConnection(c);
    this.changed();
  }

  /** Refresh once; concurrent callers share the same attempt. */
  refresh(): Promise<RefreshResult> {
    if (!this.inflight) {
      // tuf-js, zod and the fetcher load only when a refresh actually runs
      this.inflight = import('./policy/refresh')
        .then(({ refreshPolicy }) => refreshPolicy(this.home, this.store, { now: this.clock }))
        .then(
          // journaled before the refresh is reported done; a journal that cannot be written fails it
          async (r) => {
            await this.auditRefreshed(r);
            return r;
          },
          async (e: unknown) => {
            // the refusal itself is what the caller needs to hear, even if the journal fails too
            await this.auditRejected(e).catch(() => undefined);
            throw e;
          },
        )
        .finally(() => {
          this.inflight = null;
          this.changed();
        });
    }
    return this.inflight;
  }

  /** Background refresh: every `intervalMs` while it works, with jittered exponential backoff from
   *  `minBackoffMs` while it doesn't. */
  startLoop(
    opts: { intervalMs?: number; minBackoffMs?: number; onResult?: (r: RefreshResult | RefreshError) => void } = {},
  ): void {
    const interval = opts.intervalMs ?? 5 * 60_000;
    const base = opts.minBackoffMs ?? 5_000;
    let failures = 0;
    this.stopped = false;
    const run = async () => {
      if (this.stopped) return;
      let delay = interval;
      try {
        const r = await this.refresh();
        failures = 0;
        opts.onResult?.(r);
      } catch (e) {
        failures++;
        const backoff = Math.min(interval, base * 2 ** Math.min(failures - 1, 10));
        delay = backoff / 2 + Math.random() * (backoff / 2);
        opts.onResult?.(asRefreshError(e));
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void run(), delay);
        this.timer.unref?.();
      }
    };
    void run();
  }

  stopLoop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** `scope: 'relevant'` parses only the roles that name the user (indexed at refresh); 'all'
   *  parses the whole roles file, for `--all` and checks of any role. Cached per policy copy. */
  private policyView(scope: 'relevant' | 'all'): PolicyView | null {
    const p = this.store.policySummary();
    const conn = this.store.connection();
    if (!p || !conn) return null;
    const key = `${p.version}:${p.rolesSha256}:${p.memberJson ?? ''}`;
    const cached = this.views.get(scope);
    if (cached && cached.key === key) return cached;
    const member: MemberFile = p.memberJson
      ? (JSON.parse(p.memberJson) as MemberFile)
      : { schema: 'pim-member/v1', email: conn.user, groups: [], assignments: [] };
    const roles =
      scope === 'all'
        ? (JSON.parse(this.store.rolesJson()!) as RolesFile).roles
        : (JSON.parse(p.relevantJson) as CompiledRole[]);
    useZoneTables(JSON.parse(p.zonesJson) as ZoneTable[]);
    const view: PolicyView = {
      key,
      index: indexRoles(roles),
      subject: subjectFromMember(member),
      others: scope === 'all' ? 0 : p.roleCount - roles.length,
      expires: new Date(p.expires),
    };
    this.views.set(scope, view);
    return view;
  }

  private decisions(scope: 'relevant' | 'all'): { relevant: Decision[]; otherCount: number; view: PolicyView } | null {
    const view = this.policyView(scope);
    if (!view) return null;
    const r = decideAll(view.subject, view.index, this.clock(), { all: scope === 'all', policyExpires: view.expires });
    return { relevant: r.relevant, otherCount: scope === 'all' ? 0 : view.others, view };
  }

  private roleViews(decisions: Decision[], view: PolicyView): RoleView[] {
    return decisions.map((d) => ({
      name: d.role,
      description: view.index.byName.get(d.role)?.description ?? '',
      decision: d,
    }));
  }

  state(): AgentState {
    const conn = this.store.connection();
    const last = this.store.lastRefresh();
    const p = this.store.policySummary();
    const d = this.decisions('relevant');
    const activations = conn ? this.recentActivations(conn.user) : [];
    return {
      now: this.clock().toISOString(),
      server: conn?.server ?? null,
      user: conn ? { email: conn.user, groups: d?.view.subject.groups ?? [] } : null,
      connection: !conn ? 'unconfigured' : last ? last.status : 'offline',
      lastAttemptAt: last?.at ?? null,
      lastError: last?.error ?? null,
      policy: p ? { version: p.version, expires: p.expires, verifiedAt: p.verifiedAt } : null,
      roles: d ? this.roleViews(sortRoles(d.relevant), d.view) : [],
      otherRoles: d?.otherCount ?? 0,
      enrolled: !!conn && !conn.unenrolled,
      enrolment: this.enrolmentStatus,
      activations,
      notices: expiryNotices(activations, this.clock().getTime()),
      credentials: conn ? this.store.injections() : [],
    };
  }

  /** Live activations and those that ended in the last hour, from agent.db (works offline). An
   *  activation past its end is shown expired even before the control plane says so. */
  recentActivations(user: string): ActivationView[] {
    const now = this.clock();
    return this.store
      .activations(user, new Date(now.getTime() - RECENTLY_ENDED_MS))
      .map((a) =>
        a.state === 'active' && a.expiresAt && Date.parse(a.expiresAt) <= now.getTime()
          ? { ...a, state: 'expired', endReason: a.endReason ?? 'the activation window ended' }
          : a,
      );
  }

  listAllRoles(): RoleView[] {
    const d = this.decisions('all');
    return d ? this.roleViews(sortRoles(d.relevant), d.view) : [];
  }

  /** The offline answer to a full activation request ('request' mode): what the server will decide
   *  too, with the same engine and the same signed policy. */
  decideRequest(
    role: string,
    ask: { duration?: number; justification?: string; ticket?: string },
    activeCount = 0,
  ): Decision {
    const view = this.policyView('relevant')?.index.byName.has(role)
      ? this.policyView('relevant')!
      : this.policyView('all');
    const found = view?.index.byName.get(role);
    if (!view || !found) throw new AgentError('unknown-role', `no role named "${role}" in the cached policy`);
    return decide({
      subject: view.subject,
      role: found,
      now: this.clock(),
      mode: 'request',
      ask,
      activeCount,
      policyExpires: view.expires,
    });
  }

  /** A role as the cached policy defines it (grants included), or null. */
  role(name: string): CompiledRole | null {
    return (
      this.policyView('relevant')?.index.byName.get(name) ?? this.policyView('all')?.index.byName.get(name) ?? null
    );
  }

  check(role: string, duration?: number): Decision {
    const small = this.policyView('relevant');
    if (!small)
      throw new AgentError(
        'no-policy',
        this.store.connection()
          ? 'no verified policy yet: run `pim policy refresh`'
          : 'not connected: run `pim connect`',
      );
    // most checks are of the user's own roles: only parse every role when it is another one
    const view = small.index.byName.has(role) ? small : this.policyView('all')!;
    const found = view.index.byName.get(role);
    if (!found)
      throw new AgentError('unknown-role', `no role named "${role}" in policy v${this.store.policyVersion()}`);
    return decide({
      subject: view.subject,
      role: found,
      now: this.clock(),
      mode: 'check',
      ask: duration ? { duration } : undefined,
      policyExpires: view.expires,
    });
  }
}

function sortRoles(ds: Decision[]): Decision[] {
  // plain code-point order: localeCompare would wake ICU (~25 ms) in a one-shot CLI
  return [...ds].sort(
    (a, b) => Number(b.allowed) - Number(a.allowed) || (a.role < b.role ? -1 : a.role > b.role ? 1 : 0),
  );
}

export function normaliseServer(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new AgentError('bad-input', `"${s}" is not a URL (e.g. https://pim.example.com)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new AgentError('bad-input', 'the control plane URL must be http(s)');
  if (u.username || u.password || u.search || u.hash)
    throw new AgentError('bad-input', 'the control plane URL must not carry credentials, a query or a fragment');
  return u.toString().replace(/\/+$/, '');
}
