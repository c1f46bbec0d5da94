// ssh: the activation's ephemeral key + certificate in the user's ssh-agent, with a lifetime. Added
// once per activation (the certificate covers the whole window); with no ssh-agent to take it, it is
// kept with why and added as soon as one answers while the role is active.
import fs from 'node:fs';
import path from 'node:path';
import { checkName, removeFile } from '../../platform/fs-safe';
import type { CredentialsStore } from '../store/credentials-store';
import {
  emptyOutcome,
  type CredentialInjector,
  type InjectedItem,
  type InjectJob,
  type InjectOutcome,
  type InjectionRow,
  type JournalRecord,
  type LiveActivation,
  type ReconcileReport,
  type StrayScan,
  type Teardown,
} from './injector';
import { addCertificate, agentSocket, listIdentities, removeIdentity, SshAgentError } from './ssh-agent';
import { parseCertificate } from './ssh-key';
import { loadSshSeed, seedDir, seedFileName } from './ssh-seeds';
import type { CredentialTargets } from './targets';
import { errorMessage } from '../../shared/errors';

/** The target of an SSH certificate no ssh-agent took yet (there is no socket to name). */
export const PENDING_SSH = '(no ssh-agent)';
/** How often a running agent tries again to add such a certificate. */
const SSH_RETRY_MS = 60_000;
const SEED_MAX_AGE_MS = 30 * 60_000;

export class SshInjector implements CredentialInjector {
  readonly kinds = ['ssh'] as const;

  constructor(
    private readonly store: CredentialsStore,
    private readonly targets: CredentialTargets,
    private readonly now: () => Date,
  ) {}

  async inject(job: InjectJob): Promise<InjectOutcome> {
    const out = emptyOutcome();
    const { activation: a, issued, now, end, report } = job;
    if (issued.ssh.length === 0 || !job.first) return out;
    const sshKey = a.request.sshPublicKey ? loadSshSeed(this.targets.credsDir, a.request.sshPublicKey) : null;
    if (!sshKey) {
      report.warnings.push(
        `${a.role}: the SSH key of this request is not on this machine any more; activate again for an SSH certificate`,
      );
      return out;
    }
    for (const s of issued.ssh) {
      const comment = `pim:${checkName(a.role, 'role')}:${a.id}`;
      try {
        if (this.targets.demo)
          throw new SshAgentError(
            'no-agent',
            'the demo keeps its SSH certificates out of your ssh-agent: its CA is not one any real host trusts',
          );
        const sock = agentSocket(this.targets.env);
        const blob = parseCertificate(s.certificate).blob;
        job.record('ssh', comment, sock, { blob: blob.toString('base64'), publicKey: a.request.sshPublicKey });
        try {
          await addCertificate(sock, {
            certificate: s.certificate,
            key: sshKey,
            comment,
            lifetimeSeconds: Math.ceil((end.getTime() - now.getTime()) / 1000),
          });
        } catch (e) {
          this.store.delete({ kind: 'ssh', name: comment, target: sock });
          throw e;
        }
        out.items.push({ kind: 'ssh', name: comment, where: sock });
      } catch (e) {
        const problem = errorMessage(e);
        report.warnings.push(`${a.role}: SSH certificate not added: ${problem}`);
        if (
          e instanceof SshAgentError &&
          (e.code === 'no-agent' || e.code === 'agent-unreachable') &&
          !this.targets.demo
        ) {
          // kept, with why: shown on the card and by `pim credentials`, and added as soon as an
          // ssh-agent answers while the role is active (retried on each run)
          job.record(
            'ssh',
            comment,
            PENDING_SSH,
            { pending: true, problem, certificate: s.certificate, publicKey: a.request.sshPublicKey },
            new Date(now.getTime() + SSH_RETRY_MS),
          );
          out.problems.push({ kind: 'ssh', name: comment, problem });
        }
      }
    }
    return out;
  }

  /** Takes the identity out of the ssh-agent (ours to do: Windows' agent ignores lifetimes), even when
   *  an extension took the role over (it brings its own certificate). */
  async teardown(r: InjectionRow, t: Teardown): Promise<InjectedItem | null> {
    const d = JSON.parse(r.detail_json) as { blob?: string; publicKey?: string };
    try {
      if (d.blob && r.target !== PENDING_SSH) await removeIdentity(r.target, Buffer.from(d.blob, 'base64'));
    } catch (e) {
      // an agent that is gone took the identity with it; one that is there but refuses: say so, retry
      if (!(e instanceof SshAgentError && (e.code === 'agent-unreachable' || e.code === 'no-agent'))) {
        t.report.warnings.push(`could not remove the SSH identity ${r.name} from the ssh-agent: ${errorMessage(e)}`);
        return null;
      }
    }
    if (d.publicKey) removeFile(path.join(seedDir(this.targets.credsDir), seedFileName(d.publicKey)));
    this.store.delete(r);
    return r.target !== PENDING_SSH ? { kind: 'ssh', name: r.name, where: r.target } : null;
  }

  /** Identities of ours in the ssh-agent that no live activation accounts for, and seeds no request
   *  waits for. */
  async removeStrays(scan: StrayScan): Promise<void> {
    const { rows, report, live } = scan;
    const sock = this.targets.env.SSH_AUTH_SOCK;
    if (sock) {
      try {
        const liveBlobs = new Set(
          rows.filter((r) => r.kind === 'ssh').map((r) => (JSON.parse(r.detail_json) as { blob?: string }).blob),
        );
        // only identities of this agent's activations: another PIM home on this machine may share the ssh-agent
        for (const id of await listIdentities(sock)) {
          const activation = id.comment.startsWith('pim:') ? (id.comment.split(':')[2] ?? '') : '';
          if (activation && this.store.knowsActivation(activation) && !liveBlobs.has(id.blob.toString('base64'))) {
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
          report.warnings.push(`could not check the ssh-agent: ${errorMessage(e)}`);
      }
    }
    // seeds: kept while their request can still become active
    const dir = seedDir(this.targets.credsDir);
    if (fs.existsSync(dir)) {
      const wanted = new Set<string>();
      for (const k of this.store.requestedSshKeys()) wanted.add(seedFileName(k));
      for (const a of live.values()) if (a.request.sshPublicKey) wanted.add(seedFileName(a.request.sshPublicKey));
      for (const f of fs.readdirSync(dir)) {
        if (wanted.has(f)) continue;
        const st = fs.lstatSync(path.join(dir, f));
        if (this.now().getTime() - st.mtimeMs > SEED_MAX_AGE_MS || !f.endsWith('.seed')) removeFile(path.join(dir, f));
      }
    }
  }

  /** SSH certificates that found no ssh-agent: added once one answers, while the role is active. */
  async retryPending(
    live: Map<string, LiveActivation>,
    now: Date,
    report: ReconcileReport,
    records: JournalRecord[],
  ): Promise<void> {
    for (const r of this.store.pendingSsh(PENDING_SSH)) {
      const a = [...live.values()].find((x) => x.id === r.activation);
      if (!a) continue; // ended: teardown takes the row
      const d = JSON.parse(r.detail_json) as { certificate: string; publicKey: string };
      const sshKey = loadSshSeed(this.targets.credsDir, d.publicKey);
      if (!sshKey) continue;
      try {
        const sock = agentSocket(this.targets.env);
        const blob = parseCertificate(d.certificate).blob;
        await addCertificate(sock, {
          certificate: d.certificate,
          key: sshKey,
          comment: r.name,
          lifetimeSeconds: Math.ceil((a.expiresAt.getTime() - now.getTime()) / 1000),
        });
        this.store.replace(r, {
          kind: 'ssh',
          name: r.name,
          target: sock,
          role: r.role,
          activation: r.activation,
          expires_at: r.expires_at,
          detail_json: JSON.stringify({ blob: blob.toString('base64'), publicKey: d.publicKey }),
        });
        const items: InjectedItem[] = [{ kind: 'ssh', name: r.name, where: sock }];
        report.injected.push({ role: r.role, activation: r.activation, items });
        records.push({
          type: 'credentials-injected',
          data: { activation: r.activation, role: r.role, items, note: 'added once an ssh-agent answered' },
        });
      } catch (e) {
        this.store.defer(r, new Date(now.getTime() + SSH_RETRY_MS), {
          ...d,
          pending: true,
          problem: errorMessage(e),
        });
      }
    }
  }
}
