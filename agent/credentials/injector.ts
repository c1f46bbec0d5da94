// One injector per kind of credential (kube-injector.ts, aws-injector.ts, ssh-injector.ts,
// cloud-injector.ts), behind one interface: the reconcile loop (reconcile.ts) decides what is due,
// an injector knows what to write where for its kind, how its entries end and which leftovers of
// its kind are ours.
import fs from 'node:fs';
import type { InjectionView } from '../../shared/api';
import type { IssuedCredentials } from '../../shared/credentials';
import type { ActivationRequest } from '../../shared/activation';
import type { CredentialsStore, InjectionKind, InjectionRow } from '../store/credentials-store';
import { endCredential, listCredentials, removeCredential, type CredKind } from './cred-helper';
import { errorMessage } from '../../shared/errors';
import type { CredentialTargets } from './targets';

export type { InjectionKind, InjectionRow } from '../store/credentials-store';

/** kube context / AWS profile name (ssh: the identity's comment) and where: the kubeconfig or AWS
 *  config file, or the ssh-agent socket */
export type InjectedItem = InjectionView['items'][number];

export interface ReconcileReport {
  injected: { role: string; activation: string; items: InjectedItem[] }[];
  renewed: { role: string; activation: string }[];
  removed: { role: string; activation: string; reason: string; items: InjectedItem[] }[];
  /** what could not be done, in words (no ssh-agent, STS refused, control plane away, …) */
  warnings: string[];
}

export type JournalRecord = {
  type: 'credentials-injected' | 'credentials-removed' | 'shell-command' | 'config-changed';
  data: Record<string, unknown>;
};

/** This device's activation of a role that is in force now (the latest-ending one). */
export interface LiveActivation {
  id: string;
  role: string;
  expiresAt: Date;
  request: ActivationRequest;
}

/** One activation's credentials to put in place (first) or renew. */
export interface InjectJob {
  activation: LiveActivation;
  issued: IssuedCredentials;
  first: boolean;
  /** the end of the activation as the control plane issued it */
  end: Date;
  now: Date;
  /** the pim-cred script */
  helper: string;
  /** records the row (role, activation and end filled in) before anything is written */
  record: (kind: InjectionKind, name: string, target: string, detail: object, renewAt?: Date | null) => void;
  report: ReconcileReport;
  records: JournalRecord[];
}

export interface InjectOutcome {
  items: InjectedItem[];
  /** when each credential wants renewing (epoch ms) */
  renewals: number[];
  /** kept, not added, with why (an SSH certificate waiting for an ssh-agent) */
  problems: { kind: 'ssh'; name: string; problem: string }[];
}

/** A row whose activation is no longer its role's live one. */
export interface Teardown {
  now: Date;
  /** start-up sweep: no grace */
  immediate: boolean;
  /** an extension took the role over: it rewrites these same names as it is injected */
  superseded: boolean;
  /** what the helper answers during the grace period */
  message: string;
  graceMs: number;
  report: ReconcileReport;
}

/** What a stray scan knows: the rows, and whether something of ours is accounted for by one. */
export interface StrayScan {
  rows: InjectionRow[];
  known: (kind: string, name: string, target?: string) => boolean;
  live: Map<string, LiveActivation>;
  report: ReconcileReport;
}

export interface CredentialInjector {
  readonly kinds: readonly InjectionKind[];
  inject(job: InjectJob): Promise<InjectOutcome>;
  /** ends or removes `row`; the item to report as removed, if any */
  teardown(row: InjectionRow, t: Teardown): Promise<InjectedItem | null>;
  /** removes anything of its kinds that no row accounts for (a crash between writing and recording,
   *  a target that moved) */
  removeStrays(scan: StrayScan): Promise<void>;
}

export const emptyOutcome = (): InjectOutcome => ({ items: [], renewals: [], problems: [] });

/** renew at two thirds of a credential's remaining life (a 15-minute token: after 10 minutes) */
export function renewAt(now: Date, exp: Date): number {
  return now.getTime() + Math.max(1000, Math.floor(((exp.getTime() - now.getTime()) * 2) / 3));
}

/** Takes an entry out with `undo`, then its row. A failure keeps the row (the next run tries again:
 *  a locked or unreadable file must not lose it) and says why. */
export function removeRecorded(
  store: CredentialsStore,
  r: InjectionRow,
  report: ReconcileReport,
  undo: () => void,
): void {
  try {
    undo();
    store.delete(r);
  } catch (e) {
    report.warnings.push(`could not remove ${r.kind} ${r.name} from ${r.target}: ${errorMessage(e)}`);
  }
}

/**
 * The ending of entries whose helper can explain itself (kube, AWS, GCP): during the grace period the
 * helper answers with why (`end`), then the entry goes (`remove`); at start-up it goes at once.
 */
export function endWithGrace(
  store: CredentialsStore,
  r: InjectionRow,
  t: Teardown,
  how: { end: () => void; remove: () => void },
): InjectedItem | null {
  if (t.superseded) return null;
  const grace = r.ended_at ? Date.parse(r.ended_at) + t.graceMs : null;
  const item: InjectedItem = { kind: r.kind as InjectionKind, name: r.name, where: r.target };
  if (t.immediate || (grace !== null && grace <= t.now.getTime())) {
    how.remove();
    return r.ended_at ? null : item;
  }
  if (r.ended_at) return null;
  how.end();
  store.markEnded(r, t.now);
  // the entry stays for its grace period, answering with why: say so, and until when
  return { ...item, until: new Date(t.now.getTime() + t.graceMs).toISOString() };
}

/** pim-cred credential files of `kind` that no row names (listing errors: nothing to remove). */
export function removeStrayCredentials(credsDir: string, kind: CredKind, known: StrayScan['known']): void {
  let list: { name: string }[];
  try {
    list = listCredentials(credsDir, kind);
  } catch {
    list = [];
  }
  for (const c of list) if (!known(kind, c.name)) removeCredential(credsDir, kind, c.name);
}

/** What the kinds whose entries live in one shared config file (kubeconfig, AWS config) differ in. */
export interface ConfigFileKind {
  kind: 'kube' | 'aws';
  /** the file this home's entries of the kind go to */
  file: () => string;
  /** the names of our entries in the file's text */
  list: (text: string) => string[];
  /** whether our entry `name` in that text runs `helper` (this home's pim-cred) */
  runsHelper: (text: string, name: string, helper: string) => boolean;
  /** takes the entries `names` out of `file` (a file that does not exist stays so) */
  remove: (file: string, names: string[]) => void;
}

/** The end of an entry in a shared config file: during the grace period its pim-cred file answers
 *  with why, then the entry and that file go. */
export function teardownConfigEntry(
  store: CredentialsStore,
  credsDir: string,
  spec: ConfigFileKind,
  r: InjectionRow,
  t: Teardown,
): InjectedItem | null {
  return endWithGrace(store, r, t, {
    end: () => endCredential(credsDir, spec.kind, r.name, t.message),
    remove: () =>
      removeRecorded(store, r, t.report, () => {
        spec.remove(r.target, [r.name]);
        removeCredential(credsDir, spec.kind, r.name);
      }),
  });
}

/** The kinds whose entries live in one shared config file (kube, AWS): how they end and which
 *  leftovers are theirs is the same; the subclass says what differs (`entries`). */
export abstract class ConfigFileInjector {
  protected abstract readonly entries: ConfigFileKind;

  constructor(
    protected readonly store: CredentialsStore,
    protected readonly targets: CredentialTargets,
  ) {}

  async teardown(r: InjectionRow, t: Teardown): Promise<InjectedItem | null> {
    return teardownConfigEntry(this.store, this.targets.credsDir, this.entries, r, t);
  }

  async removeStrays(scan: StrayScan): Promise<void> {
    removeFileStrays(this.entries, this.targets.helperPath(), scan);
  }
}

/**
 * Our entries in a shared config file (kubeconfig, AWS config) that no row accounts for. Only
 * entries whose helper is this home's: another PIM home (another install, a test run) may share the
 * same file, and its entries are not ours to judge.
 */
export function removeFileStrays(spec: ConfigFileKind, helper: string, scan: StrayScan): void {
  const file = spec.file();
  try {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    const names = text === null ? [] : spec.list(text);
    const strays = names.filter((n) => !scan.known(spec.kind, n, file) && spec.runsHelper(text!, n, helper));
    if (strays.length === 0) return;
    spec.remove(file, strays);
    scan.report.removed.push({
      role: '?',
      activation: '?',
      reason: 'unknown',
      items: strays.map((name) => ({ kind: spec.kind, name, where: file })),
    });
  } catch (e) {
    scan.report.warnings.push(`could not check ${file}: ${errorMessage(e)}`);
  }
}
