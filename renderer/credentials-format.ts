// What an active role put into the user's world (kube contexts, AWS profiles, SSH certificates),
// in words for its card, and how to use it. Pure: no DOM, no React. Names come from the policy
// (role and cluster names): React escapes them, and `displayName` removes what could disguise one.
import type { ActivationView, InjectionView } from '../shared/api';

type Item = InjectionView['items'][number];

// C0/C1 controls, line/paragraph separators, bidi embeddings/overrides/isolates, zero-width
// characters and the BOM: a context or profile name needs none of them
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** A name as shown: unsafe characters removed, whitespace collapsed, at most `max` characters. */
export function displayName(name: string, max = 80): string {
  const s = name.replace(UNSAFE, '').replace(/\s+/g, ' ').trim();
  const chars = Array.from(s);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : s;
}

export interface CredentialLine {
  kind: Item['kind'];
  /** "kube context", "AWS profile", "SSH certificate" */
  label: string;
  /** the context or profile name; null for SSH (the certificate's id says nothing useful) */
  name: string | null;
  /** where it is: "in ssh-agent" for SSH, else null */
  where: string | null;
  /** it could not be put in place (no ssh-agent): why; it is retried while the role is active */
  problem?: string;
}

const ORDER: Record<Item['kind'], number> = { kube: 0, aws: 1, gcp: 2, azure: 3, ssh: 4 };

/** The card's lines: kube contexts, then AWS profiles, then SSH certificates. */
export function credentialLines(items: readonly Item[]): CredentialLine[] {
  return [...items]
    .sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((i): CredentialLine => {
      switch (i.kind) {
        case 'kube':
          return { kind: 'kube', label: 'kube context', name: displayName(i.name), where: null };
        case 'aws':
          return { kind: 'aws', label: 'AWS profile', name: displayName(i.name), where: null };
        case 'gcp':
          return { kind: 'gcp', label: 'gcloud configuration', name: displayName(i.name), where: null };
        case 'azure':
          return { kind: 'azure', label: 'Azure identity', name: displayName(i.name), where: null };
        case 'ssh':
          return i.problem
            ? {
                kind: 'ssh',
                label: 'SSH certificate',
                name: null,
                where: 'not added',
                problem: displayName(i.problem, 400),
              }
            : { kind: 'ssh', label: 'SSH certificate', name: null, where: 'in ssh-agent' };
      }
    });
}

/** "kube context pim-gpu-train--gpu-admin", "AWS profile pim-gpu-admin", "SSH certificate in ssh-agent" */
export function credentialText(l: CredentialLine): string {
  return [l.label, l.name ?? l.where].filter(Boolean).join(' ');
}

/** One line on how to use them: "use it: kubectl --context pim-gpu-train--gpu-admin  /  aws --profile pim-gpu-admin". */
export function credentialHint(items: readonly Item[]): string | null {
  const lines = credentialLines(items);
  const parts: string[] = [];
  const kube = lines.find((l) => l.kind === 'kube');
  const aws = lines.find((l) => l.kind === 'aws');
  if (kube) parts.push(`kubectl --context ${kube.name}`);
  if (aws) parts.push(`aws --profile ${aws.name}`);
  const gcp = lines.find((l) => l.kind === 'gcp');
  if (gcp) parts.push(`gcloud --configuration ${gcp.name}`);
  if (lines.some((l) => l.kind === 'azure')) parts.push('Azure SDKs and az: pim env <role>');
  if (lines.some((l) => l.kind === 'ssh' && !l.problem)) parts.push('ssh (ssh-agent offers the certificate)');
  return parts.length ? `use it: ${parts.join('  /  ')}` : null;
}

/** What was injected for this activation (or, just after an extension, for the role's current
 *  one); null when nothing was, or only tombstones remain. */
export function credentialsFor(a: ActivationView, all: readonly InjectionView[]): InjectionView | null {
  const live = all.filter((c) => c.endedAt === null && c.items.length > 0);
  return (
    live.find((c) => c.activation === a.id) ??
    (a.state === 'active' ? (live.find((c) => c.role === a.role) ?? null) : null)
  );
}
