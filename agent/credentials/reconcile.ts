// The one function that decides everything, `run`: from agent.db's activations (what is live now)
// and the injections table (what we put where), it injects what is missing, renews what is due,
// tears down what ended and removes anything of ours it finds that it has no live reason for. It
// runs after every activation change, on a timer, and at start-up (offline, nothing kept past its
// end) — so a crash leaves at most a token's few minutes, never the role.
import type { IssuedCredentials } from '../../shared/credentials';
import { ensurePrivateDir } from '../../platform/fs-safe';
import { ControlPlaneError } from '../activation/cp-client';
import type { DeviceKey } from '../keystore';
import type { CredentialsStore, InjectionRow } from '../store/credentials-store';
import { installCredHelper } from './cred-helper';
import type { CredentialInjector, InjectedItem, JournalRecord, LiveActivation, ReconcileReport } from './injector';
import type { SessionTrail } from './session-trail';
import type { SshInjector } from './ssh-injector';
import { writeStatusFiles } from './status-files';
import type { CredentialTargets } from './targets';
import { noteTargets } from './targets';
import type { KubeInjector } from './kube-injector';
import { removeStrayCredentials } from './injector';
import { errorMessage } from '../../shared/errors';

export interface ReconcileDeps {
  store: CredentialsStore;
  targets: CredentialTargets;
  injectors: { kube: KubeInjector; aws: CredentialInjector; ssh: SshInjector; cloud: CredentialInjector };
  trail: SessionTrail;
  now: () => Date;
  graceMs: number;
  /** the user of the connection in force, if any */
  user: () => string | null;
  deviceKey: () => Promise<DeviceKey | null>;
  /** the control plane's credentials for an active activation */
  issue: (activation: string, key: DeviceKey) => Promise<IssuedCredentials>;
  /** learn an activation's state from the control plane (it ended there before we heard) */
  refreshActivation: (id: string, key: DeviceKey) => Promise<void>;
  sessionTrail: (role: string) => boolean;
  /** journal a change of where credentials go (long-running hosts only) */
  journalTargets: () => boolean;
  journal: (records: JournalRecord[]) => Promise<void>;
}

export class Reconciler {
  constructor(private readonly d: ReconcileDeps) {}

  private get all(): CredentialInjector[] {
    const { kube, aws, ssh, cloud } = this.d.injectors;
    return [kube, aws, ssh, cloud];
  }

  private injectorFor(kind: string): CredentialInjector {
    const i = this.all.find((x) => (x.kinds as readonly string[]).includes(kind));
    if (!i) throw new Error(`no injector for ${kind}`);
    return i;
  }

  async run(opts: { offline?: boolean }): Promise<ReconcileReport> {
    const { store } = this.d;
    const report: ReconcileReport = { injected: [], renewed: [], removed: [], warnings: [] };
    const now = this.d.now();
    const key = await this.d.deviceKey().catch(() => null);
    const live = this.live(now, key?.thumbprint ?? null);
    const records: JournalRecord[] = [];
    await this.teardown(live, now, report, records, { immediate: !!opts.offline });
    await this.removeStrays(live, report);
    if (!opts.offline && key) {
      for (const a of live.values()) {
        const marker = store.marker(a.id);
        const due = !marker || (marker.renew_at !== null && Date.parse(marker.renew_at) <= now.getTime());
        if (!due) continue;
        try {
          await this.inject(a, key, !marker, report, records);
        } catch (e) {
          report.warnings.push(`${a.role}: ${errorMessage(e)}`);
          if (e instanceof ControlPlaneError && e.code === 'not-active') {
            // ended on the server before we heard: learn it, and the next run tears down
            await this.d.refreshActivation(a.id, key);
          }
        }
      }
    }
    if (!opts.offline) await this.d.injectors.ssh.retryPending(live, now, report, records);
    writeStatusFiles(this.d.targets.credsDir, now, live.values(), this.d.sessionTrail);
    try {
      records.push(...this.d.trail.take());
    } catch (e) {
      report.warnings.push(`the session trail could not be read: ${errorMessage(e)}`);
    }
    if (this.d.journalTargets()) {
      const changed = noteTargets(this.d.targets, store);
      if (changed) records.push(changed);
    }
    if (records.length > 0) {
      try {
        await this.d.journal(records);
        // journaled: the imported trail can go (a crash just before this imports it again)
        this.d.trail.done();
      } catch (e) {
        report.warnings.push(`the audit journal could not record it: ${errorMessage(e)}`);
      }
    } else this.d.trail.done();
    this.d.trail.reset();
    return report;
  }

  /** When the next run is due: a renewal, an end, or a grace period running out. */
  nextWakeAt(): Date | null {
    const times: number[] = [];
    for (const r of this.d.store.rows()) {
      if (r.ended_at) times.push(Date.parse(r.ended_at) + this.d.graceMs);
      else {
        times.push(Date.parse(r.expires_at));
        if (r.renew_at) times.push(Date.parse(r.renew_at));
      }
    }
    return times.length ? new Date(Math.min(...times)) : null;
  }

  /** This device's active activations, one per role (the latest-ending: an extension supersedes). */
  private live(now: Date, device: string | null): Map<string, LiveActivation> {
    const user = this.d.user();
    const out = new Map<string, LiveActivation>();
    if (!user || !device) return out;
    for (const a of this.d.store.activeActivations(user, now)) {
      if (a.request.device !== device) continue;
      const prev = out.get(a.role);
      if (!prev || prev.expiresAt < a.expiresAt) out.set(a.role, a);
    }
    return out;
  }

  // ----- teardown -------------------------------------------------------------------------------

  private async teardown(
    live: Map<string, LiveActivation>,
    now: Date,
    report: ReconcileReport,
    records: JournalRecord[],
    opts: { immediate: boolean },
  ): Promise<void> {
    const byActivation = new Map<string, InjectionRow[]>();
    for (const r of this.d.store.rows()) {
      const list = byActivation.get(r.activation) ?? [];
      list.push(r);
      byActivation.set(r.activation, list);
    }
    for (const [activation, rows] of byActivation) {
      const role = rows[0]!.role;
      const current = live.get(role);
      if (current?.id === activation) continue;
      const reason = this.endReason(activation, role, now);
      const t = {
        now,
        immediate: opts.immediate,
        superseded: current !== undefined,
        message: reason.message,
        graceMs: this.d.graceMs,
        report,
      };
      const items: InjectedItem[] = [];
      for (const r of rows) {
        if (r.kind === 'activation') {
          this.d.store.delete(r);
          continue;
        }
        const item = await this.injectorFor(r.kind).teardown(r, t);
        if (item) items.push(item);
      }
      if (items.length > 0) {
        report.removed.push({ role, activation, reason: reason.code, items });
        records.push({ type: 'credentials-removed', data: { activation, role, reason: reason.code, items } });
      }
    }
  }

  private endReason(activation: string, role: string, now: Date): { code: string; message: string } {
    const a = this.d.store.activationEnd(activation);
    const again = `activate it again from PIM Agent (pim activate ${role})`;
    if (a?.state === 'deactivated')
      return { code: 'deactivated', message: `pim: role ${role} was deactivated at ${a.updated_at}; ${again}` };
    if (a?.state === 'revoked')
      return {
        code: 'revoked',
        message: `pim: role ${role} was revoked at ${a.updated_at}${a.end_reason ? ` (${oneLine(a.end_reason)})` : ''}; ask your approvers before activating it again`,
      };
    const end = a?.expires_at ?? now.toISOString();
    return { code: 'expired', message: `pim: role ${role} expired at ${end}; ${again}` };
  }

  /** Anything of ours with no row, or whose row is gone: a crash between writing and recording,
   *  a KUBECONFIG that moved, seeds of requests that never became active. */
  private async removeStrays(live: Map<string, LiveActivation>, report: ReconcileReport): Promise<void> {
    const rows = this.d.store.rows();
    const known = (kind: string, name: string, target?: string) =>
      rows.some((r) => r.kind === kind && r.name === name && (target === undefined || r.target === target));
    const scan = { rows, known, live, report };
    const { kube, aws, ssh, cloud } = this.d.injectors;
    await kube.removeStrays(scan);
    await aws.removeStrays(scan);
    for (const kind of ['kube', 'aws', 'gcp'] as const) removeStrayCredentials(this.d.targets.credsDir, kind, known);
    await cloud.removeStrays(scan);
    kube.removeStaleSelectors(rows);
    await ssh.removeStrays(scan);
  }

  // ----- inject / renew -------------------------------------------------------------------------

  private async inject(
    a: LiveActivation,
    key: DeviceKey,
    first: boolean,
    report: ReconcileReport,
    records: JournalRecord[],
  ): Promise<void> {
    const issued = await this.d.issue(a.id, key);
    const end = new Date(Math.min(a.expiresAt.getTime(), Date.parse(issued.activationExpiresAt)));
    const now = this.d.now();
    const credsDir = this.d.targets.credsDir;
    ensurePrivateDir(credsDir);
    const helper = installCredHelper(credsDir);
    const job = {
      activation: a,
      issued,
      first,
      end,
      now,
      helper,
      report,
      records,
      record: (kind: InjectionRow['kind'], name: string, target: string, detail: object, renewAt?: Date | null) =>
        this.d.store.record({
          kind,
          name,
          target,
          role: a.role,
          activation: a.id,
          expires_at: end.toISOString(),
          renew_at: renewAt ? renewAt.toISOString() : null,
          detail_json: JSON.stringify(detail),
        }),
    };
    const items: InjectedItem[] = [];
    const renewals: number[] = [];
    const problems: { kind: 'ssh'; name: string; problem: string }[] = [];
    for (const injector of this.all) {
      const out = await injector.inject(job);
      items.push(...out.items);
      renewals.push(...out.renewals);
      problems.push(...out.problems);
    }
    const renew = renewals.length ? new Date(Math.min(...renewals, end.getTime())) : null;
    job.record('activation', a.id, '', {}, renew);
    if (first) {
      // a role that grants nothing has nothing to journal
      if (items.length > 0) report.injected.push({ role: a.role, activation: a.id, items });
      if (items.length > 0 || problems.length > 0)
        records.push({
          type: 'credentials-injected',
          data: { activation: a.id, role: a.role, items, ...(problems.length ? { notAdded: problems } : {}) },
        });
    } else report.renewed.push({ role: a.role, activation: a.id });
  }
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
}
