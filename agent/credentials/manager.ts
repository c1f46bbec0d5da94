// Puts an active role's credentials into the user's world and takes them out again (docs/architecture.md, Flows:
// Credential injection and removal):
//   kube: pim-<cluster>--<role> entries in the user's kubeconfig whose exec plugin is the sh helper
//         reading a 0600 ExecCredential file that is renewed while the activation lives;
//   aws:  a managed [profile pim-<role>] whose credential_process is the same helper, reading the
//         result of STS AssumeRoleWithWebIdentity;
//   ssh:  the activation's ephemeral key + certificate in the user's ssh-agent, with a lifetime.
//
// One function decides everything, `reconcile`: from agent.db's activations (what is live now)
// and the injections table (what we put where), it injects what is missing, renews what is due,
// tears down what ended and removes anything of ours it finds that it has no live reason for. It
// runs after every activation change, on a timer, and at start-up (`sweep`: offline, nothing
// kept past its end) — so a crash leaves at most a token's few minutes, never the role.
//
// When a role ends while we run, its kube/AWS helper answers with why ("role X was deactivated at
// …") for a short grace period (PIM_TOMBSTONE_SECONDS, default 600), then the entries go too: a
// terminal still pointed at the context gets a sentence, not "context does not exist".
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ActivationRequest, ActivationView } from '../../shared/activation';
import type { InjectionView } from '../../shared/api';
import type { IssuedCredentials } from '../../shared/credentials';
import { ControlPlaneClient, ControlPlaneError } from '../activation/cp-client';
import type { Agent } from '../agent';
import { loadDeviceKey, openKeystore, type DeviceKey } from '../keystore';
import {
  addAwsProfile,
  awsConfigPath,
  credentialProcessCommand,
  listPimProfiles,
  removeAwsProfiles,
  updateAwsConfig,
} from './aws-config';
import {
  endCredential,
  installCredHelper,
  kubeExecCredential,
  listCredentials,
  removeCredential,
  writeCredential,
  type CredKind,
} from './cred-helper';
import { awsProfileName, kubeContextName } from '../../shared/policy/names';
import { checkName, ensurePrivateDir, removeFile, writeFileAtomic } from '../../platform/fs-safe';
import { addKubeEntries, kubeconfigPath, listPimEntries, removeKubeEntries, type KubeEntry } from './kubeconfig';
import { updateKubeconfig } from './kubeconfig-file';
import { cloudEnv, endCloudEntry, injectAzure, injectGcp, removeCloudEntry, removeCloudStrays } from './cloud-inject';
import { contextFileText, roleEnv } from './shell';
import { addCertificate, agentSocket, listIdentities, removeIdentity, SshAgentError } from './ssh-agent';
import { generateSshKey, parseCertificate, sshKeyFromSeed, type EphemeralSshKey } from './ssh-key';
import { assumeRoleWithWebIdentity, credentialProcessJson, sessionSeconds, stsEndpointFor } from './sts';

export type InjectionKind = 'kube' | 'aws' | 'ssh' | 'gcp' | 'azure';

/** The target of an SSH certificate no ssh-agent took yet (there is no socket to name). */
const PENDING_SSH = '(no ssh-agent)';
/** How often a running agent tries again to add such a certificate. */
const SSH_RETRY_MS = 60_000;

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

interface Row {
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

type JournalRecord = {
  type: 'credentials-injected' | 'credentials-removed' | 'shell-command' | 'config-changed';
  data: Record<string, unknown>;
};

interface LiveActivation {
  id: string;
  role: string;
  expiresAt: Date;
  request: ActivationRequest;
}

export interface CredentialManagerOptions {
  env?: NodeJS.ProcessEnv;
  homedir?: string;
  /** how long an ended role's helper keeps explaining itself before its entries are removed */
  graceMs?: number;
  /** stand-in for the control plane call (benchmarks, tests) */
  issue?: (activation: string) => Promise<IssuedCredentials>;
}

const SEED_MAX_AGE_MS = 30 * 60_000;

/** Where the embedded demo's credentials go: a home of its own inside the agent's. */
export function demoUserHome(agentHome: string): string {
  return path.join(agentHome, 'demo-user-home');
}

/** The demo's kubeconfig and AWS config, for `pim env` / `pim shell-init` to point a terminal at. */
export function demoTargets(agentHome: string): { KUBECONFIG: string; AWS_CONFIG_FILE: string } {
  const h = demoUserHome(agentHome);
  return { KUBECONFIG: path.join(h, '.kube', 'config'), AWS_CONFIG_FILE: path.join(h, '.aws', 'config') };
}

export class CredentialManager {
  readonly credsDir: string;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly baseHomedir: string;
  private readonly graceMs: number;
  private key: DeviceKey | null = null;
  /** set by the long-running host: one-shot CLI runs may see another environment ($KUBECONFIG…),
   *  which is not a change of configuration */
  journalTargets = false;
  private running: Promise<ReconcileReport> | null = null;

  constructor(
    private readonly agent: Agent,
    private readonly opts: CredentialManagerOptions = {},
  ) {
    this.baseEnv = opts.env ?? process.env;
    this.baseHomedir = opts.homedir ?? os.homedir();
    this.credsDir = path.join(agent.home, 'creds');
    const grace = Number(this.baseEnv.PIM_TOMBSTONE_SECONDS);
    this.graceMs = opts.graceMs ?? (Number.isFinite(grace) && grace >= 0 ? grace * 1000 : 600_000);
  }

  /** Read from agent.db on every use, never cached: a long-running host outlives connections (the
   *  demo enrols, or the user enrols with a real control plane from the demo's UI), and credentials
   *  must go where the connection in force now says. */
  private get demo(): boolean {
    return this.agent.store.connection()?.demo === true;
  }

  private get env(): NodeJS.ProcessEnv {
    if (!this.demo) return this.baseEnv;
    // the demo's clusters and AWS accounts are made up: its credentials go to files under its own
    // home, never into the user's ~/.kube/config, ~/.aws/config or ssh-agent (`pim env` and
    // `pim shell-init` point a terminal there)
    const { KUBECONFIG: _k, AWS_CONFIG_FILE: _a, SSH_AUTH_SOCK: _s, ...rest } = this.baseEnv;
    return rest;
  }

  private get homedir(): string {
    return this.demo ? demoUserHome(this.agent.home) : this.baseHomedir;
  }

  // ----- the ephemeral SSH key of a request ---------------------------------------------------

  /** A fresh Ed25519 key for a request whose role grants SSH: the seed waits in a 0600 file until
   *  the certificate arrives (and is deleted with the activation). Returns the public key line. */
  newSshKey(): string {
    const key = generateSshKey();
    const dir = ensurePrivateDir(path.join(ensurePrivateDir(this.credsDir), 'ssh'));
    writeFileAtomic(path.join(dir, `${seedId(key.publicKey)}.seed`), key.seed.toString('hex'), 0o600);
    return key.publicKey;
  }

  private loadSshKey(publicKey: string): EphemeralSshKey | null {
    try {
      const hex = fs.readFileSync(path.join(this.credsDir, 'ssh', `${seedId(publicKey)}.seed`), 'utf8').trim();
      const key = sshKeyFromSeed(Buffer.from(hex, 'hex'));
      return key.publicKey === publicKey ? key : null;
    } catch {
      return null;
    }
  }

  // ----- what is live ---------------------------------------------------------------------------

  /** The device key, once there is one (an agent enrolled while running finds it on the next run). */
  private async deviceKey(): Promise<DeviceKey | null> {
    if (!this.key) {
      const conn = this.agent.store.connection();
      this.key = conn && !conn.unenrolled ? await loadDeviceKey(openKeystore(this.agent.home, this.env)) : null;
    }
    return this.key;
  }

  /** This device's active activations, one per role (the latest-ending: an extension supersedes). */
  private live(now: Date, device: string | null): Map<string, LiveActivation> {
    const conn = this.agent.store.connection();
    const out = new Map<string, LiveActivation>();
    if (!conn || !device) return out;
    const rows = this.agent.store.db
      .prepare(
        "SELECT id, role, expires_at, request_json FROM activations WHERE user = ? AND state = 'active' AND expires_at > ?",
      )
      .all(conn.user, now.toISOString()) as { id: string; role: string; expires_at: string; request_json: string }[];
    for (const r of rows) {
      const request = JSON.parse(r.request_json) as ActivationRequest;
      if (request.device !== device) continue;
      const a: LiveActivation = { id: r.id, role: r.role, expiresAt: new Date(r.expires_at), request };
      const prev = out.get(r.role);
      if (!prev || prev.expiresAt < a.expiresAt) out.set(r.role, a);
    }
    return out;
  }

  private rows(): Row[] {
    return this.agent.store.db.prepare('SELECT * FROM injections').all() as Row[];
  }

  /** What is injected now, per activation (for `pim credentials`, `pim env`, the UI). */
  injected(): InjectionView[] {
    return this.agent.store.injections();
  }

  // ----- reconcile ------------------------------------------------------------------------------

  /** Bring the user's world in line with what is live. Single-flight: a call during a run runs
   *  again after it. `offline`: never contact the control plane or STS (start-up sweep). */
  reconcile(opts: { offline?: boolean } = {}): Promise<ReconcileReport> {
    if (this.running) return this.running.then(() => this.reconcile(opts));
    this.running = this.run(opts).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** At start-up, before anything else: whatever a crash left behind past its end goes now, with
   *  no grace and no network. */
  sweep(): Promise<ReconcileReport> {
    return this.reconcile({ offline: true });
  }

  private async run(opts: { offline?: boolean }): Promise<ReconcileReport> {
    const report: ReconcileReport = { injected: [], renewed: [], removed: [], warnings: [] };
    const now = this.agent.now();
    const key = await this.deviceKey().catch(() => null);
    const live = this.live(now, key?.thumbprint ?? null);
    const records: JournalRecord[] = [];
    await this.teardown(live, now, report, records, { immediate: !!opts.offline });
    await this.removeStrays(live, report);
    if (!opts.offline && key) {
      for (const a of live.values()) {
        const marker = this.agent.store.db
          .prepare("SELECT renew_at FROM injections WHERE kind = 'activation' AND name = ?")
          .get(a.id) as { renew_at: string | null } | undefined;
        const due = !marker || (marker.renew_at !== null && Date.parse(marker.renew_at) <= now.getTime());
        if (!due) continue;
        try {
          await this.inject(a, key, !marker, report, records);
        } catch (e) {
          report.warnings.push(`${a.role}: ${(e as Error).message}`);
          if (e instanceof ControlPlaneError && e.code === 'not-active') {
            // ended on the server before we heard: learn it, and the next run tears down
            await this.refreshActivation(a.id, key);
          }
        }
      }
    }
    if (!opts.offline) await this.retryPendingSsh(live, now, report, records);
    this.writeStatusFiles(now, live);
    this.importTrail(records, report);
    if (this.journalTargets) this.noteTargets(records);
    if (records.length > 0) {
      try {
        const journal = await this.agent.activeJournal();
        const user = this.agent.store.connection()?.user ?? null;
        if (journal) journal.write(() => records.forEach((r) => journal.append(r.type, user, r.data)));
        // journaled: the imported trail can go (a crash just before this imports it again)
        if (this.trailTaken) removeFile(this.trailTaken);
      } catch (e) {
        report.warnings.push(`the audit journal could not record it: ${(e as Error).message}`);
      }
    } else if (this.trailTaken) removeFile(this.trailTaken);
    this.trailTaken = null;
    return report;
  }

  /** When the next run is due: a renewal, an end, or a grace period running out. */
  nextWakeAt(): Date | null {
    const times: number[] = [];
    for (const r of this.rows()) {
      if (r.ended_at) times.push(Date.parse(r.ended_at) + this.graceMs);
      else {
        times.push(Date.parse(r.expires_at));
        if (r.renew_at) times.push(Date.parse(r.renew_at));
      }
    }
    return times.length ? new Date(Math.min(...times)) : null;
  }

  // ----- teardown -------------------------------------------------------------------------------

  private async teardown(
    live: Map<string, LiveActivation>,
    now: Date,
    report: ReconcileReport,
    records: JournalRecord[],
    opts: { immediate: boolean },
  ): Promise<void> {
    const byActivation = new Map<string, Row[]>();
    for (const r of this.rows()) {
      const list = byActivation.get(r.activation) ?? [];
      list.push(r);
      byActivation.set(r.activation, list);
    }
    for (const [activation, rows] of byActivation) {
      const role = rows[0]!.role;
      const current = live.get(role);
      const stillLive = current?.id === activation;
      if (stillLive) continue;
      const superseded = current !== undefined;
      const reason = this.endReason(activation, role, now);
      const items: InjectedItem[] = [];
      for (const r of rows) {
        if (r.kind === 'activation') {
          this.deleteRow(r);
          continue;
        }
        if (r.kind === 'ssh') {
          if ((await this.removeSsh(r, report)) && r.target !== PENDING_SSH)
            items.push({ kind: 'ssh', name: r.name, where: r.target });
          continue;
        }
        // an extension took this role over: it rewrites these same names as it is injected
        if (superseded) continue;
        // a federated token file has no way to explain itself: it goes at once
        if (r.kind === 'azure') {
          this.removeEntry(r, report);
          if (!r.ended_at) items.push({ kind: r.kind, name: r.name, where: r.target });
          continue;
        }
        const grace = r.ended_at ? Date.parse(r.ended_at) + this.graceMs : null;
        if (opts.immediate || (grace !== null && grace <= now.getTime())) {
          this.removeEntry(r, report);
          if (!r.ended_at) items.push({ kind: r.kind, name: r.name, where: r.target });
        } else if (!r.ended_at) {
          endCredential(this.credsDir, r.kind as CredKind, r.name, reason.message);
          if (r.kind === 'gcp') this.tryEndCloud(r, report);
          this.agent.store.db
            .prepare('UPDATE injections SET ended_at = ? WHERE kind = ? AND name = ? AND target = ?')
            .run(now.toISOString(), r.kind, r.name, r.target);
          // the entry stays for its grace period, answering with why: say so, and until when
          items.push({
            kind: r.kind,
            name: r.name,
            where: r.target,
            until: new Date(now.getTime() + this.graceMs).toISOString(),
          });
        }
      }
      if (items.length > 0) {
        report.removed.push({ role, activation, reason: reason.code, items });
        records.push({ type: 'credentials-removed', data: { activation, role, reason: reason.code, items } });
      }
    }
  }

  private tryEndCloud(r: Row, report: ReconcileReport): void {
    try {
      endCloudEntry(r);
    } catch (e) {
      report.warnings.push(`could not clear gcloud's cached token for ${r.name}: ${(e as Error).message}`);
    }
  }

  private endReason(activation: string, role: string, now: Date): { code: string; message: string } {
    const a = this.agent.store.db
      .prepare('SELECT state, expires_at, end_reason, updated_at FROM activations WHERE id = ?')
      .get(activation) as
      { state: string; expires_at: string | null; end_reason: string | null; updated_at: string } | undefined;
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

  private removeEntry(r: Row, report: ReconcileReport): void {
    try {
      if (r.kind === 'kube')
        updateKubeconfig(r.target, (text) => (text === null ? null : removeKubeEntries(text, (n) => n === r.name)));
      if (r.kind === 'aws')
        updateAwsConfig(r.target, (text) => (text === null ? null : removeAwsProfiles(text, (n) => n === r.name)));
      if (r.kind === 'gcp' || r.kind === 'azure') removeCloudEntry(this.credsDir, r);
      if (r.kind !== 'azure') removeCredential(this.credsDir, r.kind as CredKind, r.name);
      this.deleteRow(r);
    } catch (e) {
      // kept: the next run tries again (a locked or unreadable file must not lose the row)
      report.warnings.push(`could not remove ${r.kind} ${r.name} from ${r.target}: ${(e as Error).message}`);
    }
  }

  /** Takes the identity out of the ssh-agent (ours to do: Windows' agent ignores lifetimes). */
  private async removeSsh(r: Row, report: ReconcileReport): Promise<boolean> {
    const d = JSON.parse(r.detail_json) as { blob?: string; publicKey?: string };
    try {
      if (d.blob && r.target !== PENDING_SSH) await removeIdentity(r.target, Buffer.from(d.blob, 'base64'));
    } catch (e) {
      // an agent that is gone took the identity with it; one that is there but refuses: say so, retry
      if (!(e instanceof SshAgentError && (e.code === 'agent-unreachable' || e.code === 'no-agent'))) {
        report.warnings.push(`could not remove the SSH identity ${r.name} from the ssh-agent: ${(e as Error).message}`);
        return false;
      }
    }
    if (d.publicKey) removeFile(path.join(this.credsDir, 'ssh', `${seedId(d.publicKey)}.seed`));
    this.deleteRow(r);
    return true;
  }

  private deleteRow(r: Pick<Row, 'kind' | 'name' | 'target'>): void {
    this.agent.store.db
      .prepare('DELETE FROM injections WHERE kind = ? AND name = ? AND target = ?')
      .run(r.kind, r.name, r.target);
  }

  /** Anything of ours with no row, or whose row is gone: a crash between writing and recording,
   *  a KUBECONFIG that moved, seeds of requests that never became active. */
  private async removeStrays(live: Map<string, LiveActivation>, report: ReconcileReport): Promise<void> {
    const rows = this.rows();
    const known = (kind: string, name: string, target?: string) =>
      rows.some((r) => r.kind === kind && r.name === name && (target === undefined || r.target === target));
    const kubeFile = this.kubeconfigFile();
    const awsFile = this.awsConfigFile();
    for (const [file, kind] of [
      [kubeFile, 'kube'],
      [awsFile, 'aws'],
    ] as const) {
      try {
        const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
        const names = text === null ? [] : kind === 'kube' ? listPimEntries(text) : listPimProfiles(text);
        // only entries whose helper is this home's: another PIM home (another install, a test run)
        // may share the same kubeconfig or AWS config, and its entries are not ours to judge
        const helper = path.join(this.credsDir, 'bin', 'pim-cred');
        const strays = names.filter((n) => !known(kind, n, file) && usesHelper(text!, kind, n, helper));
        if (strays.length === 0) continue;
        if (kind === 'kube')
          updateKubeconfig(file, (t) => (t === null ? null : removeKubeEntries(t, (n) => strays.includes(n))));
        else updateAwsConfig(file, (t) => (t === null ? null : removeAwsProfiles(t, (n) => strays.includes(n))));
        report.removed.push({
          role: '?',
          activation: '?',
          reason: 'unknown',
          items: strays.map((name) => ({ kind, name, where: file })),
        });
      } catch (e) {
        report.warnings.push(`could not check ${file}: ${(e as Error).message}`);
      }
    }
    for (const kind of ['kube', 'aws', 'gcp'] as const) {
      for (const c of safeList(this.credsDir, kind))
        if (!known(kind, c.name)) removeCredential(this.credsDir, kind, c.name);
    }
    removeCloudStrays({ credsDir: this.credsDir, env: this.env, homedir: this.homedir, known }, report);
    // `pim env` context selectors of roles that are no longer injected
    const envDir = path.join(this.credsDir, 'env');
    if (fs.existsSync(envDir)) {
      for (const f of fs.readdirSync(envDir)) {
        const name = f.replace(/\.yaml$/, '');
        if (!rows.some((r) => r.kind === 'kube' && r.name === name && !r.ended_at)) removeFile(path.join(envDir, f));
      }
    }
    // identities of ours in the ssh-agent that no live activation accounts for
    const sock = this.env.SSH_AUTH_SOCK;
    if (sock) {
      try {
        const liveBlobs = new Set(
          rows.filter((r) => r.kind === 'ssh').map((r) => (JSON.parse(r.detail_json) as { blob?: string }).blob),
        );
        // only identities of this agent's activations: another PIM home on this machine may share the ssh-agent
        const mine = this.agent.store.db.prepare('SELECT 1 FROM activations WHERE id = ?');
        for (const id of await listIdentities(sock)) {
          const activation = id.comment.startsWith('pim:') ? (id.comment.split(':')[2] ?? '') : '';
          if (activation && mine.get(activation) && !liveBlobs.has(id.blob.toString('base64'))) {
            await removeIdentity(sock, id.blob);
            report.removed.push({
              role: id.comment.split(':')[1] ?? '?',
              activation: id.comment.split(':')[2] ?? '?',
              reason: 'unknown',
              items: [{ kind: 'ssh', name: id.comment, where: sock }],
            });
          }
        }
      } catch (e) {
        if (!(e instanceof SshAgentError && e.code === 'agent-unreachable'))
          report.warnings.push(`could not check the ssh-agent: ${(e as Error).message}`);
      }
    }
    // seeds: kept while their request can still become active
    const seedDir = path.join(this.credsDir, 'ssh');
    if (fs.existsSync(seedDir)) {
      const wanted = new Set<string>();
      const pending = this.agent.store.db
        .prepare(
          "SELECT request_json FROM activations WHERE state IN ('requested', 'pending-approval', 'approved', 'active')",
        )
        .all() as { request_json: string }[];
      for (const p of pending) {
        const k = (JSON.parse(p.request_json) as ActivationRequest).sshPublicKey;
        if (k) wanted.add(`${seedId(k)}.seed`);
      }
      for (const a of live.values()) if (a.request.sshPublicKey) wanted.add(`${seedId(a.request.sshPublicKey)}.seed`);
      for (const f of fs.readdirSync(seedDir)) {
        if (wanted.has(f)) continue;
        const st = fs.lstatSync(path.join(seedDir, f));
        if (this.agent.now().getTime() - st.mtimeMs > SEED_MAX_AGE_MS || !f.endsWith('.seed'))
          removeFile(path.join(seedDir, f));
      }
    }
  }

  /** Where credentials go (kubeconfig, AWS config, ssh-agent) is configuration: when it moves
   *  ($KUBECONFIG, $AWS_CONFIG_FILE or SSH_AUTH_SOCK changed), the journal says so (config-changed). */
  private noteTargets(records: JournalRecord[]): void {
    const targets = {
      kubeconfig: this.kubeconfigFile(),
      awsConfig: this.awsConfigFile(),
      sshAgent: this.env.SSH_AUTH_SOCK ?? null,
    };
    const text = JSON.stringify(targets);
    const prev = this.agent.store.db
      .prepare("SELECT value FROM meta WHERE key = 'credential_targets'")
      .pluck()
      .get() as string | undefined;
    if (prev === text) return;
    this.agent.store.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('credential_targets', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(text);
    if (prev !== undefined)
      records.push({
        type: 'config-changed',
        data: { what: 'credential-targets', from: JSON.parse(prev) as unknown, to: targets },
      });
  }

  /** `pim env` / `pim exec`: the environment selecting `role`'s injected credentials, or null
   *  when nothing of that role is injected (not active, or ended). */
  envFor(role: string): Record<string, string> | null {
    const views = this.injected().filter(
      (v) => v.role === role && !v.endedAt && Date.parse(v.expiresAt) > this.agent.now().getTime(),
    );
    const items = views.flatMap((v) => v.items);
    if (items.length === 0) return null;
    const aws = items.find((i) => i.kind === 'aws');
    const kube = items.find((i) => i.kind === 'kube');
    let contextFile: string | null = null;
    if (kube) {
      const dir = ensurePrivateDir(path.join(ensurePrivateDir(this.credsDir), 'env'));
      contextFile = path.join(dir, `${checkName(kube.name, 'kube context name')}.yaml`);
      writeFileAtomic(contextFile, contextFileText(kube.name), 0o600);
    }
    const cloud = cloudEnv(
      this.credsDir,
      this.rows().filter((r) => r.role === role && !r.ended_at && (r.kind === 'gcp' || r.kind === 'azure')),
    );
    const vars = roleEnv({
      awsProfile: aws?.name ?? null,
      contextFile,
      kubeconfig: this.env.KUBECONFIG,
      defaultKubeconfig: path.join(this.homedir, '.kube', 'config'),
    });
    if (this.demo && aws) vars.AWS_CONFIG_FILE = this.awsConfigFile();
    return { ...vars, ...cloud };
  }

  // ----- inject / renew ---------------------------------------------------------------------------

  private kubeconfigFile(): string {
    return kubeconfigPath(this.env, this.homedir);
  }

  private awsConfigFile(): string {
    return awsConfigPath(this.env, this.homedir);
  }

  private async issue(activation: string, key: DeviceKey): Promise<IssuedCredentials> {
    if (this.opts.issue) return this.opts.issue(activation);
    const conn = this.agent.store.connection();
    if (!conn) throw new Error('not connected');
    return new ControlPlaneClient(conn.server, key).call<IssuedCredentials>(
      'POST',
      `/api/v1/activations/${encodeURIComponent(activation)}/credentials`,
      {},
    );
  }

  private async refreshActivation(id: string, key: DeviceKey): Promise<void> {
    const conn = this.agent.store.connection();
    if (!conn) return;
    try {
      const v = await new ControlPlaneClient(conn.server, key).call<ActivationView>(
        'GET',
        `/api/v1/activations/${encodeURIComponent(id)}`,
      );
      this.agent.store.saveActivation(v, this.agent.now());
    } catch {
      // offline: the end of the window still ends it locally
    }
  }

  private async inject(
    a: LiveActivation,
    key: DeviceKey,
    first: boolean,
    report: ReconcileReport,
    records: JournalRecord[],
  ): Promise<void> {
    const issued = await this.issue(a.id, key);
    const end = new Date(Math.min(a.expiresAt.getTime(), Date.parse(issued.activationExpiresAt)));
    const now = this.agent.now();
    ensurePrivateDir(this.credsDir);
    const helper = installCredHelper(this.credsDir);
    const items: InjectedItem[] = [];
    const renewals: number[] = [];
    const db = this.agent.store.db;
    const upsert = db.prepare(
      `INSERT INTO injections (kind, name, target, role, activation, expires_at, renew_at, ended_at, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
       ON CONFLICT(kind, name, target) DO UPDATE SET role = excluded.role, activation = excluded.activation, expires_at = excluded.expires_at,
         renew_at = excluded.renew_at, ended_at = NULL, detail_json = excluded.detail_json`,
    );

    // kube: credential file first (the helper must answer as soon as kubectl can see the context)
    if (issued.kube.length > 0) {
      const file = this.kubeconfigFile();
      const entries: KubeEntry[] = [];
      for (const k of issued.kube) {
        const name = checkName(kubeContextName(k.cluster, a.role), 'kube context name');
        const exp = new Date(k.expiresAt);
        upsert.run('kube', name, file, a.role, a.id, end.toISOString(), null, '{}');
        writeCredential(this.credsDir, 'kube', name, kubeExecCredential(k.token, exp), {
          role: a.role,
          activationEnd: end,
          credentialExpires: exp,
        });
        entries.push({
          name,
          cluster: k.cluster,
          role: a.role,
          server: k.server,
          certificateAuthorityData: k.certificateAuthorityData,
          command: helper,
          args: ['kube', name],
        });
        items.push({ kind: 'kube', name, where: file });
        renewals.push(renewAt(now, exp));
      }
      if (first || !this.kubeEntriesPresent(file, entries))
        updateKubeconfig(file, (text) => addKubeEntries(text, entries));
    }

    // aws: STS first (nothing to write if it refuses), then the credential, then the profile
    const awsFile = this.awsConfigFile();
    for (const [i, g] of issued.aws.entries()) {
      const name = checkName(awsProfileName(a.role, i, issued.aws.length), 'AWS profile name');
      try {
        const sts = await assumeRoleWithWebIdentity({
          endpoint: g.stsEndpoint ?? stsEndpointFor(g.region),
          roleArn: g.roleArn,
          sessionName: g.sessionName,
          webIdentityToken: g.webIdentityToken,
          durationSeconds: sessionSeconds(now, end),
        });
        const exp = new Date(Math.min(sts.expiration.getTime(), end.getTime()));
        upsert.run(
          'aws',
          name,
          awsFile,
          a.role,
          a.id,
          end.toISOString(),
          null,
          JSON.stringify({ roleArn: g.roleArn, assumedRoleArn: sts.assumedRoleArn }),
        );
        writeCredential(this.credsDir, 'aws', name, credentialProcessJson(sts, end), {
          role: a.role,
          activationEnd: end,
          credentialExpires: exp,
        });
        if (first || !this.awsProfilePresent(awsFile, name)) {
          updateAwsConfig(awsFile, (text) =>
            addAwsProfile(text, {
              name,
              role: a.role,
              credentialProcess: credentialProcessCommand(helper, name),
              region: g.region,
            }),
          );
        }
        items.push({ kind: 'aws', name, where: awsFile });
        renewals.push(renewAt(now, exp));
      } catch (e) {
        report.warnings.push(`${a.role}: AWS role ${g.roleArn} not assumed: ${(e as Error).message}`);
        renewals.push(now.getTime() + 60_000);
      }
    }

    // ssh: once per activation (the certificate covers the whole window)
    const problems: { kind: 'ssh'; name: string; problem: string }[] = [];
    if (issued.ssh.length > 0 && first) {
      const sshKey = a.request.sshPublicKey ? this.loadSshKey(a.request.sshPublicKey) : null;
      if (!sshKey)
        report.warnings.push(
          `${a.role}: the SSH key of this request is not on this machine any more; activate again for an SSH certificate`,
        );
      else {
        for (const s of issued.ssh) {
          const comment = `pim:${checkName(a.role, 'role')}:${a.id}`;
          try {
            if (this.demo)
              throw new SshAgentError(
                'no-agent',
                'the demo keeps its SSH certificates out of your ssh-agent: its CA is not one any real host trusts',
              );
            const sock = agentSocket(this.env);
            const blob = parseCertificate(s.certificate).blob;
            upsert.run(
              'ssh',
              comment,
              sock,
              a.role,
              a.id,
              end.toISOString(),
              null,
              JSON.stringify({ blob: blob.toString('base64'), publicKey: a.request.sshPublicKey }),
            );
            try {
              await addCertificate(sock, {
                certificate: s.certificate,
                key: sshKey,
                comment,
                lifetimeSeconds: Math.ceil((end.getTime() - now.getTime()) / 1000),
              });
            } catch (e) {
              this.deleteRow({ kind: 'ssh', name: comment, target: sock });
              throw e;
            }
            items.push({ kind: 'ssh', name: comment, where: sock });
          } catch (e) {
            const problem = (e as Error).message;
            report.warnings.push(`${a.role}: SSH certificate not added: ${problem}`);
            if (e instanceof SshAgentError && (e.code === 'no-agent' || e.code === 'agent-unreachable') && !this.demo) {
              // kept, with why: shown on the card and by `pim credentials`, and added as soon as an
              // ssh-agent answers while the role is active (retried on each run)
              upsert.run(
                'ssh',
                comment,
                PENDING_SSH,
                a.role,
                a.id,
                end.toISOString(),
                new Date(now.getTime() + SSH_RETRY_MS).toISOString(),
                JSON.stringify({
                  pending: true,
                  problem,
                  certificate: s.certificate,
                  publicKey: a.request.sshPublicKey,
                }),
              );
              problems.push({ kind: 'ssh', name: comment, problem });
            }
          }
        }
      }
    }

    // gcp, azure: subject tokens renewed like kube tokens (cloud-inject.ts)
    const cloud = {
      credsDir: this.credsDir,
      env: this.env,
      homedir: this.homedir,
      helper,
      role: a.role,
      activation: a.id,
      end,
      now,
      upsert: (kind: 'gcp' | 'azure', name: string, target: string, detail: object) =>
        upsert.run(kind, name, target, a.role, a.id, end.toISOString(), null, JSON.stringify(detail)),
      warn: (m: string) => report.warnings.push(m),
    };
    for (const r of [...injectGcp(issued.gcp ?? [], cloud, first), ...injectAzure(issued.azure ?? [], cloud)]) {
      if (r.item) items.push(r.item);
      renewals.push(renewAt(now, r.expires));
    }

    const renew = renewals.length ? new Date(Math.min(...renewals, end.getTime())) : null;
    upsert.run('activation', a.id, '', a.role, a.id, end.toISOString(), renew ? renew.toISOString() : null, '{}');
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

  /** SSH certificates that found no ssh-agent: added once one answers, while the role is active. */
  private async retryPendingSsh(
    live: Map<string, LiveActivation>,
    now: Date,
    report: ReconcileReport,
    records: JournalRecord[],
  ): Promise<void> {
    const db = this.agent.store.db;
    for (const r of db
      .prepare("SELECT * FROM injections WHERE kind = 'ssh' AND target = ? AND ended_at IS NULL")
      .all(PENDING_SSH) as Row[]) {
      const a = [...live.values()].find((x) => x.id === r.activation);
      if (!a) continue; // ended: teardown takes the row
      const d = JSON.parse(r.detail_json) as { certificate: string; publicKey: string };
      const sshKey = this.loadSshKey(d.publicKey);
      if (!sshKey) continue;
      try {
        const sock = agentSocket(this.env);
        const blob = parseCertificate(d.certificate).blob;
        await addCertificate(sock, {
          certificate: d.certificate,
          key: sshKey,
          comment: r.name,
          lifetimeSeconds: Math.ceil((a.expiresAt.getTime() - now.getTime()) / 1000),
        });
        db.transaction(() => {
          this.deleteRow(r);
          db.prepare(
            'INSERT OR REPLACE INTO injections (kind, name, target, role, activation, expires_at, renew_at, ended_at, detail_json) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)',
          ).run(
            'ssh',
            r.name,
            sock,
            r.role,
            r.activation,
            r.expires_at,
            JSON.stringify({ blob: blob.toString('base64'), publicKey: d.publicKey }),
          );
        })();
        const items: InjectedItem[] = [{ kind: 'ssh', name: r.name, where: sock }];
        report.injected.push({ role: r.role, activation: r.activation, items });
        records.push({
          type: 'credentials-injected',
          data: { activation: r.activation, role: r.role, items, note: 'added once an ssh-agent answered' },
        });
      } catch (e) {
        db.prepare(
          'UPDATE injections SET renew_at = ?, detail_json = ? WHERE kind = ? AND name = ? AND target = ?',
        ).run(
          new Date(now.getTime() + SSH_RETRY_MS).toISOString(),
          JSON.stringify({ ...d, pending: true, problem: (e as Error).message }),
          r.kind,
          r.name,
          r.target,
        );
      }
    }
  }

  private kubeEntriesPresent(file: string, entries: KubeEntry[]): boolean {
    try {
      const have = new Set(listPimEntries(fs.readFileSync(file, 'utf8')));
      return entries.every((e) => have.has(e.name));
    } catch {
      return false;
    }
  }

  private awsProfilePresent(file: string, name: string): boolean {
    try {
      return listPimProfiles(fs.readFileSync(file, 'utf8')).includes(name);
    } catch {
      return false;
    }
  }

  /**
   * `$PIM_HOME/creds/active`: one "role endEpoch" line per active role of this device, for the
   * prompt segment (pim shell-init) to read without starting Node; `creds/trail`: the same for the
   * roles whose policy asks for a session command trail. Nothing secret in either.
   */
  private writeStatusFiles(now: Date, live: Map<string, LiveActivation>): void {
    const lines = (trail: boolean) =>
      [...live.values()]
        .filter((a) => a.expiresAt > now && (!trail || this.agent.role(a.role)?.activation.sessionTrail === true))
        .map((a) => `${a.role} ${Math.floor(a.expiresAt.getTime() / 1000)}\n`)
        .join('');
    for (const [name, text] of [
      ['active', lines(false)],
      ['trail', lines(true)],
    ] as const) {
      const file = path.join(this.credsDir, name);
      if (!text) removeFile(file);
      else {
        ensurePrivateDir(this.credsDir);
        writeFileAtomic(file, text, 0o600);
      }
    }
  }

  /**
   * Moves what shells appended to `creds/trail.spool` into the audit journal (shell-command
   * records). The spool is renamed first, so lines shells write meanwhile go to a new one; a line
   * is kept only for a role with sessionTrail that was active at its time.
   */
  private importTrail(records: JournalRecord[], report: ReconcileReport): void {
    const spool = path.join(this.credsDir, 'trail.spool');
    const taking = path.join(this.credsDir, 'trail.importing');
    try {
      if (!fs.existsSync(taking)) {
        if (!fs.existsSync(spool)) return;
        fs.renameSync(spool, taking);
      }
      const text = fs.readFileSync(taking, 'utf8');
      for (const line of text.split('\n')) {
        const c = parseTrailLine(line);
        if (!c) continue;
        const a = this.activationAt(c.role, c.at);
        if (!a || this.agent.role(c.role)?.activation.sessionTrail !== true) continue;
        records.push({
          type: 'shell-command',
          data: { activation: a, role: c.role, at: c.at.toISOString(), command: c.command },
        });
      }
      this.trailTaken = taking;
    } catch (e) {
      report.warnings.push(`the session trail could not be read: ${(e as Error).message}`);
    }
  }

  private trailTaken: string | null = null;

  /** this device's activation of `role` that was active at `at` */
  private activationAt(role: string, at: Date): string | null {
    const r = this.agent.store.db
      .prepare(
        "SELECT id, request_json FROM activations WHERE role = ? AND starts_at <= ? AND expires_at >= ? AND state IN ('active', 'expired', 'deactivated', 'revoked') ORDER BY expires_at DESC",
      )
      .all(role, at.toISOString(), new Date(at.getTime() - 1000).toISOString()) as {
      id: string;
      request_json: string;
    }[];
    return r[0]?.id ?? null;
  }
}

/** renew at two thirds of a credential's remaining life (a 15-minute token: after 10 minutes) */
function renewAt(now: Date, exp: Date): number {
  return now.getTime() + Math.max(1000, Math.floor(((exp.getTime() - now.getTime()) * 2) / 3));
}

/** Whether our entry `name` in that kubeconfig / AWS config text runs `helper`. */
function usesHelper(text: string, kind: 'kube' | 'aws', name: string, helper: string): boolean {
  if (kind === 'kube') {
    const doc = parseYaml(text) as { users?: { name?: string; user?: { exec?: { command?: string } } }[] } | null;
    return (doc?.users ?? []).some((u) => u?.name === name && u.user?.exec?.command === helper);
  }
  const begin = text.indexOf(`managed profile ${name} `);
  const block = begin < 0 ? '' : text.slice(begin, text.indexOf(`# END PIM Agent managed profile ${name}`, begin));
  return block.split(/\r?\n/).some((l) => /^\s*credential_process\s*=/.test(l) && l.includes(helper));
}

function seedId(publicKey: string): string {
  return crypto.createHash('sha256').update(publicKey).digest('hex').slice(0, 32);
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
}

function safeList(dir: string, kind: CredKind): { name: string }[] {
  try {
    return listCredentials(dir, kind);
  } catch {
    return [];
  }
}

const MAX_TRAIL_COMMAND = 4096;

/** "epoch TAB role TAB encoding TAB command" (shell.ts); null for anything else. */
export function parseTrailLine(line: string): { at: Date; role: string; command: string } | null {
  const m = /^(\d{9,11})\t([a-z0-9][a-z0-9-]{0,62})\t([bu])\t(.*)$/.exec(line);
  if (!m) return null;
  let command: string;
  if (m[3] === 'u') {
    try {
      command = decodeURIComponent(m[4]!);
    } catch {
      return null;
    }
  } else
    command = m[4]!.replace(/\\([\\ntr])/g, (_, c: string) =>
      c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : '\\',
    );
  if (command.trim() === '') return null;
  return {
    at: new Date(Number(m[1]) * 1000),
    role: m[2]!,
    command: command.length > MAX_TRAIL_COMMAND ? `${command.slice(0, MAX_TRAIL_COMMAND)}… (truncated)` : command,
  };
}
