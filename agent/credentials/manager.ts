// Puts an active role's credentials into the user's world and takes them out again (docs/architecture.md, Flows:
// Credential injection and removal). This is the coordinator the agent, the CLI and Electron hold; the work is
// done by pieces that each receive what they use:
//   reconcile.ts        the one loop that injects, renews, tears down and sweeps leftovers;
//   *-injector.ts       one per kind (kube, aws, ssh, gcp/azure): what to write where, how it ends;
//   store/credentials-store.ts   the injections table and the activation reads, as typed methods;
//   issuance-client.ts  the control plane calls; session-trail.ts, status-files.ts; targets.ts (where to).
//
// When a role ends while we run, its kube/AWS helper answers with why ("role X was deactivated at
// …") for a short grace period (PIM_TOMBSTONE_SECONDS, default 600), then the entries go too: a
// terminal still pointed at the context gets a sentence, not "context does not exist".
import path from 'node:path';
import type { InjectionView } from '../../shared/api';
import type { IssuedCredentials } from '../../shared/credentials';
import { checkName, ensurePrivateDir, writeFileAtomic } from '../../platform/fs-safe';
import type { Agent } from '../agent';
import { loadDeviceKey, openKeystore, type DeviceKey } from '../keystore';
import { CredentialsStore } from '../store/credentials-store';
import { AwsInjector } from './aws-injector';
import { CloudInjector } from './cloud-injector';
import { cloudEnv } from './cloud-inject';
import { fetchActivation, fetchIssuedCredentials } from './issuance-client';
import type { ReconcileReport } from './injector';
import { KubeInjector } from './kube-injector';
import { Reconciler } from './reconcile';
import { SessionTrail } from './session-trail';
import { contextFileText, roleEnv } from './shell';
import { SshInjector } from './ssh-injector';
import { newSshSeed } from './ssh-seeds';
import { CredentialTargets } from './targets';

export type { InjectedItem, InjectionKind, ReconcileReport } from './injector';
export { parseTrailLine } from './session-trail';
export { demoTargets, demoUserHome } from './targets';

export interface CredentialManagerOptions {
  env?: NodeJS.ProcessEnv;
  homedir?: string;
  /** how long an ended role's helper keeps explaining itself before its entries are removed */
  graceMs?: number;
  /** stand-in for the control plane call (benchmarks, tests) */
  issue?: (activation: string) => Promise<IssuedCredentials>;
}

export class CredentialManager {
  readonly credsDir: string;
  private readonly targets: CredentialTargets;
  private readonly store: CredentialsStore;
  private readonly reconciler: Reconciler;
  private key: DeviceKey | null = null;
  /** set by the long-running host: one-shot CLI runs may see another environment ($KUBECONFIG…),
   *  which is not a change of configuration */
  journalTargets = false;
  private running: Promise<ReconcileReport> | null = null;

  constructor(
    private readonly agent: Agent,
    opts: CredentialManagerOptions = {},
  ) {
    const baseEnv = opts.env ?? process.env;
    this.targets = new CredentialTargets(agent.home, () => agent.store.connection(), baseEnv, opts.homedir);
    this.credsDir = this.targets.credsDir;
    this.store = new CredentialsStore(agent.store.db);
    const grace = Number(baseEnv.PIM_TOMBSTONE_SECONDS);
    const graceMs = opts.graceMs ?? (Number.isFinite(grace) && grace >= 0 ? grace * 1000 : 600_000);
    const now = () => agent.now();
    const sessionTrail = (role: string) => agent.role(role)?.activation.sessionTrail === true;
    this.reconciler = new Reconciler({
      store: this.store,
      targets: this.targets,
      injectors: {
        kube: new KubeInjector(this.store, this.targets),
        aws: new AwsInjector(this.store, this.targets),
        ssh: new SshInjector(this.store, this.targets, now),
        cloud: new CloudInjector(this.store, this.targets),
      },
      trail: new SessionTrail(this.credsDir, (role, at) => this.store.activationAt(role, at), sessionTrail),
      now,
      graceMs,
      user: () => agent.store.connection()?.user ?? null,
      deviceKey: () => this.deviceKey(),
      issue: (activation, key) => {
        if (opts.issue) return opts.issue(activation);
        const conn = agent.store.connection();
        if (!conn) throw new Error('not connected');
        return fetchIssuedCredentials(conn.server, key, activation);
      },
      refreshActivation: async (id, key) => {
        const conn = agent.store.connection();
        if (!conn) return;
        try {
          agent.store.saveActivation(await fetchActivation(conn.server, key, id), agent.now());
        } catch {
          // offline: the end of the window still ends it locally
        }
      },
      sessionTrail,
      journalTargets: () => this.journalTargets,
      journal: async (records) => {
        const journal = await agent.activeJournal();
        const user = agent.store.connection()?.user ?? null;
        if (journal) journal.write(() => records.forEach((r) => journal.append(r.type, user, r.data)));
      },
    });
  }

  /** A fresh Ed25519 key for a request whose role grants SSH: the seed waits in a 0600 file until
   *  the certificate arrives (and is deleted with the activation). Returns the public key line. */
  newSshKey(): string {
    return newSshSeed(this.credsDir);
  }

  /** The device key, once there is one (an agent enrolled while running finds it on the next run). */
  private async deviceKey(): Promise<DeviceKey | null> {
    if (!this.key) {
      const conn = this.agent.store.connection();
      this.key = conn && !conn.unenrolled ? await loadDeviceKey(openKeystore(this.agent.home, this.targets.env)) : null;
    }
    return this.key;
  }

  /** What is injected now, per activation (for `pim credentials`, `pim env`, the UI). */
  injected(): InjectionView[] {
    return this.agent.store.injections();
  }

  /** Bring the user's world in line with what is live. Single-flight: a call during a run runs
   *  again after it. `offline`: never contact the control plane or STS (start-up sweep). */
  reconcile(opts: { offline?: boolean } = {}): Promise<ReconcileReport> {
    if (this.running) return this.running.then(() => this.reconcile(opts));
    this.running = this.reconciler.run(opts).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** At start-up, before anything else: whatever a crash left behind past its end goes now, with
   *  no grace and no network. */
  sweep(): Promise<ReconcileReport> {
    return this.reconcile({ offline: true });
  }

  /** When the next run is due: a renewal, an end, or a grace period running out. */
  nextWakeAt(): Date | null {
    return this.reconciler.nextWakeAt();
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
      this.store.rows().filter((r) => r.role === role && !r.ended_at && (r.kind === 'gcp' || r.kind === 'azure')),
    );
    const vars = roleEnv({
      awsProfile: aws?.name ?? null,
      contextFile,
      kubeconfig: this.targets.env.KUBECONFIG,
      defaultKubeconfig: path.join(this.targets.homedir, '.kube', 'config'),
    });
    if (this.targets.demo && aws) vars.AWS_CONFIG_FILE = this.targets.awsConfigFile();
    return { ...vars, ...cloud };
  }
}
