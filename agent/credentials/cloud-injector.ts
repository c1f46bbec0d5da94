// gcp and azure (cloud-inject.ts knows what to write where): subject tokens renewed like kube tokens.
// A GCP entry explains itself during the grace period like kube and AWS; a federated Azure token file
// has no way to, so it goes at once.
import { removeRecorded, endWithGrace, type CredentialInjector, type InjectedItem } from './injector';
import type { InjectJob, InjectOutcome, InjectionRow, StrayScan, Teardown } from './injector';
import { emptyOutcome, renewAt } from './injector';
import type { CredentialsStore } from '../store/credentials-store';
import { endCloudEntry, injectAzure, injectGcp, removeCloudEntry, removeCloudStrays } from './cloud-inject';
import { endCredential, removeCredential } from './cred-helper';
import type { CredentialTargets } from './targets';
import { errorMessage } from '../../shared/errors';

export class CloudInjector implements CredentialInjector {
  readonly kinds = ['gcp', 'azure'] as const;

  constructor(
    private readonly store: CredentialsStore,
    private readonly targets: CredentialTargets,
  ) {}

  async inject(job: InjectJob): Promise<InjectOutcome> {
    const out = emptyOutcome();
    const { activation: a, issued, now } = job;
    const cloud = {
      credsDir: this.targets.credsDir,
      env: this.targets.env,
      homedir: this.targets.homedir,
      helper: job.helper,
      role: a.role,
      activation: a.id,
      end: job.end,
      now,
      upsert: (kind: 'gcp' | 'azure', name: string, target: string, detail: object) =>
        job.record(kind, name, target, detail),
      warn: (m: string) => job.report.warnings.push(m),
    };
    for (const r of [...injectGcp(issued.gcp ?? [], cloud, job.first), ...injectAzure(issued.azure ?? [], cloud)]) {
      if (r.item) out.items.push(r.item);
      out.renewals.push(renewAt(now, r.expires));
    }
    return out;
  }

  async teardown(r: InjectionRow, t: Teardown): Promise<InjectedItem | null> {
    const remove = () =>
      removeRecorded(this.store, r, t.report, () => {
        removeCloudEntry(this.targets.credsDir, r);
        if (r.kind !== 'azure') removeCredential(this.targets.credsDir, 'gcp', r.name);
      });
    if (r.kind === 'azure') {
      if (t.superseded) return null;
      remove();
      return r.ended_at ? null : { kind: 'azure', name: r.name, where: r.target };
    }
    return endWithGrace(this.store, r, t, {
      end: () => {
        endCredential(this.targets.credsDir, 'gcp', r.name, t.message);
        try {
          endCloudEntry(r);
        } catch (e) {
          t.report.warnings.push(`could not clear gcloud's cached token for ${r.name}: ${errorMessage(e)}`);
        }
      },
      remove,
    });
  }

  async removeStrays(scan: StrayScan): Promise<void> {
    removeCloudStrays(
      { credsDir: this.targets.credsDir, env: this.targets.env, homedir: this.targets.homedir, known: scan.known },
      scan.report,
    );
  }
}
