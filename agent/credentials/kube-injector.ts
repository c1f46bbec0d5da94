// kube: pim-<cluster>--<role> entries in the user's kubeconfig whose exec plugin is the sh helper
// reading a 0600 ExecCredential file that is renewed while the activation lives.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { kubeContextName } from '../../shared/policy/names';
import { checkName, removeFile } from '../../platform/fs-safe';
import { kubeExecCredential, writeCredential } from './cred-helper';
import {
  emptyOutcome,
  ConfigFileInjector,
  type ConfigFileKind,
  renewAt,
  type CredentialInjector,
  type InjectJob,
  type InjectOutcome,
  type InjectionRow,
} from './injector';
import { addKubeEntries, listPimEntries, removeKubeEntries, type KubeEntry } from './kubeconfig';
import { updateKubeconfig } from './kubeconfig-file';

export class KubeInjector extends ConfigFileInjector implements CredentialInjector {
  readonly kinds = ['kube'] as const;

  /** The credential file first (the helper must answer as soon as kubectl can see the context). */
  async inject(job: InjectJob): Promise<InjectOutcome> {
    const out = emptyOutcome();
    const { activation: a, issued, now } = job;
    if (issued.kube.length === 0) return out;
    const file = this.targets.kubeconfigFile();
    const entries: KubeEntry[] = [];
    for (const k of issued.kube) {
      const name = checkName(kubeContextName(k.cluster, a.role), 'kube context name');
      const exp = new Date(k.expiresAt);
      job.record('kube', name, file, {});
      writeCredential(this.targets.credsDir, 'kube', name, kubeExecCredential(k.token, exp), {
        role: a.role,
        activationEnd: job.end,
        credentialExpires: exp,
      });
      entries.push({
        name,
        cluster: k.cluster,
        role: a.role,
        server: k.server,
        certificateAuthorityData: k.certificateAuthorityData,
        command: job.helper,
        args: ['kube', name],
      });
      out.items.push({ kind: 'kube', name, where: file });
      out.renewals.push(renewAt(now, exp));
    }
    if (job.first || !entriesPresent(file, entries)) updateKubeconfig(file, (text) => addKubeEntries(text, entries));
    return out;
  }

  /** our entries in the kubeconfig file */
  protected readonly entries: ConfigFileKind = {
    kind: 'kube',
    file: () => this.targets.kubeconfigFile(),
    list: listPimEntries,
    runsHelper,
    remove: (file, names) =>
      updateKubeconfig(file, (t) => (t === null ? null : removeKubeEntries(t, (n) => names.includes(n)))),
  };

  /** `pim env` context selectors of roles that are no longer injected. */
  removeStaleSelectors(rows: InjectionRow[]): void {
    const envDir = path.join(this.targets.credsDir, 'env');
    if (!fs.existsSync(envDir)) return;
    for (const f of fs.readdirSync(envDir)) {
      const name = f.replace(/\.yaml$/, '');
      if (!rows.some((r) => r.kind === 'kube' && r.name === name && !r.ended_at)) removeFile(path.join(envDir, f));
    }
  }
}

function entriesPresent(file: string, entries: KubeEntry[]): boolean {
  try {
    const have = new Set(listPimEntries(fs.readFileSync(file, 'utf8')));
    return entries.every((e) => have.has(e.name));
  } catch {
    return false;
  }
}

/** Whether our entry `name` in that kubeconfig text runs `helper`. */
function runsHelper(text: string, name: string, helper: string): boolean {
  const doc = parseYaml(text) as { users?: { name?: string; user?: { exec?: { command?: string } } }[] } | null;
  return (doc?.users ?? []).some((u) => u?.name === name && u.user?.exec?.command === helper);
}
